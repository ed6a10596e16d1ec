package interop

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// clientLimit is a disagreement with the Go provider that a client cannot
// avoid, whatever the server sends. It is the only kind of disagreement
// TestNodeClientsAgreeWithGoProvider accepts, and README.md lists every
// one (TestReadmeListsClientLimits): no silent allowances.
type clientLimit struct {
	// Client is "server" (@openfeature/server-sdk + ofrep-provider),
	// "web" (@openfeature/web-sdk + ofrep-web-provider) or "both".
	Client string
	// When says, for the README, which Go answers it concerns.
	When string
	// Sees says, for the README, what the client's caller gets instead.
	Sees string
	// Why is the client's code that makes it so.
	Why string
	// applies reports whether the limit concerns the case and Go's answer.
	applies func(tc tcase, goA answer) bool
	// sees reports whether the client's answer is exactly what Sees says.
	sees func(tc tcase, goA, js answer) bool
}

// clientLimits are the clients' documented limits.
var clientLimits = []clientLimit{
	{
		Client: "server",
		When:   "the caller's default without an error (a flag that is off, a payload that is absent, a variant flag disabled without an off variant)",
		Sees:   "the caller's default, reason `ERROR`, error code `GENERAL`",
		Why: "@openfeature/ofrep-provider 0.1.3 (the newest on npm) refuses a 200 answer without `value` as an unexpected response, " +
			"and it cannot be given a value it would pass on as the default: it checks `typeof value` against the default's",
		applies: func(tc tcase, goA answer) bool {
			return !tc.Switch && goA.Code == "" && reflect.DeepEqual(normal(goA.Value), normal(tc.Default))
		},
		sees: func(tc tcase, _, js answer) bool {
			return reflect.DeepEqual(normal(js.Value), normal(tc.Default)) && js.Reason == "ERROR" && js.Code == "GENERAL" && js.Variant == ""
		},
	},
	{
		Client: "web",
		When:   "`INVALID_CONTEXT` for a flag that does not exist (Go checks the context first)",
		Sees:   "`FLAG_NOT_FOUND`, the caller's default, reason `ERROR`",
		Why: "the web provider answers from its bulk evaluation, which lists the flags that exist; " +
			"for any other key it says `FLAG_NOT_FOUND`, whatever the context",
		applies: func(tc tcase, goA answer) bool {
			return tc.Missing && goA.Code == "INVALID_CONTEXT"
		},
		sees: func(tc tcase, _, js answer) bool {
			return reflect.DeepEqual(normal(js.Value), normal(tc.Default)) && js.Reason == "ERROR" && js.Code == "FLAG_NOT_FOUND" && js.Variant == ""
		},
	},
	{
		Client: "both",
		When:   "`TYPE_MISMATCH` for a whole number (`IntValue`) asked of a fraction",
		Sees:   "the fraction, with the flag's variant and reason: JavaScript has one number type (`getNumberValue`)",
		Why:    "OpenFeature's JavaScript SDKs have no integer type to refuse a fraction with",
		applies: func(tc tcase, goA answer) bool {
			return tc.Type == "integer" && goA.Code == "TYPE_MISMATCH"
		},
		sees: func(_ tcase, _, js answer) bool {
			f, ok := js.Value.(float64)
			return ok && js.Code == "" && f != math.Trunc(f)
		},
	},
}

// limitFor returns the index of the limit that accepts the client's
// disagreement, or -1.
func limitFor(client string, tc tcase, goA, js answer) int {
	for i, l := range clientLimits {
		if (l.Client == client || l.Client == "both") && l.applies(tc, goA) && l.sees(tc, goA, js) {
			return i
		}
	}
	return -1
}

// limitsMarkdown is the README's table of the clients' limits.
func limitsMarkdown() string {
	var b strings.Builder
	b.WriteString("| client | where Go answers | the client's caller gets | because |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	names := map[string]string{
		"server": "server (`@openfeature/server-sdk` + `@openfeature/ofrep-provider`)",
		"web":    "web (`@openfeature/web-sdk` + `@openfeature/ofrep-web-provider`)",
		"both":   "both",
	}
	for _, l := range clientLimits {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", names[l.Client], l.When, l.Sees, l.Why)
	}
	return b.String()
}

// TestReadmeListsClientLimits checks that README.md shows clientLimits as
// they are, so that every disagreement the suite accepts is documented.
func TestReadmeListsClientLimits(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), limitsMarkdown()) {
		t.Fatalf("README.md does not show the clients' limits as interop/limits_test.go has them; it should contain:\n\n%s", limitsMarkdown())
	}
}
