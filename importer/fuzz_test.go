package importer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

// checkImported: whatever an importer accepts must be valid definitions
// that compile.
func checkImported(t *testing.T, flags []evaluator.Flag, err error) {
	if err != nil {
		if flags != nil {
			t.Fatalf("an error with flags: %v", err)
		}
		return
	}
	for _, f := range flags {
		if _, cerr := evaluator.Compile(f); cerr != nil {
			t.Fatalf("imported flag %q does not compile: %v", f.Key, cerr)
		}
	}
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzImportFlagd(f *testing.F) {
	addSeeds(f,
		`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a"}}}`,
		`{"flags": {"f": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
			"targeting": {"if": [{"and": [{"==": [{"var": "x"}, 1]}, {"!": {"in": ["@x", {"var": "e"}]}}]}, "b",
				{"<": [1, {"var": "n"}, 5]}, {"fractional": [{"var": "id"}, ["a", 1], ["b", 3]]}, null]}}}}`,
		`{"flags": {"f": {"state": "DISABLED", "variants": {"a": 1}, "defaultVariant": "a",
			"targeting": {"if": [{"sem_ver": [{"var": "v"}, "^", "1.2.3"]}, "a", {"$ref": "r"}]}}}, "$evaluators": {"r": {"$ref": "r"}}}`,
		`{"flags": {"f": {"variants": {"a": 1}, "defaultVariant": "a", "targeting": {"if": [{"starts_with": [{"var": "$flagd.flagKey"}, "f"]}, "a"]}}}, "metadata": {"x": 1}}`,
		`{"flags": {"f": {"variants": {"true": 1, "false": 0}, "defaultVariant": "true", "targeting": {"if": [{"!==": [{"var": "b"}, null]}, true, false]}}}}`,
		`{"flags": {}}`, `{}`, `[]`, `null`, ``,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		flags, err := importer.ImportFlagd(data)
		checkImported(t, flags, err)
	})
}

func FuzzImportSpec(f *testing.F) {
	addSeeds(f,
		`{"f": {"variants": {"on": true, "off": false}, "defaultVariant": "on", "flagMetadata": null}}`,
		`{"f": {"disabled": true, "variants": {"a": 1}, "defaultVariant": "a", "flagMetadata": {"s": "1.0", "n": 2, "b": true, "x": 0.1}}}`,
		`{"f": {"variants": {"zero": 0, "one": 1}, "defaultVariant": "zero", "contextEvaluator": "email == 'a' ? 'one' : ''"}}`,
		`{"f": {"variants": {"a": 1}}}`, `{}`, `[]`, `null`, ``,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		flags, err := importer.ImportSpec(data)
		checkImported(t, flags, err)
	})
}

func FuzzImportNative(f *testing.F) {
	addSeeds(f,
		`[{"flagKey": "a", "defaultEnabled": true, "environments": {"p": {"enabled": true, "rolloutPercent": 5}}}]`,
		`{"flags": [{"flagKey": "a", "environments": {}}]}`,
		`{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "rules": [{"conditions": [{"attribute": "a", "op": "in", "values": [1, "b"]}], "variant": "x"}]}`,
		`[]`, `{}`, ``,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		flags, err := importer.ImportNative(data)
		checkImported(t, flags, err)
		if err == nil {
			out, xerr := importer.Export(flags)
			if xerr != nil {
				t.Fatalf("export: %v", xerr)
			}
			if _, rerr := importer.ImportNative(out); rerr != nil {
				t.Fatalf("export does not import back: %v\n%s", rerr, out)
			}
		}
	})
}

