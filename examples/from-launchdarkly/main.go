// Command from-launchdarkly shows a team on LaunchDarkly moving to
// redisflags without changing application code.
//
// The team exports its flag data from LaunchDarkly (flags.json here, in the
// server-side format that LaunchDarkly's relay and its SDKs' file data
// source read: {"flags": {…}, "segments": {…}}). The example imports it
// with importer.LaunchDarkly, writes the flags to Redis with the store,
// swaps the OpenFeature provider for redisflags' one, and then runs the
// application code untouched: plain OpenFeature calls with the
// LaunchDarkly-shaped contexts it always sent (kind, key, attributes,
// "anonymous", "privateAttributes", multi-contexts). It prints what each
// flag answered for each context: value, variant (LaunchDarkly's variation
// index) and reason (LaunchDarkly's, as its OpenFeature provider reports
// them).
//
// The flags cover the features teams use most: a kill switch with
// individual targets (users and organizations), a string flag with rules on
// context attributes, a percentage rollout bucketed by an attribute, a flag
// with a prerequisite and a flag whose rule matches a segment. The test
// evaluates the same file with LaunchDarkly's own Go SDK, offline, and
// checks that every answer is the same.
//
// With no REDIS_URL it starts an embedded Redis (miniredis) and needs
// nothing installed:
//
//	go run ./examples/from-launchdarkly
//	REDIS_URL=redis://localhost:6379/0 go run ./examples/from-launchdarkly
//
// With REDIS_URL the five flags are written to that server under the
// default prefix feature-flags, replacing flags of the same keys.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(context.Background(), os.Getenv("REDIS_URL"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "from-launchdarkly:", err)
		os.Exit(1)
	}
}

// run is the whole example; it writes what it does to out.
func run(ctx context.Context, redisURL string, out io.Writer) error {
	rows, err := migrate(ctx, redisURL, out)
	if err != nil {
		return err
	}
	return printRows(out, rows)
}
