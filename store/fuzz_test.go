package store

import (
	"errors"
	"testing"

	"github.com/redisflags/redisflags/evaluator"
)

// FuzzDecode feeds arbitrary bytes into every stored field: decoding must
// return a flag or a *DecodeError, never panic.
func FuzzDecode(f *testing.F) {
	f.Add("true", "1", "true", "25", `{"a":1}`, "user-1", "prod")
	f.Add("false", "", "yes", "abc", `{`, "", "")
	f.Add("", "-1", "", "101", "null", "\x00", "a:b")
	f.Fuzz(func(t *testing.T, defaultEnabled, version, enabled, percent, value, user, env string) {
		raw := rawFlag{
			key:  "f",
			hash: map[string]string{"defaultEnabled": defaultEnabled, "version": version},
			envs: map[string]rawEnv{env: {
				hash:  map[string]string{"enabled": enabled, "rolloutPercent": percent, "value": value},
				users: []string{user},
			}},
		}
		fl, err := raw.decode()
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Flag != "f" || de.Field == "" {
				t.Fatalf("error is not a *DecodeError naming flag and field: %v", err)
			}
			return
		}
		if fl.Environments[env].RolloutPercent < 0 || fl.Environments[env].RolloutPercent > 100 {
			t.Fatalf("percent out of range accepted: %q", percent)
		}
		_ = raw.fingerprint()
	})
}

// FuzzDecodeRich feeds arbitrary text into the rich fields of a stored flag
// (what a hand-written HSET may leave there): decoding must return a flag
// or a *DecodeError naming the flag and a field, never panic, and a flag it
// returns must compile, as the provider compiles it next.
func FuzzDecodeRich(f *testing.F) {
	f.Add(`{"a":1,"b":"x"}`, "a", `[{"conditions":[{"attribute":"email","op":"endsWith","values":["@x.io"]}],"variant":"b"}]`,
		`{"weights":[{"variant":"a","weight":50},{"variant":"b","weight":50}]}`, "", "", "")
	f.Add(`{"0":true,"1":false}`, "0", `[{"cel":"plan == 'pro'","variant":"1"}]`, "", `[{"key":"p","variant":"0"}]`,
		`[{"values":["u1"],"variant":"1"}]`, "launchdarkly")
	f.Add(`{"a":1}`, "zz", `[{"conditions":[{"attribute":"v","op":"matches","values":["(["]}],"variant":"a"}]`,
		`{"weights":[{"variant":"a","weight":101}]}`, `{`, `null`, "md5")
	f.Add(`null`, "", `{}`, `[]`, `[{"key":"self","variant":"a"}]`, `[{"contextKind":"org","values":[],"variant":"a"}]`, "murmur3-flagd")
	f.Fuzz(func(t *testing.T, variants, defaultVariant, rules, split, prerequisites, targets, bucketing string) {
		hash := map[string]string{"defaultEnabled": "true", "variants": variants, "defaultVariant": defaultVariant,
			"rules": rules, "split": split, "prerequisites": prerequisites, "targets": targets, "bucketing": bucketing}
		for k, v := range hash {
			if v == "" {
				delete(hash, k)
			}
		}
		raw := rawFlag{key: "f", hash: hash, envs: map[string]rawEnv{"production": {hash: map[string]string{"enabled": "true"}}}}
		fl, err := raw.decode()
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Flag != "f" || de.Field == "" {
				t.Fatalf("error is not a *DecodeError naming flag and field: %v", err)
			}
			return
		}
		c, err := evaluator.Compile(fl)
		if err != nil {
			t.Fatalf("decoded flag does not compile: %v", err)
		}
		_ = c.Evaluate(evaluator.Input{Environment: "production", Subject: "u1",
			Attributes: evaluator.MapAttributes{"email": "a@x.io", "plan": "pro", "v": "1.2.3"}})
	})
}
