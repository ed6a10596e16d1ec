package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// seedUsage stores three flags (changed 60 days before fixedNow) and the
// counts of two of them: "busy" evaluated a day ago, "forgotten" 45 days
// ago; "never" was never counted.
func seedUsage(t *testing.T, srv *redistest.Server) {
	t.Helper()
	useFixedClock(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.WithClock(func() time.Time { return fixedNow.AddDate(0, 0, -60) }))
	for _, k := range []string{"busy", "forgotten", "never"} {
		_, err := st.Upsert(t.Context(), evaluator.Flag{Key: k, DefaultEnabled: true,
			Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 100}}})
		require.NoError(t, err)
	}
	require.NoError(t, st.AddUsage(t.Context(), fixedNow.AddDate(0, 0, -45), []store.UsageCount{
		{Flag: "forgotten", Environment: "production", Variant: "on", Reason: "DEFAULT", Count: 3}}, time.Hour))
	require.NoError(t, st.AddUsage(t.Context(), fixedNow.Add(-24*time.Hour), []store.UsageCount{
		{Flag: "busy", Environment: "production", Variant: "on", Reason: "DEFAULT", Count: 1200},
		{Flag: "busy", Environment: "staging", Variant: "off", Reason: "DISABLED", Count: 7}}, time.Hour))
	require.NoError(t, st.AddUsage(t.Context(), fixedNow, []store.UsageCount{
		{Flag: "busy", Environment: "production", Variant: "on", Reason: "DEFAULT", Count: 30}}, time.Hour))
}

func TestUsageVerbShowsLastEvaluatedAndVolume(t *testing.T) {
	srv := redistest.Start(t)
	seedUsage(t, srv)
	out := mustRunCLI(t, "usage", "--redis-url", srv.URL(), "--days", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^busy\s+2026-03-19T12:00:00Z\s+1237\s+production on DEFAULT 1230, staging off DISABLED 7$`, lines[1])
	require.Regexp(t, `^forgotten\s+2026-02-02T12:00:00Z\s+0\s+$`, lines[2], "counted 45 days ago: outside the 2 days summed")
	require.Regexp(t, `^never\s+never\s+0`, lines[3])

	out = mustRunCLI(t, "usage", "busy", "--redis-url", srv.URL(), "--json")
	require.Contains(t, out, `"evaluations": 1237`)
	_, _, err := runCLI(t, "usage", "nope", "--redis-url", srv.URL())
	require.ErrorContains(t, err, `flag "nope"`)
	_, _, err = runCLI(t, "usage", "--days", "0", "--redis-url", srv.URL())
	require.ErrorContains(t, err, "--days 0")
}

func TestLintReportsFlagsNotEvaluated(t *testing.T) {
	srv := redistest.Start(t)
	seedUsage(t, srv)
	out, _, err := runCLI(t, "lint", "--redis-url", srv.URL(), "--now", "2026-03-19T12:00:00Z", "--stale-after", "100000h")
	require.ErrorIs(t, err, errFindings)
	require.Contains(t, out, "forgotten  not-evaluated  not evaluated for 45 days (last 2026-02-02T12:00:00Z)")
	require.Contains(t, out, "never      not-evaluated  never evaluated by a counting provider, and unchanged for 60 days")
	require.NotContains(t, out, "busy ")

	out = mustRunCLI(t, "lint", "--redis-url", srv.URL(), "--now", "2026-03-19T12:00:00Z", "--unused-after", "0", "--stale-after", "100000h")
	require.Contains(t, out, "nothing to report")
}

// TestLintWithoutCountsJudgesNoUsage: where no provider counts, lint does
// not call every flag stale.
func TestLintWithoutCountsJudgesNoUsage(t *testing.T) {
	srv := redistest.Start(t)
	useFixedClock(t)
	st := store.New(srv.Client(t), store.WithClock(func() time.Time { return fixedNow.AddDate(0, 0, -60) }))
	_, err := st.Upsert(t.Context(), evaluator.Flag{Key: "quiet-flag", DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 40}}})
	require.NoError(t, err)
	out := mustRunCLI(t, "lint", "--redis-url", srv.URL(), "--now", "2026-03-19T12:00:00Z")
	require.NotContains(t, out, "not-evaluated")
}

// TestExperimentVerb reports the known-answer data set (control 100/1000,
// treatment 130/1000: difference +3 points, p = 0.03549) from a tracking
// stream, with its sample-ratio check and a PNG.
func TestExperimentVerb(t *testing.T) {
	srv := redistest.Start(t)
	useFixedClock(t)
	rdb := srv.Client(t)
	st := store.New(rdb)
	_, err := st.Upsert(t.Context(), evaluator.Flag{Key: "new-checkout", DefaultEnabled: true, Metadata: map[string]any{"experiment": true},
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 50}}})
	require.NoError(t, err)
	var evs []store.TrackedEvent
	for i := range 2000 {
		v, subject := "off", fmt.Sprintf("s-%d", i)
		if i >= 1000 {
			v = "on"
		}
		evs = append(evs, store.TrackedEvent{Kind: store.EventExposure, Flag: "new-checkout", Variant: v, Environment: "production", Subject: subject, At: fixedNow})
		if (v == "off" && i < 100) || (v == "on" && i < 1130) {
			evs = append(evs, store.TrackedEvent{Kind: store.EventTrack, Name: "purchase", Subject: subject, At: fixedNow})
		}
		if i%7 == 0 { // another metric, and a conversion before any exposure: neither counts
			evs = append(evs, store.TrackedEvent{Kind: store.EventTrack, Name: "signup", Subject: subject, At: fixedNow})
		}
	}
	evs = append([]store.TrackedEvent{{Kind: store.EventTrack, Name: "purchase", Subject: "s-500", At: fixedNow}}, evs...)
	require.NoError(t, st.AppendEvents(t.Context(), evs, 100_000))

	png := filepath.Join(t.TempDir(), "result.png")
	out := mustRunCLI(t, "experiment", "new-checkout", "--metric", "purchase", "--plot", png, "--redis-url", srv.URL())
	require.Regexp(t, `off\s+1000\s+100\s+10.00% \[8.29, 12.02\]\s+control`, out)
	require.Regexp(t, `on\s+1000\s+130\s+13.00% \[11.06, 15.23\]\s+\+3.00 pts \[\+0.21, \+5.79\]\s+0.03549 \*`, out)
	require.Contains(t, out, "sample ratio: ok (chi-square 0.00, p = 1)")
	b, err := os.ReadFile(png)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), "not a PNG")

	_, errOut, err := runCLI(t, "experiment", "new-checkout", "--redis-url", srv.URL())
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, errOut, "--metric is required")
}
