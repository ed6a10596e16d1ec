package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// usageFlags are what the usage tests evaluate: a 30 % rollout with a
// payload (SPLIT on/off, TARGETING_MATCH for the allowlisted), and a flag
// switched off in production (DISABLED).
func usageFlags() []evaluator.Flag {
	return []evaluator.Flag{
		{Key: "banner", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 30, AllowlistUsers: []string{"user-7"}, Value: []byte(`"hello"`)},
			"staging":    {Enabled: true, RolloutPercent: 100}}},
		{Key: "legacy", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": {Enabled: false}}},
	}
}

// tally is evaluations seen by the caller, keyed like a store.UsageCount.
type tally map[string]int64

func tallyKey(flag, env, variant, reason string) string {
	return flag + "|" + env + "|" + variant + "|" + reason
}

// usageWorkload makes n rounds of evaluations through c and returns what
// the caller saw: booleans and strings on "banner" in two environments
// (one of them unknown to "legacy"), a typed mismatch, a missing targeting
// key, and a flag nobody stored (which is not counted).
func usageWorkload(t testing.TB, c *of.Client, worker, n int) tally {
	ctx := context.Background()
	seen := tally{}
	add := func(flag, env string, d of.EvaluationDetails) {
		seen[tallyKey(flag, env, d.Variant, string(d.Reason))]++
	}
	for i := range n {
		subject := fmt.Sprintf("user-%d-%d", worker, i)
		if i%50 == 0 {
			subject = "user-7"
		}
		ec := of.NewEvaluationContext(subject, nil)
		b, _ := c.BooleanValueDetails(ctx, "banner", false, ec)
		add("banner", "production", b.EvaluationDetails)
		s, _ := c.StringValueDetails(ctx, "banner", "x", ec)
		add("banner", "production", s.EvaluationDetails)
		if i%3 == 0 {
			st := of.NewEvaluationContext(subject, map[string]any{"environment": "staging"})
			b, _ = c.BooleanValueDetails(ctx, "banner", false, st)
			add("banner", "staging", b.EvaluationDetails)
			b, _ = c.BooleanValueDetails(ctx, "legacy", false, st)
			add("legacy", "staging", b.EvaluationDetails)
		}
		if i%5 == 0 {
			f, _ := c.FloatValueDetails(ctx, "banner", 1, ec) // a string payload: TYPE_MISMATCH when on
			add("banner", "production", f.EvaluationDetails)
			b, _ = c.BooleanValueDetails(ctx, "banner", false, of.NewEvaluationContext("", nil))
			add("banner", "production", b.EvaluationDetails)
		}
		b, _ = c.BooleanValueDetails(ctx, "legacy", false, ec)
		add("legacy", "production", b.EvaluationDetails)
		_, _ = c.BooleanValueDetails(ctx, "nobody-stored-this", false, ec)
	}
	return seen
}

// redisTally reads what the providers wrote.
func redisTally(t *testing.T, rdb redis.UniversalClient) (tally, []store.FlagUsage) {
	t.Helper()
	us, err := store.New(rdb).Usage(t.Context(), time.Now(), 2)
	require.NoError(t, err)
	got := tally{}
	for _, u := range us {
		for _, c := range u.Counts {
			got[tallyKey(c.Flag, c.Environment, c.Variant, c.Reason)] += c.Count
		}
	}
	return got, us
}

func seedUsageFlags(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	for _, f := range usageFlags() {
		_, err := store.New(rdb).Upsert(t.Context(), f)
		require.NoError(t, err)
	}
}

