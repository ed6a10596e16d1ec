package importer_test

import (
	"errors"
	"fmt"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

func ExampleImportFlagd() {
	data := []byte(`{"flags": {"checkout": {
		"state": "ENABLED",
		"variants": {"old": "classic", "new": "fast"},
		"defaultVariant": "old",
		"targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "new", null]}}}}`)
	flags, err := importer.ImportFlagd(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := evaluator.Compile(flags[0])
	staff := c.Evaluate(evaluator.Input{Environment: "production",
		Attributes: evaluator.MapAttributes{"email": "ann@example.com"}})
	guest := c.Evaluate(evaluator.Input{Environment: "production"})
	fmt.Println(staff.Variant, staff.Outcome)
	fmt.Println(guest.Variant, guest.Outcome)
	// Output:
	// new rule-match
	// old default
}

func ExampleError() {
	data := []byte(`{"flags": {"late": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
		"targeting": {"if": [{">": [{"var": "$flagd.timestamp"}, {"var": "deadline"}]}, "b"]}}}}`)
	_, err := importer.ImportFlagd(data)
	var ie *importer.Error
	if errors.As(err, &ie) {
		p := ie.Problems[0]
		fmt.Println(p.Flag, p.Operator, errors.Is(err, importer.ErrUnsupported))
	}
	// Output:
	// late > true
}

func ExampleExport() {
	flags, _ := importer.ImportSpec([]byte(`{"banner": {"variants": {"on": true, "off": false}, "defaultVariant": "off"}}`))
	out, _ := importer.Export(flags)
	back, _ := importer.ImportNative(out)
	fmt.Println(back[0].Key, back[0].DefaultVariant)
	// Output:
	// banner off
}
