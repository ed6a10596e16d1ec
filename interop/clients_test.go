package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

var domains atomic.Int64

// stack is a real redis-server with the suite's flags, `redisflags serve`
// on it, and the Go provider on the same Redis.
type stack struct {
	redis   *redistest.Server
	server  *server
	client  *of.Client // the Go provider's, in snapshot mode
	direct  *of.Client // the Go provider's, with direct reads
	ldTypes map[string]string
}

func startStack(t *testing.T, corsOrigin string) *stack {
	t.Helper()
	rs := redistest.Start(t)
	keys := writeFixture(t, rs)
	srv := startServer(t, serverBinary(t), rs, corsOrigin)
	for _, def := range adminFlags() {
		srv.putFlag(t, def)
		keys = append(keys, def["flagKey"].(string))
	}
	srv.waitForFlags(t, keys)

	_, ldTypes := ldFlags(t)
	return &stack{redis: rs, server: srv, ldTypes: ldTypes,
		client: goClient(t, rs), direct: goClient(t, rs, provider.WithDirectReads())}
}

// goClient starts a Go provider on the Redis and returns an OpenFeature
// client for it, in a domain of its own.
func goClient(t *testing.T, rs *redistest.Server, opts ...provider.Option) *of.Client {
	t.Helper()
	p := provider.New(rs.Client(t), opts...)
	domain := fmt.Sprintf("interop-%d", domains.Add(1))
	if err := of.SetNamedProviderAndWait(domain, p); err != nil {
		t.Fatalf("the Go provider did not start: %v", err)
	}
	t.Cleanup(p.Shutdown)
	return of.NewClient(domain)
}