func FuzzImportLaunchDarkly(f *testing.F) {
	addSeeds(f,
		`{"flags": {"f": {"key": "f", "on": true, "variations": [true, false], "offVariation": 1, "fallthrough": {"variation": 0}}}}`,
		`{"flags": {"f": {"key": "f", "on": true, "salt": "s", "variations": ["a", "b"],
			"targets": [{"values": ["u1"], "variation": 1}], "contextTargets": [{"contextKind": "org", "values": ["o1"], "variation": 0}],
			"rules": [{"id": "r", "clauses": [{"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@x.io"], "negate": true}], "variation": 1}],
			"fallthrough": {"rollout": {"bucketBy": "email", "seed": 7, "variations": [{"variation": 0, "weight": 60000}, {"variation": 1, "weight": 40000}]}}}}}`,
		`{"flags": {"p": {"key": "p", "on": true, "variations": [1, 2], "prerequisites": [{"key": "q", "variation": 0}], "fallthrough": {"variation": 1}},
			"q": {"key": "q", "on": false, "variations": [1, 2], "offVariation": 0, "prerequisites": [{"key": "p", "variation": 0}]}}}`,
		`{"flags": {"s": {"key": "s", "on": true, "variations": [{}, {"a": 1}],
			"rules": [{"clauses": [{"attribute": "segmentMatch", "op": "segmentMatch", "values": ["g"]}], "variation": 1}], "fallthrough": {"variation": 0}}},
		  "segments": {"g": {"key": "g", "included": ["u1"], "excluded": ["u2"], "rules": [{"clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}], "weight": 50000}]}}}`,
		`{"flagValues": {"v": "x", "n": 1}}`,
		`{"flags": {"big": {"key": "big", "on": true, "variations": [true]}}, "segments": {"u": {"key": "u", "unbounded": true}}}`,
		`{"flags": {}}`, `{}`, `[]`, `null`, ``,
		// Malformed flags (imported with markers, or whole).
		`{"flags": {"m": {"key": "m", "on": true, "variations": ["a", "b"], "offVariation": 7,
			"targets": [{"values": ["u1"], "variation": -1}, {"values": ["u2"]}],
			"rules": [{"clauses": [{"contextKind": "user", "attribute": "plan", "op": "in", "values": ["pro"]}, {"contextKind": "user", "attribute": "///", "op": "in", "values": ["x"]}], "variation": 1},
			          {"clauses": [{"op": "in", "values": [""]}], "variation": 0},
			          {"clauses": [{"contextKind": "bad kind", "attribute": "key", "op": "in", "values": ["u1"]}], "variation": 0},
			          {"clauses": []}],
			"fallthrough": {"rollout": {"contextKind": "user", "bucketBy": "/a~", "variations": [{"variation": 5, "weight": 100000}]}}},
			"n": {"key": "n", "on": true, "variations": [1, 2], "fallthrough": {"rollout": {"variations": [{"variation": 9, "weight": -5}, {"weight": 50000}]}}},
			"e": {"key": "e", "on": true, "variations": [1], "rules": [{"rollout": {"variations": []}, "clauses": []}]},
			"w": {"key": "w", "on": "yes", "variations": {"a": 1}, "salt": 5},
			"k": {"key": "other", "on": false, "variations": [true], "fallthrough": {}},
			"p": {"key": "p", "on": true, "variations": [1, 2], "prerequisites": [{"key": "m", "variation": -1}, {"key": "p"}], "fallthrough": {"variation": 0}}}}`,
	)
	inputs := []evaluator.Input{
		{},
		{Subject: "u1"},
		{Subject: "u2", Attributes: evaluator.MapAttributes{"key": "u2", "plan": "pro", "email": "a@x.io"}},
		{Subject: "o1", Attributes: evaluator.MapAttributes{"kind": "multi", "org": map[string]any{"key": "o1"}, "user": map[string]any{"key": "u1", "plan": "pro"}}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := importer.LaunchDarkly(data)
		if err != nil {
			if res != nil && res.Flags != nil {
				t.Fatalf("an error with flags: %v", err)
			}
			// A malformed flag never fails the import: what does is the
			// file's shape, a key in both flags and flagValues, or
			// something unsupported.
			var ie *importer.Error
			if errors.As(err, &ie) {
				for _, p := range ie.Problems {
					if p.Flag != "" && !p.Unsupported && !strings.Contains(p.Message, "is also defined in flags") {
						t.Fatalf("a flag's problem failed the import: %v", p)
					}
				}
			}
			return
		}
		checkImported(t, res.Flags, nil)
		warned := map[string]bool{}
		for _, w := range res.Warnings {
			if w.Flag == "" || w.Message == "" {
				t.Fatalf("a warning without its flag or message: %+v", w)
			}
			warned[w.Flag] = true
		}
		for _, fl := range res.Flags {
			if warned[fl.Key] != (len(fl.Malformed) > 0) {
				t.Fatalf("flag %q: warned %v, Malformed %q", fl.Key, warned[fl.Key], fl.Malformed)
			}
			c, err := evaluator.Compile(fl)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range inputs {
				r := c.Evaluate(in)
				if (r.Err == evaluator.Malformed || r.Err == evaluator.MalformedCondition) && len(fl.Malformed) == 0 {
					t.Fatalf("flag %q without malformed parts answered %v", fl.Key, r.Err)
				}
			}
		}
	})
}