// TestUsageCountsEqualEvaluationsAcrossProcesses runs the workload in four
// processes (this test binary re-executed), each with its own provider and
// connection, against one real redis-server, and checks that the counts in
// Redis equal the evaluations the four made, exactly. Processes rather than
// four providers in one process, because what must add up is separate
// processes' flushes racing on the same per-day keys, each ended by its own
// Shutdown, with nothing shared in memory.
func TestUsageCountsEqualEvaluationsAcrossProcesses(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)

	const workers, rounds = 4, 300
	want := tally{}
	cmds := make([]*exec.Cmd, workers)
	outs := make([]*bytes.Buffer, workers)
	for w := range workers {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestUsageWorkerProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "REDISFLAGS_USAGE_WORKER="+srv.Addr()+","+strconv.Itoa(w)+","+strconv.Itoa(rounds))
		outs[w] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[w], outs[w]
		require.NoError(t, cmd.Start())
		cmds[w] = cmd
	}
	for w, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "worker %d:\n%s", w, outs[w])
		var seen tally
		line, ok := bytes.CutPrefix(lastLineWith(outs[w].Bytes(), "TALLY "), []byte("TALLY "))
		require.True(t, ok, "worker %d printed no tally:\n%s", w, outs[w])
		require.NoError(t, json.Unmarshal(line, &seen))
		for k, n := range seen {
			want[k] += n
		}
	}
	got, us := redisTally(t, rdb)
	require.Equal(t, want, got)
	var total int64
	for _, n := range want {
		total += n
	}
	require.Greater(t, total, int64(workers*rounds*3), "the workload made fewer evaluations than it should")
	require.Contains(t, want, tallyKey("banner", "production", "on", "SPLIT"))
	require.Contains(t, want, tallyKey("banner", "production", "off", "SPLIT"))
	require.Contains(t, want, tallyKey("banner", "production", "on", "TARGETING_MATCH"))
	require.Contains(t, want, tallyKey("legacy", "production", "off", "DISABLED"))
	require.Contains(t, want, tallyKey("banner", "production", "", "ERROR"))
	for _, u := range us {
		require.NotEqual(t, "nobody-stored-this", u.Flag)
		require.WithinDuration(t, time.Now(), u.LastEvaluated, time.Minute, u.Flag)
	}
}

func lastLineWith(out []byte, prefix string) []byte {
	var last []byte
	for _, l := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(prefix)) {
			last = l
		}
	}
	return last
}

// TestUsageWorkerProcess is one process of the test above; it does nothing
// unless started by it.
func TestUsageWorkerProcess(t *testing.T) {
	spec := os.Getenv("REDISFLAGS_USAGE_WORKER")
	if spec == "" {
		t.Skip("a worker of TestUsageCountsEqualEvaluationsAcrossProcesses")
	}
	parts := bytes.Split([]byte(spec), []byte(","))
	require.Len(t, parts, 3)
	addr := string(parts[0])
	w, err := strconv.Atoi(string(parts[1]))
	require.NoError(t, err)
	n, err := strconv.Atoi(string(parts[2]))
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	// A short interval, so that flushes of the four processes interleave
	// with their evaluations; Shutdown writes the rest.
	p := provider.New(rdb, provider.WithUsageCounts(20*time.Millisecond))
	domain := newDomain(t)
	require.NoError(t, of.SetNamedProviderAndWait(domain, p))
	seen := usageWorkload(t, of.NewClient(domain), w, n)
	p.Shutdown()
	b, err := json.Marshal(seen)
	require.NoError(t, err)
	fmt.Printf("TALLY %s\n", b)
}

// TestUsageCountsKeptWhileRedisIsDown: counts made while Redis does not
// answer are kept in memory and written once it answers again.
func TestUsageCountsKeptWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	p := provider.New(rdb, provider.WithUsageCounts(time.Hour))
	c := bind(t, p)
	ctx := t.Context()
	for range 10 {
		_, _ = c.BooleanValue(ctx, "legacy", true, of.NewEvaluationContext("a", nil))
	}
	srv.Kill()
	for range 5 {
		_, _ = c.BooleanValue(ctx, "legacy", true, of.NewEvaluationContext("a", nil))
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	require.Error(t, p.FlushUsage(fctx))
	cancel()
	srv.Restart()
	seedUsageFlags(t, rdb)
	require.NoError(t, p.FlushUsage(ctx))
	got, _ := redisTally(t, rdb)
	require.Equal(t, tally{tallyKey("legacy", "production", "off", "DISABLED"): 15}, got)
}

// TestUsageCountsBoundedPerFlag: environments named by callers cannot grow
// a flag's counters without bound; the excess is counted under "(other)".
func TestUsageCountsBoundedPerFlag(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	p := provider.New(rdb, provider.WithUsageCounts(time.Hour))
	c := bind(t, p)
	for i := range 500 {
		ec := of.NewEvaluationContext("a", map[string]any{"environment": fmt.Sprintf("env-%d", i)})
		_, _ = c.BooleanValue(t.Context(), "legacy", true, ec)
	}
	_, _ = c.BooleanValue(t.Context(), "legacy", true, of.NewEvaluationContext("a", map[string]any{"environment": "not a name!"}))
	require.NoError(t, p.FlushUsage(t.Context()))
	got, _ := redisTally(t, rdb)
	require.Len(t, got, 65)
	require.Equal(t, int64(500+1-64), got[tallyKey("legacy", "(other)", "off", "DEFAULT")])
	var sum int64
	for _, n := range got {
		sum += n
	}
	require.Equal(t, int64(501), sum)
}
