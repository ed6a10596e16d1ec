package console_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/redisflags/redisflags/console"
	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// The test accounts; every password is the name reversed.
var testUsers = map[string]console.Role{"alice": console.Editor, "bob": console.Editor, "vera": console.Viewer, "ada": console.Admin}

func password(name string) string {
	r := []rune(name)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r) + "-secret"
}

func users(t testing.TB) []console.User {
	var out []console.User
	for name, role := range testUsers {
		h, err := bcrypt.GenerateFromPassword([]byte(password(name)), bcrypt.MinCost)
		require.NoError(t, err)
		out = append(out, console.User{Name: name, Role: role, Hash: h})
	}
	return out
}

// harness is a console over a real redis-server, with its own provider.
type harness struct {
	rdb  *redis.Client
	st   *store.Store
	prov *provider.Provider
	con  *console.Console
	srv  *httptest.Server
}

const adminToken = "automation-token-123"

func start(t testing.TB, opts ...console.Option) *harness {
	t.Helper()
	return startWith(t, nil, opts...)
}

// startWith is start with the console's store made with stOpts; h.st is
// always a plain store that loads everything.
func startWith(t testing.TB, stOpts []store.Option, opts ...console.Option) *harness {
	t.Helper()
	s := redistest.Start(t)
	rdb := s.Client(t)
	h := &harness{rdb: rdb, st: store.New(rdb)}
	h.prov = provider.New(rdb, provider.WithResyncInterval(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.prov.InitWithContext(ctx, of.EvaluationContext{}))
	opts = append([]console.Option{console.WithUsers(users(t)), console.WithAdminToken(adminToken)}, opts...)
	h.con = console.New(store.New(rdb, stOpts...), h.prov, opts...)
	h.srv = httptest.NewServer(h.con)
	t.Cleanup(func() {
		h.srv.CloseClientConnections()
		_ = h.con.Close()
		h.srv.Close()
		_ = h.prov.ShutdownWithContext(context.Background())
	})
	return h
}

// put stores a definition as the API would.
func (h *harness) put(t testing.TB, f evaluator.Flag) evaluator.Flag {
	t.Helper()
	stored, err := h.st.Upsert(context.Background(), f, store.Actor("setup"))
	require.NoError(t, err)
	return stored
}

func (h *harness) get(t testing.TB, key string) evaluator.Flag {
	t.Helper()
	f, err := h.st.Get(context.Background(), key)
	require.NoError(t, err)
	return f
}

// waitVersion waits until the provider's snapshot has the flag at version.
func (h *harness) waitVersion(t testing.TB, key string, version int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		fc := map[string]any{"targetingKey": "x"}
		b := h.prov.BooleanEvaluation(context.Background(), key, false, fc)
		s := h.prov.StringEvaluation(context.Background(), key, "", fc)
		vb, _ := b.FlagMetadata["version"].(int64)
		vs, _ := s.FlagMetadata["version"].(int64)
		return vb == version || vs == version
	}, 5*time.Second, 10*time.Millisecond)
}

func checkout() evaluator.Flag {
	return evaluator.Flag{Key: "checkout-banner", Description: "The new checkout banner", DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 5, Value: json.RawMessage(`{"title":"Fast checkout"}`), AllowlistUsers: []string{"user-123"}},
			"staging":    {Enabled: true, RolloutPercent: 100},
		}}
}

// client is one person's browser-less session.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	csrf string
}

func (h *harness) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: h.srv.URL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfAttr = regexp.MustCompile(`data-csrf="([^"]*)"`)

func (c *client) login(name, pass string) result {
	c.t.Helper()
	res := c.post("/login", url.Values{"user": {name}, "password": {pass}})
	if res.StatusCode == http.StatusSeeOther {
		_, body := c.getPage("/")
		if m := csrfAttr.FindStringSubmatch(body); m != nil {
			c.csrf = html.UnescapeString(m[1])
		}
	}
	return res
}

func (c *client) signIn(name string) *client {
	c.t.Helper()
	res := c.login(name, password(name))
	require.Equal(c.t, http.StatusSeeOther, res.StatusCode)
	require.NotEmpty(c.t, c.csrf)
	return c
}

func (c *client) getPage(path string) (*http.Response, string) {
	c.t.Helper()
	res, err := c.http.Get(c.base + path)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res, string(b)
}

// result is a response read whole.
type result struct {
	StatusCode int
	Header     http.Header
	// Body is the response body with HTML entities decoded.
	Body string
}

func (c *client) post(path string, form url.Values) result {
	c.t.Helper()
	res, err := c.http.PostForm(c.base+path, form)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return result{StatusCode: res.StatusCode, Header: res.Header, Body: html.UnescapeString(string(b))}
}

// edit posts an edit with the session's CSRF token.
func (c *client) edit(key string, form url.Values) result {
	c.t.Helper()
	form.Set("csrf", c.csrf)
	return c.post("/flags/"+key+"/edit", form)
}
