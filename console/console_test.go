package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/console"
	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/leakcheck"
	"github.com/redisflags/redisflags/store"
)

// TestMain fails the package when a goroutine outlives the tests: every
// console, provider and browser a test starts is stopped by it.
func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestSignIn_SessionCookieAndSignOut(t *testing.T) {
	h := start(t)
	c := h.client(t)
	res, _ := c.getPage("/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "signed out, the list sends to the login page")
	assert.True(t, strings.HasPrefix(res.Header.Get("Location"), "/login"))

	bad := c.login("alice", "wrong")
	assert.Equal(t, http.StatusUnauthorized, bad.StatusCode)
	assert.Contains(t, bad.Body, "unknown user or wrong password")
	unknown := c.login("mallory", "whatever")
	assert.Equal(t, http.StatusUnauthorized, unknown.StatusCode)

	ok := c.login("alice", password("alice"))
	require.Equal(t, http.StatusSeeOther, ok.StatusCode)
	ck := ok.Header.Get("Set-Cookie")
	assert.Contains(t, ck, "HttpOnly")
	assert.Contains(t, ck, "SameSite=Strict")
	assert.NotContains(t, ck, "Secure", "plain HTTP here; Secure comes with TLS or WithSecureCookies")
	res, page := c.getPage("/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, page, "alice")

	out := c.post("/logout", url.Values{"csrf": {c.csrf}})
	require.Equal(t, http.StatusSeeOther, out.StatusCode)
	res, _ = c.getPage("/")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, "signed out again")
}

func TestSignIn_SecureCookieWhenAsked(t *testing.T) {
	h := start(t, console.WithSecureCookies())
	res := h.client(t).login("alice", password("alice"))
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Contains(t, res.Header.Get("Set-Cookie"), "Secure")
}

func TestSignIn_RateLimited(t *testing.T) {
	h := start(t, console.WithLoginLimit(3, time.Hour))
	c := h.client(t)
	for i := range 3 {
		assert.Equal(t, http.StatusUnauthorized, c.login("bob", "guess-"+strconv.Itoa(i)).StatusCode)
	}
	res := c.login("bob", password("bob"))
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the right password is refused too once the limit is reached")
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
}

func TestViewer_CannotChangeAnything(t *testing.T) {
	h := start(t)
	before := h.put(t, checkout())
	v := h.client(t).signIn("vera")
	_, page := v.getPage("/flags/checkout-banner")
	assert.NotContains(t, page, `name="op" value="toggle"`, "a viewer gets no edit forms")
	assert.NotContains(t, page, "Save production")
	_, list := v.getPage("/")
	assert.NotContains(t, list, `value="toggle"`)

	for _, form := range []url.Values{
		{"op": {"toggle"}, "env": {"production"}, "enabled": {"false"}, "version": {fmt.Sprint(before.Version)}},
		{"op": {"rollout"}, "env": {"production"}, "percent": {"50"}, "version": {fmt.Sprint(before.Version)}},
	} {
		res := v.edit("checkout-banner", form)
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
		assert.Contains(t, res.Body, "viewer")
	}
	del := v.post("/flags/checkout-banner/delete", url.Values{"csrf": {v.csrf}, "confirm": {"checkout-banner"}, "version": {fmt.Sprint(before.Version)}})
	assert.Equal(t, http.StatusForbidden, del.StatusCode)
	cr := v.post("/new", url.Values{"csrf": {v.csrf}, "key": {"sneaky"}})
	assert.Equal(t, http.StatusForbidden, cr.StatusCode)
	assert.Equal(t, before.Version, h.get(t, "checkout-banner").Version, "nothing was written")
	_, err := h.st.Get(context.Background(), "sneaky")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestCSRF_PostWithoutTokenRefused(t *testing.T) {
	h := start(t)
	before := h.put(t, checkout())
	a := h.client(t).signIn("alice")
	form := url.Values{"op": {"toggle"}, "env": {"production"}, "enabled": {"false"}, "version": {fmt.Sprint(before.Version)}}
	res := a.post("/flags/checkout-banner/edit", form)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Contains(t, res.Body, "CSRF")
	form.Set("csrf", "not-the-token")
	assert.Equal(t, http.StatusForbidden, a.post("/flags/checkout-banner/edit", form).StatusCode)
	assert.Equal(t, before.Version, h.get(t, "checkout-banner").Version)
	assert.True(t, h.get(t, "checkout-banner").Environments["production"].Enabled)
	// The same form with the token is made, by alice.
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", form).StatusCode)
	after := h.get(t, "checkout-banner")
	assert.False(t, after.Environments["production"].Enabled)
	entries, err := h.st.Audit(context.Background(), "checkout-banner", 1)
	require.NoError(t, err)
	assert.Equal(t, "alice", entries[0].Actor)
}

func TestAdminToken_ChangesWithoutSession(t *testing.T) {
	h := start(t)
	before := h.put(t, checkout())
	form := url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"50"}, "version": {fmt.Sprint(before.Version)}}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/flags/checkout-banner/edit", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, 50, h.get(t, "checkout-banner").Environments["production"].RolloutPercent)
	entries, err := h.st.Audit(context.Background(), "checkout-banner", 1)
	require.NoError(t, err)
	assert.Equal(t, "admin-token", entries[0].Actor)

	req, _ = http.NewRequest(http.MethodPost, h.srv.URL+"/flags/checkout-banner/edit", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer wrong")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestEdit_InvalidPayloadShowsFieldAndChangesNothing(t *testing.T) {
	h := start(t)
	before := h.put(t, checkout())
	a := h.client(t).signIn("alice")
	res := a.edit("checkout-banner", url.Values{"op": {"env"}, "env": {"production"}, "enabled": {"true"}, "percent": {"25"},
		"value": {`{"title": "Fast checkout",}`}, "users": {"user-123"}, "version": {fmt.Sprint(before.Version)}})
	assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	assert.Contains(t, res.Body, "environments.production.value")
	assert.Contains(t, res.Body, "is not valid JSON")
	assert.Contains(t, res.Body, `{"title": "Fast checkout",}`, "what was typed is shown again")
	after := h.get(t, "checkout-banner")
	assert.Equal(t, before.Version, after.Version)
	assert.Equal(t, 5, after.Environments["production"].RolloutPercent, "the valid fields of the refused form were not written either")

	bad := a.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"101"}, "version": {fmt.Sprint(before.Version)}})
	assert.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode)
	assert.Contains(t, bad.Body, "environments.production.rolloutPercent")

	js := a.edit("checkout-banner", url.Values{"op": {"json"}, "definition": {`{"flagKey":"checkout-banner","defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":"abc"}}}`}, "version": {fmt.Sprint(before.Version)}})
	assert.Equal(t, http.StatusUnprocessableEntity, js.StatusCode)
	assert.Contains(t, js.Body, "environments.production.rolloutPercent")
	assert.Equal(t, before.Version, h.get(t, "checkout-banner").Version)
}

