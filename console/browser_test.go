package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium (a fresh profile, no network beyond
// loopback use) and returns a parent context for its sessions. It skips
// without Chromium, and fails instead when REDISFLAGS_REQUIRE_BROWSER=1.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			if os.Getenv("REDISFLAGS_REQUIRE_BROWSER") == "1" {
				t.Fatalf("chromium not found (%s) and REDISFLAGS_REQUIRE_BROWSER=1", chromiumPath)
			}
			t.Skipf("chromium not found at %s: skipping the browser tests", chromiumPath)
		}
		path = p
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	root, cancelRoot := chromedp.NewContext(alloc)
	require.NoError(t, chromedp.Do(root), "start chromium")
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return root
}

// session is one person's browser context (own cookies), signed in.
func (h *harness) session(t *testing.T, root context.Context, name string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(h.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password(name)),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".who")),
	), "sign in as %s", name)
	return ctx
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return s
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// waitJS waits (15 s at most) until a JavaScript expression is truthy,
// across the page loads a form post makes.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool]("!!("+expr+")")(ctx, tg)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("waited 15 s for %s (last error: %v)", expr, err)
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// setValue replaces a field's value as typing would (an input event
// follows, for the page's script).
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(value)
	q, _ := json.Marshal(sel)
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s;
		el.dispatchEvent(new Event("input", {bubbles: true})); })()`, q, js))
}

// watcher is an independent Go application's provider on the same Redis.
func (h *harness) watcher(t *testing.T) *provider.Provider {
	t.Helper()
	p := provider.New(h.rdb, provider.WithResyncInterval(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.InitWithContext(ctx, of.EvaluationContext{}))
	t.Cleanup(func() { _ = p.ShutdownWithContext(context.Background()) })
	return p
}

func bucket(flag, env, subject string) int {
	sum := sha256.Sum256([]byte(flag + ":" + env + ":" + subject))
	return int(binary.BigEndian.Uint32(sum[:4]) % 100)
}

func TestBrowser(t *testing.T) {
	root := browser(t)

	t.Run("sign in, and sign out", func(t *testing.T) {
		h := start(t)
		h.put(t, checkout())
		ctx := h.session(t, root, "alice")
		assert.Contains(t, text(t, ctx, ".who"), "alice")
		assert.Contains(t, text(t, ctx, "#main"), "checkout-banner")
		do(t, ctx, chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#password")))
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"), chromedp.WaitVisible(chromedp.CSS("#password")))
	})

	t.Run("kill switch reaches a Go provider within 1 s", func(t *testing.T) {
		h := start(t)
		f := h.put(t, checkout())
		app := h.watcher(t)
		in := of.FlattenedContext{"targetingKey": "user-123"}
		require.True(t, app.BooleanEvaluation(context.Background(), f.Key, false, in).Value)
		ctx := h.session(t, root, "alice")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"), chromedp.WaitVisible(chromedp.CSS("#kill-production")))
		// The click is dispatched by script, so that the time measured starts
		// at the click itself, not at chromedp's look-up of the button.
		clicked := time.Now()
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("kill-production").click()`))
		var off time.Duration
		require.Eventually(t, func() bool {
			if app.BooleanEvaluation(context.Background(), f.Key, true, in).Value {
				return false
			}
			off = time.Since(clicked)
			return true
		}, 5*time.Second, 5*time.Millisecond)
		t.Logf("the provider served the kill switch %v after the click", off)
		assert.LessOrEqual(t, off, time.Second)
		do(t, ctx, waitJS(`location.search.includes("done=saved")`))
		assert.Contains(t, text(t, ctx, "#kill-production"), "Off")
		assert.False(t, h.get(t, f.Key).Environments["production"].Enabled)
	})

	t.Run("rollout at 25 % matches sha256 buckets for 1000 subjects", func(t *testing.T) {
		h := start(t)
		f := checkout()
		env := f.Environments["production"]
		env.AllowlistUsers, env.RolloutPercent = nil, 1
		f.Environments["production"] = env
		f = h.put(t, f)
		app := h.watcher(t)
		ctx := h.session(t, root, "alice")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"),
			chromedp.Click(chromedp.CSS(`button[data-step="production-5"]`)), waitJS(`location.search.includes("done=saved")`),
			chromedp.Click(chromedp.CSS(`button[data-step="production-25"]`)), waitJS(`document.querySelector('.steps strong').textContent === "25 %"`))
		stored := h.get(t, f.Key)
		require.Equal(t, 25, stored.Environments["production"].RolloutPercent)
		require.Eventually(t, func() bool {
			v, _ := app.BooleanEvaluation(context.Background(), f.Key, false, of.FlattenedContext{"targetingKey": "u"}).FlagMetadata["version"].(int64)
			return v == stored.Version
		}, 5*time.Second, 10*time.Millisecond)
		on := 0
		for i := range 1000 {
			subject := "subject-" + strconv.Itoa(i)
			want := bucket(f.Key, "production", subject) < 25
			got := app.BooleanEvaluation(context.Background(), f.Key, !want, of.FlattenedContext{"targetingKey": subject}).Value
			require.Equal(t, want, got, subject)
			if got {
				on++
			}
		}
		t.Logf("%d of 1000 subjects on at 25 %%", on)
		assert.InDelta(t, 250, on, 60)
	})

	t.Run("two editors: the second gets the conflict, the first edit is kept", func(t *testing.T) {
		h := start(t)
		h.put(t, checkout())
		alice := h.session(t, root, "alice")
		bob := h.session(t, root, "bob")
		page := h.srv.URL + "/flags/checkout-banner"
		do(t, alice, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#kill-production")))
		do(t, bob, chromedp.Navigate(page), waitJS(`document.body.dataset.liveOpen === "1"`),
			chromedp.Click(chromedp.CSS("#env-production summary")),
			setValue("#percent-production", "100"))
		do(t, alice, chromedp.Click(chromedp.CSS(`button[data-step="production-50"]`)), waitJS(`location.search.includes("done=saved")`))
		// Bob was typing: his page says so instead of reloading under him.
		do(t, bob, waitJS(`!document.getElementById("live").hidden`))
		do(t, bob, chromedp.Click(chromedp.CSS("#form-env-production button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#conflict")))
		body := text(t, bob, "#main")
		assert.Contains(t, body, "alice")
		assert.Contains(t, body, "environments.production.rolloutPercent")
		assert.Equal(t, 50, h.get(t, "checkout-banner").Environments["production"].RolloutPercent, "alice's edit is kept")
		// Nothing lost: bob applies his change on top.
		do(t, bob, chromedp.Click(chromedp.CSS("#apply-mine")), waitJS(`location.search.includes("done=saved")`))
		assert.Equal(t, 100, h.get(t, "checkout-banner").Environments["production"].RolloutPercent)
	})

	t.Run("a viewer cannot change anything, in the UI or by a direct POST", func(t *testing.T) {
		h := start(t)
		before := h.put(t, checkout())
		ctx := h.session(t, root, "vera")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"), chromedp.WaitVisible(chromedp.CSS("h1")))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[method=post][action^="/flags/"] button[type=submit], form[action="/new"], button.step, #kill-production, textarea:not([disabled]):not([readonly]), input[name=percent]:not([disabled])').length`))
		require.NoError(t, err)
		assert.Zero(t, n, "no edit form, switch or rollout button")
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/flags/checkout-banner/edit", {method: "POST",
			headers: {"Content-Type": "application/x-www-form-urlencoded"},
			body: new URLSearchParams({csrf: document.body.dataset.csrf, op: "toggle", env: "production", enabled: "false", version: "%d"})}).then(r => r.status)`, before.Version),
			chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		assert.Equal(t, 403, status)
		assert.Equal(t, before.Version, h.get(t, "checkout-banner").Version)
	})

	t.Run("a POST without the CSRF token is refused", func(t *testing.T) {
		h := start(t)
		before := h.put(t, checkout())
		ctx := h.session(t, root, "alice")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"), chromedp.WaitVisible(chromedp.CSS("h1")))
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/flags/checkout-banner/edit", {method: "POST",
			headers: {"Content-Type": "application/x-www-form-urlencoded"},
			body: new URLSearchParams({op: "toggle", env: "production", enabled: "false", version: "%d"})}).then(r => r.status)`, before.Version),
			chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		assert.Equal(t, 403, status)
		assert.True(t, h.get(t, "checkout-banner").Environments["production"].Enabled)
		assert.Equal(t, before.Version, h.get(t, "checkout-banner").Version)
	})

	t.Run("invalid payload JSON shows the field's error and Redis is unchanged", func(t *testing.T) {
		h := start(t)
		before := h.put(t, checkout())
		ctx := h.session(t, root, "alice")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"),
			chromedp.Click(chromedp.CSS("#env-production summary")),
			setValue("#value-production", `{"title": "Fast checkout",}`),
			chromedp.Click(chromedp.CSS("#form-env-production button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#err-value-production")))
		assert.Contains(t, text(t, ctx, "#err-value-production"), "not valid JSON")
		// The server refuses it too (a browser without the script).
		do(t, ctx, chromedp.RemoveAttribute(chromedp.CSS("#value-production"), "data-json"),
			chromedp.Click(chromedp.CSS("#form-env-production button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#page-error")))
		assert.Contains(t, text(t, ctx, "#page-error"), "environments.production.value")
		assert.Contains(t, text(t, ctx, "#err-value-production"), "not valid JSON")
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#value-production")))
		require.NoError(t, err)
		assert.Equal(t, `{"title": "Fast checkout",}`, v, "what was typed is kept")
		after := h.get(t, "checkout-banner")
		assert.Equal(t, before.Version, after.Version)
		assert.JSONEq(t, `{"title":"Fast checkout"}`, string(after.Environments["production"].Value))
	})

	t.Run("history shows the actor, and a revert restores the earlier definition", func(t *testing.T) {
		h := start(t)
		first := h.put(t, checkout())
		ctx := h.session(t, root, "alice")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"),
			chromedp.Click(chromedp.CSS(`button[data-step="production-50"]`)), waitJS(`location.search.includes("done=saved")`),
			chromedp.Click(chromedp.CSS("#kill-staging")), waitJS(`document.querySelector("#kill-staging").textContent.includes("Off")`),
			chromedp.Navigate(h.srv.URL+"/flags/checkout-banner/history"), chromedp.WaitVisible(chromedp.CSS(".history")))
		actors, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".actor")].map(e => e.textContent)`))
		require.NoError(t, err)
		assert.Equal(t, []string{"alice", "alice", "setup"}, actors)
		assert.Contains(t, text(t, ctx, ".history"), "environments.production.rolloutPercent")
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
			chromedp.Click(chromedp.CSS(".history li:last-child button.revert")),
			waitJS(`location.search.includes("done=reverted")`))
		got := h.get(t, "checkout-banner")
		assert.Equal(t, withoutTimes(first).Environments, withoutTimes(got).Environments)
		actors, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".actor")].map(e => e.textContent)`))
		require.NoError(t, err)
		assert.Equal(t, "alice", actors[0], "the revert is in the history, by alice")
	})

	t.Run("who gets what agrees with the provider for 200 random contexts", func(t *testing.T) {
		h := start(t)
		f := checkout()
		env := f.Environments["production"]
		env.RolloutPercent, env.AllowlistRegions = 40, []string{"eu-west"}
		f.Environments["production"] = env
		f = h.put(t, f)
		variant := h.put(t, evaluator.Flag{Key: "pricing-page", DefaultEnabled: true,
			Environments:   map[string]evaluator.Environment{"production": {Enabled: true}},
			Variants:       map[string]json.RawMessage{"control": json.RawMessage(`"classic"`), "treatment": json.RawMessage(`"new"`)},
			DefaultVariant: "control",
			Split:          &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "control", Weight: 50}, {Variant: "treatment", Weight: 50}}}})
		app := h.watcher(t)
		h.waitVersion(t, f.Key, f.Version)
		// A variant flag's resolution carries no version: wait until both
		// providers serve it.
		require.Eventually(t, func() bool {
			fc := of.FlattenedContext{"targetingKey": "x"}
			return app.StringEvaluation(context.Background(), variant.Key, "", fc).Variant != "" &&
				h.prov.StringEvaluation(context.Background(), variant.Key, "", fc).Variant != ""
		}, 5*time.Second, 10*time.Millisecond)
		rng := rand.New(rand.NewPCG(1, 2))
		type q struct{ Flag, Environment, Subject, Region string }
		var qs []q
		for range 200 {
			qs = append(qs, q{
				Flag:        []string{f.Key, variant.Key}[rng.IntN(2)],
				Environment: []string{"production", "staging", "qa"}[rng.IntN(3)],
				Subject:     []string{"user-123", "user-" + strconv.Itoa(rng.IntN(100000)), ""}[rng.IntN(3)],
				Region:      []string{"", "eu-west", "us-east"}[rng.IntN(3)],
			})
		}
		js, _ := json.Marshal(qs)
		ctx := h.session(t, root, "vera")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/evaluate"), chromedp.WaitVisible(chromedp.CSS("#evaluate-form")))
		type ans struct{ Value, Variant, Reason, Step, Bucket string }
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]ans](`(async (qs) => {
			const out = [], box = document.getElementById("answer"), form = document.getElementById("evaluate-form");
			const set = (id, v) => { document.getElementById(id).value = v; };
			for (const q of qs) {
				const seq = Number(box.dataset.seq);
				set("ev-flag", q.Flag); set("ev-env", q.Environment); set("ev-subject", q.Subject); set("ev-region", q.Region);
				form.requestSubmit();
				while (Number(box.dataset.seq) === seq) { await new Promise(r => setTimeout(r, 5)); }
				const t = id => (document.getElementById(id) || {textContent: ""}).textContent;
				out.push({Value: t("a-value"), Variant: t("a-variant"), Reason: t("a-reason"), Step: t("a-step"), Bucket: t("a-bucket")});
			}
			return out;
		})(`+string(js)+`)`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		require.Len(t, got, len(qs))
		for i, q := range qs {
			fc := of.FlattenedContext{"environment": q.Environment}
			if q.Subject != "" {
				fc["targetingKey"] = q.Subject
			}
			if q.Region != "" {
				fc["region"] = q.Region
			}
			// The typed resolution an application makes …
			var d of.ProviderResolutionDetail
			var value any
			if q.Flag == variant.Key {
				r := app.StringEvaluation(context.Background(), q.Flag, "", fc)
				value, d = r.Value, r.ProviderResolutionDetail
			} else {
				r := app.BooleanEvaluation(context.Background(), q.Flag, false, fc)
				value, d = r.Value, r.ProviderResolutionDetail
			}
			// … and the provider's explanation of it.
			res := app.Resolve(context.Background(), q.Flag, fc)
			wantValue, _ := json.Marshal(value)
			if d.ResolutionError != (of.ResolutionError{}) || (q.Flag == variant.Key && d.Variant == "") {
				wantValue = []byte("null") // the caller's default
			}
			wantBucket := "none"
			if res.Explanation.Bucket >= 0 {
				wantBucket = fmt.Sprintf("%d (%s)", res.Explanation.Bucket, res.Explanation.Scheme)
			}
			want := ans{Value: string(wantValue), Variant: d.Variant, Reason: string(d.Reason), Step: res.Explanation.Outcome, Bucket: wantBucket}
			assert.Equal(t, want, got[i], "context %d: %+v", i, q)
			if q.Flag == f.Key && q.Environment == "production" && q.Subject != "" {
				assert.Equal(t, fmt.Sprintf("%d (sha256)", bucket(f.Key, "production", q.Subject)), got[i].Bucket)
			}
		}
	})

	t.Run("changes by others appear without reloading", func(t *testing.T) {
		h := start(t)
		f := h.put(t, checkout())
		ctx := h.session(t, root, "vera")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/flags/checkout-banner"), waitJS(`document.body.dataset.liveOpen === "1"`),
			chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
		next := f.Clone()
		env := next.Environments["production"]
		env.RolloutPercent = 50
		next.Environments["production"] = env
		h.put(t, next)
		do(t, ctx, waitJS(`document.querySelector(".steps strong").textContent === "50 %"`))
		same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameDocument === true`))
		require.NoError(t, err)
		assert.True(t, same, "the page updated in place, without a reload")
		do(t, ctx, chromedp.Navigate(h.srv.URL+"/"), waitJS(`document.body.dataset.liveOpen === "1"`))
		next = h.get(t, f.Key)
		env = next.Environments["production"]
		env.Enabled = false
		next.Environments["production"] = env
		h.put(t, next)
		do(t, ctx, waitJS(`document.querySelector("#flag-checkout-banner .state").textContent === "off"`))
	})

	t.Run("usable at phone width", func(t *testing.T) {
		h := start(t)
		h.put(t, checkout())
		ctx := h.session(t, root, "alice")
		for _, path := range []string{"/", "/flags/checkout-banner", "/flags/checkout-banner/history", "/evaluate?flag=checkout-banner&subject=user-123"} {
			do(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(h.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
			over, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
			require.NoError(t, err)
			assert.False(t, over, "%s scrolls sideways at 390 px", path)
		}
		// Keyboard: the first Tab reaches the skip link, which is visible when focused.
		do(t, ctx, chromedp.KeyEvent("\t"))
		focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className + ":" + getComputedStyle(document.activeElement).outlineStyle`))
		require.NoError(t, err)
		assert.Equal(t, "skip:solid", focused)
	})

	t.Run("screenshots", func(t *testing.T) {
		if os.Getenv("REDISFLAGS_SCREENSHOTS") == "" {
			t.Skip("set REDISFLAGS_SCREENSHOTS=1 to write docs/console-*.png")
		}
		h := start(t)
		seedDemo(t, h)
		ctx := h.session(t, root, "alice")
		shots := map[string]string{
			"list":     "/",
			"flag":     "/flags/checkout-banner",
			"history":  "/flags/checkout-banner/history",
			"evaluate": "/evaluate?flag=checkout-banner&environment=production&subject=user-42&region=eu-west",
		}
		for name, path := range shots {
			do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "console-"+name+".png"), png, 0o644))
		}
	})
}
