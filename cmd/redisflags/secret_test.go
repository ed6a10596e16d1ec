package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

// A mistyped option prints usage; the defaults taken from the environment
// are never in it (before: `(default "redis://:supersecret@…")`,
// `(default "topsecrettoken")`).
func TestAttackUsageNeverShowsSecretsFromTheEnvironment(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://:supersecret@127.0.0.1:1/0")
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "topsecrettoken")
	for _, args := range [][]string{
		{"serve", "--no-such-option"},
		{"flags", "list", "--no-such-option"},
		{"import", "--no-such-option"},
		{"copy", "--no-such-option"},
		{"serve", "-h"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			stdout, stderr, err := runCLI(t, args...)
			require.Error(t, err)
			out := stdout + stderr
			assert.NotContains(t, out, "supersecret")
			assert.NotContains(t, out, "topsecrettoken")
			assert.Contains(t, out, "(from $REDIS_URL)")
			if args[0] == "serve" {
				assert.Contains(t, out, "(from $REDISFLAGS_ADMIN_TOKEN)")
			}
		})
	}
}

// A URL that does not parse is named without its password (before: the
// parse error echoed it).
func TestAttackRedisURLErrorsRedactThePassword(t *testing.T) {
	for _, u := range []string{
		"redis://:supersecret@127.0.0.1:notaport/0",
		"redis://user:supersecret@[::1/0",
		"redis://:super%zzsecret@host/0",
		"http://:supersecret@host/0",
	} {
		t.Run(u, func(t *testing.T) {
			_, stderr, err := runCLI(t, "flags", "list", "--redis-url", u)
			require.Error(t, err)
			assert.NotContains(t, err.Error()+stderr, "supersecret")
			assert.NotContains(t, err.Error()+stderr, "secret")
			assert.Contains(t, err.Error(), "--redis-url")
		})
	}
}

func TestSecretFormatsRedacted(t *testing.T) {
	u := secret{value: "redis://alice:supersecret@host:6379/0", url: true}
	tok := secret{value: "topsecrettoken"}
	for _, verb := range []string{"%v", "%s", "%q", "%+v", "%#v"} {
		assert.NotContains(t, fmt.Sprintf(verb, u), "supersecret", verb)
		assert.NotContains(t, fmt.Sprintf(verb, &u), "supersecret", verb)
		assert.NotContains(t, fmt.Sprintf(verb, tok), "topsecret", verb)
	}
	assert.Equal(t, "redis://alice:xxxxx@host:6379/0", fmt.Sprint(u))
	assert.Equal(t, "[redacted]", fmt.Sprint(tok))
	assert.Equal(t, "redis://alice:supersecret@host:6379/0", u.reveal())
}

func TestPasswordNeededSaysSoAndHow(t *testing.T) {
	srv := redistest.Start(t)
	require.NoError(t, srv.Client(t).ConfigSet(t.Context(), "requirepass", "s3cret-pw").Err())
	_, _, err := runCLI(t, "flags", "list", "--redis-url", "redis://"+srv.Addr()+"/0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "needs a password")
	assert.Contains(t, err.Error(), "REDIS_URL")
	_, _, err = runCLI(t, "flags", "list", "--redis-url", "redis://:wrong-pw@"+srv.Addr()+"/0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused the user or password")
	assert.NotContains(t, err.Error(), "wrong-pw")
	stdout, _, err := runCLI(t, "flags", "list", "--redis-url", "redis://:s3cret-pw@"+srv.Addr()+"/0")
	require.NoError(t, err, stdout)
}

// FuzzRedactURL: whatever the URL, neither its redacted form nor a scrubbed
// error repeating it shows the password.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"redis://:pw@h:1/0", "rediss://u:pw@h", "redis://u:p@w@h/0", "redis://:pw@[::1/0", "x", "redis://h/0?password=pw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		s := secret{value: u, url: true}
		pw := urlPassword(u)
		red := fmt.Sprint(s)
		err := scrub(fmt.Errorf("parse %q: bad %s", u, u), s)
		if len(pw) >= 4 {
			if strings.Contains(red, pw) {
				t.Fatalf("redacted %q shows the password %q", red, pw)
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("scrubbed error %q shows the password %q", err, pw)
			}
		}
	})
}

func TestNewcomerCommands(t *testing.T) {
	stdout, _, err := runCLI(t, "--version")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(stdout, "redisflags "), stdout)
	stdout, _, err = runCLI(t, "flags", "--help")
	require.NoError(t, err)
	assert.Contains(t, stdout, "flags delete KEY")

	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	_, _, err = runCLI(t, "flags", "set", "doomed", "--env", "production", "--enabled")
	require.NoError(t, err)
	_, _, err = runCLI(t, "flags", "delete", "doomed", "--if-version", "7")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `delete flag "doomed": stored version is 1, not 7`)
}
