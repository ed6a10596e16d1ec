package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/redisflags/redisflags/server"
)

// adminTokens are serve's admin tokens: --admin-token (named "admin") and
// --admin-tokens "NAME=TOKEN,…". Errors name the entry, never a token.
func adminTokens(single, named string) ([]server.Token, error) {
	var out []server.Token
	if single != "" {
		out = append(out, server.Token{Name: "admin", Secret: single})
	}
	if named == "" {
		return out, nil
	}
	seen := map[string]bool{}
	for i, part := range strings.Split(named, ",") {
		name, tok, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		switch {
		case !ok || name == "" || tok == "":
			return nil, fmt.Errorf("--admin-tokens / $REDISFLAGS_ADMIN_TOKENS: entry %d is not NAME=TOKEN", i+1)
		case seen[name]:
			return nil, fmt.Errorf("--admin-tokens / $REDISFLAGS_ADMIN_TOKENS: the name %q is given twice", name)
		case len(tok) < 16:
			return nil, fmt.Errorf("--admin-tokens / $REDISFLAGS_ADMIN_TOKENS: the token of %q is shorter than 16 characters", name)
		}
		seen[name] = true
		out = append(out, server.Token{Name: name, Secret: tok})
	}
	return out, nil
}

// consoleToken is the token the console accepts at sign-in: the single
// admin token, or the first named one.
func consoleToken(single string, admins []server.Token) string {
	if single != "" || len(admins) == 0 {
		return single
	}
	return admins[0].Secret
}

// hostCheck returns the Host names serve answers (nil: any). A server on a
// loopback address, or an open one, answers only loopback names, its own
// address and --allowed-host: a web page whose name a rebinding DNS points
// at 127.0.0.1 is refused. --allowed-host alone also turns the check on.
func hostCheck(addr string, open bool, allowed []string) ([]string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback && !open && len(allowed) == 0 {
		return nil, nil
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, allowed...)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		hosts = append(hosts, host)
	}
	return hosts, nil
}
