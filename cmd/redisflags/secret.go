package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// secret is a string that must never be printed: a Redis URL (which may
// carry a password) or a token. It is a flag.Value whose String is empty, so
// usage never shows a default taken from the environment (the usage text
// says "(from $ENV)" instead), and whatever formats it with fmt (%v, %s, %q,
// %#v) gets its redacted form: a URL without its password, a token as
// "[redacted]". Use reveal to get the value itself, only where it is used.
type secret struct {
	value string
	url   bool // a URL: redacted by its password only
}

var _ flag.Value = (*secret)(nil)

// String returns "": a secret has no printable default.
func (s *secret) String() string { return "" }

// Set sets the value (from the command line).
func (s *secret) Set(v string) error { s.value = v; return nil }

// reveal returns the secret itself.
func (s *secret) reveal() string { return s.value }

// Format writes the redacted form, whatever the verb.
func (s secret) Format(f fmt.State, verb rune) {
	r := s.redacted()
	if verb == 'q' {
		r = fmt.Sprintf("%q", r)
	}
	_, _ = f.Write([]byte(r))
}

func (s secret) redacted() string {
	switch {
	case s.value == "":
		return ""
	case s.url:
		return redactPassword(s.value)
	}
	return "[redacted]"
}

// redactPassword returns u with any password replaced by "xxxxx"; a URL that
// does not parse is reduced to its scheme, so that nothing of what follows
// it (where a password would be) is shown.
func redactPassword(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		if i := strings.Index(u, "://"); i >= 0 {
			return u[:i+3] + "…"
		}
		return "…"
	}
	if pw, _ := p.User.Password(); pw != "" && strings.Contains(p.Redacted(), pw) {
		// The mask and its neighbours spell the password ("redis://u:xxxx@h"
		// redacts to "…u:xxxxx@h"): show the scheme only.
		return p.Scheme + "://…"
	}
	return p.Redacted()
}

// scrub removes a secret's value, and a URL's password, from err's text:
// parse errors of the standard library and go-redis repeat the URL they
// failed on.
func scrub(err error, s secret) error {
	if err == nil || s.value == "" {
		return err
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, s.value, s.redacted())
	if pw := urlPassword(s.value); pw != "" {
		msg = strings.ReplaceAll(msg, pw, maskFor(pw))
	}
	return errors.New(msg)
}

// maskFor returns five of a character that pw does not contain: with such a
// mask no occurrence of pw can remain after every one is replaced (one that
// overlapped a mask would contain its character), whereas "xxxxx" beside
// "/u:" spells the password "/u:x" again.
func maskFor(pw string) string {
	if !strings.Contains(pw, "x") {
		return "xxxxx"
	}
	for c := byte('!'); c <= '~'; c++ {
		if strings.IndexByte(pw, c) < 0 {
			return strings.Repeat(string(c), 5)
		}
	}
	return "[redacted]"
}

// urlPassword finds the password of a URL: the parser's, or, for one that
// does not parse, what lies between "user:" and the last "@" of the
// authority.
func urlPassword(u string) string {
	if p, err := url.Parse(u); err == nil {
		pw, _ := p.User.Password()
		return pw
	}
	rest, ok := strings.CutPrefix(u[strings.Index(u, "://")+1:], "//")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 && !strings.Contains(rest[i:], "@") {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return ""
	}
	return pw
}

// secretVar registers a secret flag whose default comes from the
// environment variable env; the usage says where the default comes from,
// never what it is.
func secretVar(fs *flag.FlagSet, s *secret, name, env, usage string) {
	s.value = os.Getenv(env)
	if s.value != "" {
		usage += " (from $" + env + ")"
	} else {
		usage += " (default $" + env + ", unset)"
	}
	fs.Var(s, name, usage)
}