func TestEdit_TwoEditorsConflict(t *testing.T) {
	h := start(t)
	v0 := h.put(t, checkout()).Version
	a := h.client(t).signIn("alice")
	b := h.client(t).signIn("bob")
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"25"}, "version": {fmt.Sprint(v0)}}).StatusCode)
	res := b.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"50"}, "version": {fmt.Sprint(v0)}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	assert.Contains(t, res.Body, "alice", "the second editor sees who changed it")
	assert.Contains(t, res.Body, "environments.production.rolloutPercent")
	f := h.get(t, "checkout-banner")
	assert.Equal(t, 25, f.Environments["production"].RolloutPercent, "the first edit is kept")
	// Nothing is lost: bob's change can be made on top of alice's.
	require.Contains(t, res.Body, `name="percent" value="50"`)
	again := b.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"50"}, "version": {fmt.Sprint(f.Version)}})
	require.Equal(t, http.StatusSeeOther, again.StatusCode)
	assert.Equal(t, 50, h.get(t, "checkout-banner").Environments["production"].RolloutPercent)
}

func TestHistory_ActorDiffAndRevert(t *testing.T) {
	h := start(t)
	first := h.put(t, checkout())
	a := h.client(t).signIn("alice")
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", url.Values{"op": {"env"}, "env": {"production"}, "enabled": {"true"}, "percent": {"75"},
		"value": {`{"title":"Faster"}`}, "users": {"user-123\nuser-9"}, "version": {fmt.Sprint(first.Version)}}).StatusCode)
	_, page := a.getPage("/flags/checkout-banner/history")
	assert.Contains(t, page, `<strong class="actor">alice</strong>`)
	assert.Contains(t, page, "environments.production.rolloutPercent")
	assert.Contains(t, page, "environments.production.value.title")

	entries, err := h.st.Audit(context.Background(), "checkout-banner", 0)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	setup := entries[1]
	cur := h.get(t, "checkout-banner")
	res := a.post("/flags/checkout-banner/revert", url.Values{"csrf": {a.csrf}, "entry": {setup.ID}, "version": {fmt.Sprint(cur.Version)}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	reverted := h.get(t, "checkout-banner")
	assert.Equal(t, withoutTimes(first).Environments, withoutTimes(reverted).Environments, "the earlier definition is back")
	assert.Equal(t, cur.Version+1, reverted.Version)
	entries, err = h.st.Audit(context.Background(), "checkout-banner", 1)
	require.NoError(t, err)
	assert.Equal(t, "alice", entries[0].Actor, "the revert is itself audited")

	// A stale revert (version moved) is a conflict, not an overwrite.
	stale := a.post("/flags/checkout-banner/revert", url.Values{"csrf": {a.csrf}, "entry": {setup.ID}, "version": {fmt.Sprint(cur.Version)}})
	assert.Equal(t, http.StatusConflict, stale.StatusCode)
}

func withoutTimes(f evaluator.Flag) evaluator.Flag {
	f = f.Clone()
	for n, e := range f.Environments {
		e.UpdatedAt = ""
		f.Environments[n] = e
	}
	return f
}

func TestCreateCopyDelete(t *testing.T) {
	h := start(t)
	a := h.client(t).signIn("alice")
	res := a.post("/new", url.Values{"csrf": {a.csrf}, "key": {"new-search"}, "description": {"Search v2"}, "environments": {"production, staging"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	f := h.get(t, "new-search")
	assert.Equal(t, []string{"production", "staging"}, f.EnvironmentNames())
	assert.False(t, f.Environments["production"].Enabled, "a new flag starts off")

	dup := a.post("/new", url.Values{"csrf": {a.csrf}, "key": {"new-search"}})
	assert.Equal(t, http.StatusUnprocessableEntity, dup.StatusCode)
	assert.Contains(t, dup.Body, "exists")
	badKey := a.post("/new", url.Values{"csrf": {a.csrf}, "key": {"bad key!"}})
	assert.Equal(t, http.StatusUnprocessableEntity, badKey.StatusCode)
	assert.Contains(t, badKey.Body, "flagKey")

	require.Equal(t, http.StatusSeeOther, a.post("/flags/new-search/copy", url.Values{"csrf": {a.csrf}, "to": {"new-search-eu"}}).StatusCode)
	cp := h.get(t, "new-search-eu")
	assert.Equal(t, f.Description, cp.Description)

	noConfirm := a.post("/flags/new-search/delete", url.Values{"csrf": {a.csrf}, "version": {fmt.Sprint(f.Version)}})
	assert.Equal(t, http.StatusUnprocessableEntity, noConfirm.StatusCode)
	h.get(t, "new-search")
	require.Equal(t, http.StatusSeeOther, a.post("/flags/new-search/delete", url.Values{"csrf": {a.csrf}, "confirm": {"new-search"}, "version": {fmt.Sprint(f.Version)}}).StatusCode)
	_, err := h.st.Get(context.Background(), "new-search")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestList_PagedAndSearched(t *testing.T) {
	h := start(t, console.WithPageSize(50))
	for i := range 120 {
		f := checkout()
		f.Key = fmt.Sprintf("flag-%03d", i)
		h.put(t, f)
	}
	a := h.client(t).signIn("vera")
	_, p1 := a.getPage("/")
	assert.Contains(t, p1, "flag-000")
	assert.Contains(t, p1, "flag-049")
	assert.NotContains(t, p1, "flag-050")
	assert.Contains(t, p1, "Page 1 of 3")
	_, p3 := a.getPage("/?page=3")
	assert.Contains(t, p3, "flag-119")
	assert.NotContains(t, p3, "flag-069")
	_, q := a.getPage("/?q=flag-11")
	assert.Contains(t, q, "flag-119")
	assert.NotContains(t, q, "flag-000")
	assert.Contains(t, q, "10 of 120")
}

func TestAllowlist_Paged(t *testing.T) {
	h := start(t)
	f := checkout()
	env := f.Environments["production"]
	for i := range 1500 {
		env.AllowlistUsers = append(env.AllowlistUsers, fmt.Sprintf("member-%04d", i))
	}
	f.Environments["production"] = env
	h.put(t, f)
	a := h.client(t).signIn("vera")
	_, p := a.getPage("/flags/checkout-banner/allowlist?env=production&list=users&match=member-0042")
	assert.Contains(t, p, "1501 members")
	assert.Contains(t, p, "member-0042")
	assert.NotContains(t, p, "member-0043")

	ed := h.client(t).signIn("alice")
	v := h.get(t, "checkout-banner").Version
	res := ed.post("/flags/checkout-banner/allowlist", url.Values{"csrf": {ed.csrf}, "version": {fmt.Sprint(v)}, "env": {"production"}, "list": {"users"},
		"add": {"vip-1\nvip-2"}, "remove": {"member-0001"}, "drop": {"member-0042"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	got := h.get(t, "checkout-banner").Environments["production"].AllowlistUsers
	assert.Len(t, got, 1501+2-2)
	assert.Contains(t, got, "vip-2")
	assert.NotContains(t, got, "member-0042")
	entries, err := h.st.Audit(context.Background(), "checkout-banner", 1)
	require.NoError(t, err)
	assert.Equal(t, "alice", entries[0].Actor)
	stale := ed.post("/flags/checkout-banner/allowlist", url.Values{"csrf": {ed.csrf}, "version": {fmt.Sprint(v)}, "env": {"production"}, "list": {"users"}, "add": {"late"}})
	assert.Equal(t, http.StatusConflict, stale.StatusCode)
	assert.Contains(t, stale.Body, "by alice")
	assert.Contains(t, stale.Body, "late", "what was typed is kept")
	assert.NotContains(t, h.get(t, "checkout-banner").Environments["production"].AllowlistUsers, "late")
	viewer := a.post("/flags/checkout-banner/allowlist", url.Values{"csrf": {a.csrf}, "version": {fmt.Sprint(v + 1)}, "env": {"production"}, "list": {"users"}, "add": {"sneaky"}})
	assert.Equal(t, http.StatusForbidden, viewer.StatusCode)
}

func TestLargeAllowlist_NeverLoadedAndKeptByEdits(t *testing.T) {
	h := startWith(t, []store.Option{store.WithLargeSetThreshold(100)})
	f := checkout()
	env := f.Environments["production"]
	for i := range 500 {
		env.AllowlistUsers = append(env.AllowlistUsers, fmt.Sprintf("member-%04d", i))
	}
	f.Environments["production"] = env
	v := h.put(t, f).Version
	a := h.client(t).signIn("alice")
	_, page := a.getPage("/flags/checkout-banner")
	assert.Contains(t, page, "501 users: browse and search")
	assert.NotContains(t, page, "member-0042", "the large allowlist is not on the page")
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", url.Values{"op": {"toggle"}, "env": {"production"}, "enabled": {"false"}, "version": {fmt.Sprint(v)}}).StatusCode)
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", url.Values{"op": {"env"}, "env": {"production"}, "percent": {"10"}, "regions": {"eu-west"}, "version": {fmt.Sprint(v + 1)}}).StatusCode)
	_, page = a.getPage("/flags/checkout-banner")
	def := regexp.MustCompile(`(?s)<textarea id="definition"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
	require.NotNil(t, def)
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", url.Values{"op": {"json"}, "definition": {html.UnescapeString(def[1])}, "version": {fmt.Sprint(v + 2)}}).StatusCode)
	got := h.get(t, "checkout-banner")
	assert.Len(t, got.Environments["production"].AllowlistUsers, 501, "every edit kept the large allowlist")
	assert.False(t, got.Environments["production"].Enabled)
	assert.Equal(t, 10, got.Environments["production"].RolloutPercent)
	assert.Equal(t, []string{"eu-west"}, got.Environments["production"].AllowlistRegions)
}

// TestEvaluateJSON_AgreesWithProvider asks the panel's endpoint for random
// contexts and compares with the provider asked directly.
func TestEvaluateJSON_AgreesWithProvider(t *testing.T) {
	h := start(t)
	f := h.put(t, checkout())
	h.waitVersion(t, f.Key, f.Version)
	a := h.client(t).signIn("vera")
	for i := range 50 {
		subject, region := fmt.Sprintf("user-%d", i*7919), []string{"", "us-west", "eu"}[i%3]
		env := []string{"production", "staging", "missing"}[i%3]
		_, raw := a.getPage("/evaluate.json?" + url.Values{"flag": {f.Key}, "environment": {env}, "subject": {subject}, "region": {region}}.Encode())
		var got struct {
			Value   any    `json:"value"`
			Variant string `json:"variant"`
			Reason  string `json:"reason"`
			Step    string `json:"step"`
			Bucket  int    `json:"bucket"`
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
		fc := map[string]any{"targetingKey": subject, "environment": env}
		if region != "" {
			fc["region"] = region
		}
		want := h.prov.BooleanEvaluation(context.Background(), f.Key, false, fc)
		assert.Equal(t, want.Value, got.Value, subject)
		assert.Equal(t, want.Variant, got.Variant)
		assert.Equal(t, string(want.Reason), got.Reason)
		assert.Equal(t, want.FlagMetadata["evaluationReason"], got.Step)
		res := h.prov.Resolve(context.Background(), f.Key, fc)
		assert.Equal(t, res.Explanation.Bucket, got.Bucket)
		if env == "production" {
			assert.Equal(t, bucket(f.Key, env, subject), got.Bucket, "the flag's sha256 bucket")
		}
	}
}

func TestWriteGuard_RefusesAndWritesNothing(t *testing.T) {
	guarded := errors.New("production needs a change request")
	h := start(t, console.WithWriteGuard(func(_ context.Context, key string, next *evaluator.Flag) error {
		if next == nil || next.Environments["production"].RolloutPercent > 10 {
			return guarded
		}
		return nil
	}))
	v := h.put(t, checkout()).Version
	a := h.client(t).signIn("alice")
	res := a.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"50"}, "version": {fmt.Sprint(v)}})
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Contains(t, res.Body, "production needs a change request")
	del := a.post("/flags/checkout-banner/delete", url.Values{"csrf": {a.csrf}, "confirm": {"checkout-banner"}, "version": {fmt.Sprint(v)}})
	assert.Equal(t, http.StatusForbidden, del.StatusCode)
	assert.Equal(t, v, h.get(t, "checkout-banner").Version)
	require.Equal(t, http.StatusSeeOther, a.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"10"}, "version": {fmt.Sprint(v)}}).StatusCode)
}

func TestParseUsers(t *testing.T) {
	hash, err := console.HashPassword("pw")
	require.NoError(t, err)
	us, err := console.ParseUsers(strings.NewReader("# team\nalice:editor:" + hash + "\n\nvera:viewer:" + hash + "\n"))
	require.NoError(t, err)
	require.Len(t, us, 2)
	assert.Equal(t, console.Editor, us[0].Role)
	for _, tt := range []struct{ name, in, want string }{
		{"no hash", "alice:editor", "line 1"},
		{"bad role", "alice:owner:" + hash, "role"},
		{"not bcrypt", "alice:editor:plaintext", "bcrypt"},
		{"twice", "a:viewer:" + hash + "\na:viewer:" + hash, "twice"},
		{"bad name", "al ice:viewer:" + hash, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := console.ParseUsers(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add("alice:editor:$2a$04$abcdefghijklmnopqrstuu5ZLyL7l0ZyX8CdB1h0m3Ytx3BqW9pXe")
	f.Add("# c\n\nx:viewer:y")
	f.Fuzz(func(t *testing.T, in string) {
		us, err := console.ParseUsers(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range us {
			if u.Name == "" || u.Role < console.Viewer || u.Role > console.Admin {
				t.Fatalf("accepted %+v", u)
			}
		}
	})
}
