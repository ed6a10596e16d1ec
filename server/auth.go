package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
)

// Authentication (docs/design.md §9): Bearer tokens, each with a name.
// The name is the identity writes are audited under — the admin token
// proves access and, named, who it is; a caller's X-Actor header is never
// the actor. Admin tokens open the admin routes (and those mounted with
// WithAdminRoute); read tokens, when any are set, are needed (or an admin
// token) to read definitions (GET /api/flags/{key}) and to ask the
// evaluate route, whose answers tell allowlist membership.

// Token is a named Bearer token.
type Token struct {
	// Name is the identity the token stands for ("alice", "ci"): the actor
	// of the writes made with it.
	Name string
	// Secret is the token itself.
	Secret string
}

type tokenDigest struct {
	name string
	sum  [sha256.Size]byte
}

func digests(tokens []Token) []tokenDigest {
	out := make([]tokenDigest, 0, len(tokens))
	for _, t := range tokens {
		if t.Secret == "" {
			continue
		}
		name := t.Name
		if name == "" {
			name = "admin"
		}
		out = append(out, tokenDigest{name: printable(name, 64), sum: sha256.Sum256([]byte(t.Secret))})
	}
	return out
}

// WithAdminTokens makes the admin routes require one of tokens as
// "Authorization: Bearer …"; writes are audited under the token's name.
// Default none: the admin routes are open (serve refuses that unless told
// --insecure-no-auth).
func WithAdminTokens(tokens ...Token) Option {
	return func(c *config) { c.adminTokens = append(c.adminTokens, tokens...) }
}

// WithAdminToken is WithAdminTokens with one token named "admin".
func WithAdminToken(token string) Option {
	return WithAdminTokens(Token{Name: "admin", Secret: token})
}

// WithReadTokens protects reads of definitions: GET /api/flags/{key} and
// GET /api/flags/{key}/evaluate then need one of tokens or an admin token.
// OFREP evaluation is not affected.
func WithReadTokens(tokens ...Token) Option {
	return func(c *config) { c.readTokens = append(c.readTokens, tokens...) }
}

// WithAdminRoute mounts h at pattern behind the admin tokens, like the
// admin routes; [Identity] tells h who called.
func WithAdminRoute(pattern string, h http.Handler) Option {
	return func(c *config) { c.routes = append(c.routes, route{pattern: pattern, handler: h, admin: true}) }
}

type identityKey struct{}

// Identity returns the name of the token that authenticated the request
// (from an admin route), or "" when the routes are open.
func Identity(ctx context.Context) string {
	s, _ := ctx.Value(identityKey{}).(string)
	return s
}

// bearer returns the request's Bearer token; the scheme's name is
// case-insensitive (RFC 7235).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// match returns the name of the token that matches got. Every token is
// compared (SHA-256 digests, in constant time), so neither which token
// matched nor the tokens' content or length leaks through timing.
func match(got string, tokens []tokenDigest) (string, bool) {
	sum := sha256.Sum256([]byte(got))
	name, found := "", false
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			name, found = t.name, true
		}
	}
	return name, found
}

// guard wraps h so that it needs one of tokens (of the admin tokens too,
// for reads); what names the routes and kind the token in the 401s.
func (s *Server) guard(tokens []tokenDigest, what, kind string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="redisflags"`)
			writeError(w, http.StatusUnauthorized, "%s needs the header Authorization: Bearer <%s token>", what, kind)
			return
		}
		name, ok := match(got, tokens)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="redisflags", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "the %s token is wrong", kind)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, name)))
	})
}

// isAdmin reports whether r carries an admin token (never, when there are
// none: an open server authenticates nobody).
func (s *Server) isAdmin(r *http.Request) bool {
	got, ok := bearer(r)
	if !ok || len(s.adminTokens) == 0 {
		return false
	}
	_, ok = match(got, s.adminTokens)
	return ok
}

// admin guards an admin handler; open when there are no admin tokens.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	if len(s.adminTokens) == 0 {
		return h
	}
	return s.guard(s.adminTokens, "the admin API", "admin", h).ServeHTTP
}

// reader guards a definition read when read tokens are set.
func (s *Server) reader(h http.HandlerFunc) http.HandlerFunc {
	if len(s.readTokens) == 0 {
		return h
	}
	return s.guard(append(append([]tokenDigest(nil), s.readTokens...), s.adminTokens...), "reading flag definitions", "read or admin", h).ServeHTTP
}

// actor names who makes a write through HTTP: the authenticated token's
// name and the client's address. Only on an open server (no admin tokens)
// is the caller's X-Actor header used, marked as unauthenticated.
func actor(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if name := Identity(r.Context()); name != "" {
		return "http:" + name + "@" + host
	}
	name := printable(r.Header.Get("X-Actor"), 64)
	if name == "" {
		name = "anonymous"
	}
	return fmt.Sprintf("http:unauthenticated:%s@%s", name, host)
}

// printable keeps s's printable characters, trimmed, at most n bytes.
func printable(s string, n int) string {
	s = strings.TrimSpace(strings.Map(func(c rune) rune {
		if unicode.IsPrint(c) {
			return c
		}
		return -1
	}, s))
	return shorten(s, n)
}

// WithAllowedHosts makes the server answer only requests whose Host (its
// name, without the port; case-insensitive) is one of hosts: others get
// 421 Misdirected Request. It defeats DNS rebinding, where a web page's
// own name is pointed at a server on the visitor's loopback. Default: any
// Host.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) {
		for _, h := range hosts {
			c.allowedHosts = append(c.allowedHosts, strings.ToLower(strings.Trim(h, "[]")))
		}
	}
}

// checkHost answers 421 to a request for a Host not allowed.
func (s *Server) checkHost(next http.Handler) http.Handler {
	if len(s.cfg.allowedHosts) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		for _, a := range s.cfg.allowedHosts {
			if host == a {
				next.ServeHTTP(w, r)
				return
			}
		}
		writeError(w, http.StatusMisdirectedRequest, "this server does not answer for the host %q (serve --allowed-host names the hosts it does)", shorten(r.Host, 64))
	})
}
