// Command quickstart shows redisflags end to end: it writes the tutorial's
// checkout-banner flag to Redis through the store, registers the OpenFeature
// provider, and evaluates the flag for a handful of subjects and regions.
//
// With no REDIS_URL it starts an embedded Redis (miniredis) and needs
// nothing installed:
//
//	go run ./examples/quickstart
//	REDIS_URL=redis://localhost:6379/0 go run ./examples/quickstart
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/alicebob/miniredis/v2"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

func main() {
	if err := run(context.Background(), os.Getenv("REDIS_URL"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, redisURL string, out io.Writer) error {
	var rdb *redis.Client
	if redisURL == "" {
		m, err := miniredis.Run()
		if err != nil {
			return fmt.Errorf("start embedded Redis: %w", err)
		}
		defer m.Close()
		rdb = redis.NewClient(&redis.Options{Addr: m.Addr()})
		fmt.Fprintf(out, "No REDIS_URL: using an embedded Redis (miniredis) at %s; nothing is kept.\n\n", m.Addr())
	} else {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		rdb = redis.NewClient(opts)
		fmt.Fprintf(out, "Using the Redis at REDIS_URL (%s); the flag is written under the prefix feature-flags.\n\n", opts.Addr)
	}
	defer rdb.Close()

	// The tutorial's example flag: on for user-123, for us-west, and for a
	// quarter of everyone else.
	flag := evaluator.Flag{
		Key:            "checkout-banner",
		Description:    "Show the fast-checkout banner",
		DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{
			"production": {
				Enabled:          true,
				RolloutPercent:   25,
				Value:            json.RawMessage(`{"title":"Fast checkout","color":"green"}`),
				AllowlistUsers:   []string{"user-123"},
				AllowlistRegions: []string{"us-west"},
			},
			"staging": {Enabled: false},
		},
	}
	st := store.New(rdb)
	// In a real Redis the flag may be someone's: it is written only when
	// absent (or with QUICKSTART_OVERWRITE=1); otherwise the stored one is
	// evaluated.
	var opts []store.WriteOption
	if redisURL != "" && os.Getenv("QUICKSTART_OVERWRITE") != "1" {
		opts = append(opts, store.IfAbsent())
	}
	stored, err := st.Upsert(ctx, flag, opts...)
	switch {
	case errors.Is(err, store.ErrExists):
		if stored, err = st.Get(ctx, flag.Key); err != nil {
			return fmt.Errorf("read flag: %w", err)
		}
		fmt.Fprintf(out, "Flag %q already exists in this Redis (version %d): NOT overwritten; evaluating it as stored.\n"+
			"(QUICKSTART_OVERWRITE=1 replaces it with the example.)\n\n", stored.Key, stored.Version)
	case err != nil:
		return fmt.Errorf("write flag: %w", err)
	default:
		fmt.Fprintf(out, "Wrote flag %q (version %d, updated %s).\n\n", stored.Key, stored.Version, stored.UpdatedAt)
	}
	def, err := json.MarshalIndent(stored, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "The definition evaluated below:\n%s\n\n", def)

	// The one line an application writes; everything after is plain OpenFeature.
	if err := of.SetProviderAndWait(provider.New(rdb, provider.WithEnvironment("production"))); err != nil {
		return err
	}
	defer of.Shutdown()
	client := of.NewDefaultClient()

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tREGION\tENVIRONMENT\tVALUE\tVARIANT\tREASON\tTUTORIAL REASON\tPAYLOAD")
	cases := []struct{ subject, region, environment string }{
		{"user-123", "eu-central", ""},
		{"user-456", "us-west", ""},
		{"user-1", "eu-central", ""},
		{"user-2", "eu-central", ""},
		{"user-3", "ap-south", ""},
		{"user-4", "ap-south", ""},
		{"user-5", "ap-south", ""},
		{"user-123", "us-west", "staging"},
		{"user-123", "us-west", "qa"},
	}
	for _, c := range cases {
		attrs := map[string]any{"region": c.region}
		if c.environment != "" {
			attrs["environment"] = c.environment
		}
		ec := of.NewEvaluationContext(c.subject, attrs)
		d, err := client.BooleanValueDetails(ctx, "checkout-banner", false, ec)
		if err != nil {
			return fmt.Errorf("evaluate for %s: %w", c.subject, err)
		}
		payload, err := client.ObjectValue(ctx, "checkout-banner", nil, ec)
		if err != nil {
			return fmt.Errorf("evaluate payload for %s: %w", c.subject, err)
		}
		shown := "-"
		if payload != nil {
			b, _ := json.Marshal(payload)
			shown = string(b)
		}
		env := c.environment
		if env == "" {
			env = "production"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%v\t%s\n", c.subject, c.region, env, d.Value, d.Variant, d.Reason, d.FlagMetadata["evaluationReason"], shown)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nNext: run the tests (go test ./...), then point REDIS_URL at your Redis and change the flag,\n"+
		"  go run ./cmd/redisflags flags set checkout-banner --env production --percent 50\n"+
		"and evaluate it from your service with openfeature.SetProviderAndWait(provider.New(rdb)) (README: Use it).")
	return nil
}
