package store

import (
	"errors"
	"testing"
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