// nodeAnswers runs clients.mjs over the cases.
func nodeAnswers(t *testing.T, node, baseURL string, cases []tcase) (serverA, webA []answer, webEvents []webEvent) {
	t.Helper()
	in, err := json.Marshal(map[string]any{"baseUrl": baseURL, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(path, in, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runNode(t, node, 5*time.Minute, nil, "clients.mjs", path)
	var res struct {
		Server    []answer   `json:"server"`
		Web       []answer   `json:"web"`
		WebEvents []webEvent `json:"webEvents"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("clients.mjs printed no JSON: %v\n%s", err, out)
	}
	if len(res.Server) != len(cases) || len(res.Web) != len(cases) {
		t.Fatalf("clients.mjs answered %d (server) and %d (web) of %d cases", len(res.Server), len(res.Web), len(cases))
	}
	return res.Server, res.Web, res.WebEvents
}

// webEvent is an ERROR or STALE event of the web provider, after the
// context change of case Case.
type webEvent struct {
	Case    int    `json:"case"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// disagreement is one client answer unlike Go's.
type disagreement struct {
	client string
	tc     tcase
	goA    answer
	js     answer
}

// TestNodeClientsAgreeWithGoProvider is the interop suite: every case
// evaluated by the Go provider and by both npm OFREP clients through
// `redisflags serve`, in the same run, must agree on value, variant,
// reason and error code, except where a client's documented limit
// (clientLimits) says exactly what it sees instead.
func TestNodeClientsAgreeWithGoProvider(t *testing.T) {
	node := nodeBinary(t)
	s := startStack(t, "")
	cases := buildCases(s.ldTypes)

	goA := make([]answer, len(cases))
	var wrong []string
	outcomes := map[string]int{}
	for i, tc := range cases {
		goA[i] = goAnswer(t.Context(), s.client, tc)
		if tc.Want != nil {
			if msg := tc.Want.check(tc, goA[i]); msg != "" {
				wrong = append(wrong, fmt.Sprintf("%s %s %s (%s): %s", tc.Flag, ctxString(tc.Context), tc.Type, tc.Covers, msg))
			}
		}
		if tc.Outcome != "" && goA[i].Outcome != tc.Outcome {
			wrong = append(wrong, fmt.Sprintf("%s %s (%s): Go reports outcome %q (%s), the case is for %q",
				tc.Flag, ctxString(tc.Context), tc.Covers, goA[i].Outcome, goA[i], tc.Outcome))
		}
		if goA[i].Outcome != "" {
			outcomes[goA[i].Outcome]++
		}
		// docs/design.md §8: the same in snapshot mode and direct mode.
		if d := goAnswer(t.Context(), s.direct, tc); !same(goA[i], d) {
			wrong = append(wrong, fmt.Sprintf("%s %s %s (%s): snapshot mode says %s, direct reads say %s",
				tc.Flag, ctxString(tc.Context), tc.Type, tc.Covers, goA[i], d))
		}
	}
	for _, o := range []string{"flag-disabled", "environment-missing", "environment-disabled", "allowlist-user", "allowlist-region", "rollout-hit", "rollout-miss"} {
		if outcomes[o] == 0 {
			wrong = append(wrong, fmt.Sprintf("no case has the tutorial outcome %s", o))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("the Go provider disagrees with docs/design.md on %d cases (or the cases do not cover what they say):\n  %s",
			len(wrong), strings.Join(wrong, "\n  "))
	}

	serverA, webA, webEvents := nodeAnswers(t, node, s.server.URL, cases)
	var bad []disagreement
	used := make([]int, len(clientLimits))
	agreed := map[string]int{}
	for i, tc := range cases {
		for _, c := range []struct {
			name string
			a    answer
		}{{"server", serverA[i]}, {"web", webA[i]}} {
			if c.a.CaseID != tc.ID {
				t.Fatalf("clients.mjs answered case %d in the place of case %d", c.a.CaseID, tc.ID)
			}
			if same(goA[i], c.a) {
				agreed[c.name]++
				continue
			}
			if l := limitFor(c.name, tc, goA[i], c.a); l >= 0 {
				used[l]++
				continue
			}
			bad = append(bad, disagreement{c.name, tc, goA[i], c.a})
		}
	}
	t.Logf("%d cases: server client agrees with Go on %d, web client on %d", len(cases), agreed["server"], agreed["web"])
	for i, l := range clientLimits {
		t.Logf("documented limit %d (%s: %s): %d answers", i, l.Client, l.When, used[i])
	}
	if len(bad) > 0 {
		t.Errorf("%d disagreements with the Go provider (server client %d, web client %d) that README.md does not list as a client's limit:\n%s",
			len(bad), count(bad, "server"), count(bad, "web"), table(bad))
	}
	if len(webEvents) > 0 {
		var b strings.Builder
		for _, e := range webEvents {
			fmt.Fprintf(&b, "\n  after the context of case %d (%s): %s %s", e.Case, ctxString(cases[e.Case].Context), e.Type, e.Message)
		}
		t.Errorf("the web provider reported %d errors while its context changed (a bulk request failed: the page keeps the previous context's values):%s", len(webEvents), b.String())
	}
}

func count(ds []disagreement, client string) int {
	n := 0
	for _, d := range ds {
		if d.client == client {
			n++
		}
	}
	return n
}

// table renders disagreements, grouped by client and flag.
func table(ds []disagreement) string {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].client != ds[j].client {
			return ds[i].client < ds[j].client
		}
		return ds[i].tc.Flag < ds[j].tc.Flag
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s | %-32s | %-7s | %-60s | %-50s | %s\n", "client", "flag", "type", "context", "Go provider", "client")
	for _, d := range ds {
		js := d.js.String()
		if d.js.Message != "" {
			js += fmt.Sprintf(" (%s)", trim(d.js.Message, 80))
		}
		fmt.Fprintf(&b, "%-6s | %-32s | %-7s | %-60s | %-50s | %s\n", d.client, d.tc.Flag, d.tc.Type,
			trim(ctxString(d.tc.Context), 60), d.goA, js)
	}
	return b.String()
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func ctxString(c map[string]any) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// TestReadmeExampleInNode runs the README's Go example ported to
// JavaScript (readme-example.mjs) in both npm clients against `serve`:
// getBooleanValue("checkout-banner") for user-123 in us-west is true, and
// then the payload, "checkout-banner:payload", is the banner.
func TestReadmeExampleInNode(t *testing.T) {
	node := nodeBinary(t)
	rs := redistest.Start(t)
	writeFixture(t, rs)
	srv := startServer(t, serverBinary(t), rs, "")
	out := runNode(t, node, 2*time.Minute, nil, "readme-example.mjs", srv.URL)
	var got map[string]struct {
		On     any `json:"on"`
		Banner any `json:"banner"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("readme-example.mjs printed no JSON: %v\n%s", err, out)
	}
	wantBanner := map[string]any{"title": "Fast checkout"}
	for _, c := range []string{"server", "web"} {
		r, ok := got[c]
		if !ok {
			t.Errorf("%s client: no answer in %s", c, out)
			continue
		}
		if r.On != true {
			t.Errorf("%s client: getBooleanValue(\"checkout-banner\") for user-123 in us-west = %v, want true (as Go's BooleanValue)", c, r.On)
		}
		if !reflect.DeepEqual(r.Banner, wantBanner) {
			t.Errorf("%s client: getObjectValue(\"checkout-banner:payload\") = %v, want %v", c, r.Banner, wantBanner)
		}
	}
}
