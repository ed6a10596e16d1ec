package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
)

// releaseFlags are serve's options for release automation (docs/design.md
// §14): the scheduler runs in every replica unless turned off; webhooks
// get the outbox.
type releaseFlags struct {
	hooks       multiFlag
	secret      string
	format      string
	noScheduler bool
	lease       time.Duration
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (r *releaseFlags) register(fs *flag.FlagSet) {
	fs.Var(&r.hooks, "webhook", "post every change, schedule and request event to `NAME=URL` (repeatable)")
	fs.StringVar(&r.secret, "webhook-secret", "", "HMAC-SHA256 signing `secret` of the webhooks; default $REDISFLAGS_WEBHOOK_SECRET")
	fs.StringVar(&r.format, "webhook-format", release.FormatJSON, "webhook body `format`: json or slack")
	fs.BoolVar(&r.noScheduler, "no-scheduler", false, "do not apply scheduled changes nor sync rollouts in this replica")
	fs.DurationVar(&r.lease, "claim-lease", 10*time.Second, "how long a claimed scheduled change is left to this replica before another may apply it")
}

func (r *releaseFlags) webhooks() ([]release.Webhook, error) {
	secret := r.secret
	if secret == "" {
		secret = os.Getenv("REDISFLAGS_WEBHOOK_SECRET")
	}
	if r.format != release.FormatJSON && r.format != release.FormatSlack {
		return nil, fmt.Errorf("--webhook-format: %q is neither json nor slack", r.format)
	}
	var out []release.Webhook
	for _, h := range r.hooks {
		name, raw, ok := strings.Cut(h, "=")
		if !ok || !evaluator.ValidName(name) {
			return nil, fmt.Errorf("--webhook: want NAME=URL with a NAME of letters, digits, '.', '_', '-', got %q", redactURL(h))
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--webhook %s: want an http or https URL", name)
		}
		out = append(out, release.Webhook{Name: name, URL: raw, Secret: release.Secret(secret), Format: r.format})
	}
	if len(out) > 0 && secret == "" {
		return nil, fmt.Errorf("--webhook needs --webhook-secret or $REDISFLAGS_WEBHOOK_SECRET: receivers must be able to verify deliveries")
	}
	return out, nil
}

// redactURL keeps only what precedes a URL's path: webhook URLs may carry
// tokens.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.IndexByte(s[i+3:], '/'); j >= 0 {
			return s[:i+3+j] + "/…"
		}
	}
	return s
}

// start starts the scheduler and the dispatcher; the returned func stops
// both.
func (r *releaseFlags) start(st *store.Store, hooks []release.Webhook, logger *slog.Logger) func() {
	var stops []func()
	if !r.noScheduler {
		s := release.NewScheduler(st, release.WithSchedulerLogger(logger), release.WithClaimLease(r.lease),
			release.WithSchedulerClock(func() time.Time { return now() }))
		s.Start()
		stops = append(stops, s.Close)
		logger.Info("scheduler running")
	}
	if len(hooks) > 0 {
		d := release.NewDispatcher(st, hooks, release.WithDispatcherLogger(logger))
		d.Start()
		stops = append(stops, d.Close)
		for _, h := range hooks {
			logger.Info("webhook", "name", h.Name, "format", h.Format)
		}
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// releaseOptions mounts the release API at /api/release/ behind the admin
// tokens (server.WithAdminRoute, the admin routes' check), with the
// authenticated token's name as the actor, so that four-eyes compares
// identities the tokens prove. Only on an open server (--insecure-no-auth)
// does the X-Actor header name the actor, marked "unauthenticated:".
func releaseOptions(st *store.Store) []server.Option {
	svc := release.NewService(st, func() time.Time { return now() })
	h := release.NewHandler(svc, release.WithActorFunc(func(r *http.Request) (string, bool) {
		if name := server.Identity(r.Context()); name != "" {
			return name, true
		}
		name := strings.TrimSpace(strings.Map(func(c rune) rune {
			if unicode.IsPrint(c) {
				return c
			}
			return -1
		}, r.Header.Get("X-Actor")))
		if len(name) > 64 {
			name = name[:64]
		}
		return "unauthenticated:" + name, name != ""
	}))
	// Admin-route edits of an environment under an approval policy are
	// refused (409), pointing to the release API, which makes them change
	// requests; an emergency off the policy allows passes.
	guard := releaseWriteGuard(svc)
	return []server.Option{
		server.WithAdminRoute("/api/release/", http.StripPrefix("/api/release", h)),
		server.WithWriteGuard(guard),
	}
}

// releaseWriteGuard refuses a write (an admin-route or console edit) that
// changes an environment under an approval policy; the release API makes
// such changes change requests.
func releaseWriteGuard(svc *release.Service) func(ctx context.Context, key string, next *evaluator.Flag) error {
	return func(ctx context.Context, key string, next *evaluator.Flag) error {
		need, err := svc.NeedsRequest(ctx, key, next)
		switch {
		case errors.Is(err, store.ErrCorrupt):
			return nil // the write itself reports or repairs it
		case err != nil:
			return fmt.Errorf("read its approval policy: %w", err)
		case need:
			return fmt.Errorf("an environment it changes requires approval; PUT or DELETE /api/release/flags/%s makes a change request", key)
		}
		return nil
	}
}
