package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/alicebob/miniredis/v2"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// flagData is the team's LaunchDarkly flag data, as exported.
//
//go:embed flags.json
var flagData []byte

// migrate imports flagData into the Redis at redisURL (an embedded one when
// it is empty), registers the redisflags provider in place of LaunchDarkly's
// and runs the application against it, returning what it was answered.
func migrate(ctx context.Context, redisURL string, out io.Writer) ([]row, error) {
	rdb, closeRedis, err := connect(redisURL, out)
	if err != nil {
		return nil, err
	}
	defer closeRedis()

	if err := importFlags(ctx, rdb, out); err != nil {
		return nil, err
	}

	// The one line that changes. It used to register LaunchDarkly's
	// OpenFeature provider, built on an LDClient with the SDK key.
	if err := of.SetProviderAndWait(provider.New(rdb)); err != nil {
		return nil, fmt.Errorf("start the redisflags provider: %w", err)
	}
	defer of.Shutdown()

	printContexts(out)
	return application(ctx, of.NewDefaultClient()), nil
}

// connect returns a client for the Redis at redisURL, or for an embedded
// miniredis when redisURL is empty, and a function that closes both.
func connect(redisURL string, out io.Writer) (*redis.Client, func(), error) {
	if redisURL == "" {
		m, err := miniredis.Run()
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded Redis: %w", err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		fmt.Fprintf(out, "No REDIS_URL: using an embedded Redis (miniredis) at %s; nothing is kept.\n", m.Addr())
		return rdb, func() { _ = rdb.Close(); m.Close() }, nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	fmt.Fprintf(out, "Using the Redis at REDIS_URL (%s); the flags are written under the prefix %s.\n", opts.Addr, store.DefaultKeyPrefix)
	return rdb, func() { _ = rdb.Close() }, nil
}

// importFlags translates flagData and writes every flag to Redis.
func importFlags(ctx context.Context, rdb redis.UniversalClient, out io.Writer) error {
	res, err := importer.LaunchDarkly(flagData)
	if err != nil {
		return fmt.Errorf("import flags.json: %w", err)
	}
	st := store.New(rdb)
	keys := make([]string, 0, len(res.Flags))
	for _, f := range res.Flags {
		if _, err := st.Upsert(ctx, f); err != nil {
			return fmt.Errorf("write flag %s: %w", f.Key, err)
		}
		keys = append(keys, f.Key)
	}
	fmt.Fprintf(out, "Imported %d flags from LaunchDarkly's flag data (flags.json): %s.\n", len(keys), strings.Join(keys, ", "))
	for _, n := range res.Notes {
		fmt.Fprintf(out, "  note: %v\n", n)
	}
	fmt.Fprintln(out)
	return nil
}
