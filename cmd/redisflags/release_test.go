package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
)

// TestRolloutSameOverOFREPAndBothModesAt20Instants: at 20 instants of an
// injected clock, OFREP answers a ramped flag exactly as the Go provider
// does in snapshot and in direct mode.
func TestRolloutSameOverOFREPAndBothModesAt20Instants(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := evaluator.Flag{Key: "ramped", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, Rollout: &evaluator.Rollout{From: 3, To: 98, Start: t0.Format(time.RFC3339), End: t0.Add(19 * time.Hour).Format(time.RFC3339)}}}}
	_, err := store.New(rdb).Upsert(ctx, f)
	require.NoError(t, err)
	var clock atomic.Int64
	fake := func() time.Time { return time.UnixMilli(clock.Load()).UTC() }
	ts := startReleaseServer(t, rdb, fake)

	var clients []*of.Client
	for i, opts := range [][]provider.Option{{provider.WithClock(fake)}, {provider.WithClock(fake), provider.WithDirectReads()}} {
		p := provider.New(rdb, opts...)
		domain := fmt.Sprintf("%s-%d", t.Name(), i)
		require.NoError(t, of.SetNamedProviderAndWait(domain, p))
		t.Cleanup(p.Shutdown)
		clients = append(clients, of.NewClient(domain))
	}
	for i := range 20 {
		clock.Store(t0.Add(time.Duration(i)*time.Hour - 20*time.Minute).UnixMilli())
		for j := range 100 {
			subject := fmt.Sprintf("user-%d", j)
			resp, body := ts.do(t, "POST", "/ofrep/v1/evaluate/flags/ramped", strings.NewReader(`{"context":{"targetingKey":"`+subject+`"}}`))
			require.Equal(t, 200, resp.StatusCode, body)
			var o struct {
				Value   bool   `json:"value"`
				Reason  string `json:"reason"`
				Variant string `json:"variant"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &o))
			for _, c := range clients {
				d, err := c.BooleanValueDetails(ctx, "ramped", false, of.NewEvaluationContext(subject, nil))
				require.NoError(t, err)
				require.Equal(t, d.Value, o.Value, "instant %d %s", i, subject)
				require.Equal(t, string(d.Reason), o.Reason)
				require.Equal(t, d.Variant, o.Variant)
			}
		}
	}
}

// releaseServer is `serve`'s handler (server package plus the release
// wiring) on a loopback port.
type releaseServer struct{ url string }

func startReleaseServer(t *testing.T, rdb redis.UniversalClient, clock func() time.Time) *releaseServer {
	t.Helper()
	st := store.New(rdb, store.WithOutbox())
	srv := server.New(rdb, st, append([]server.Option{server.WithClock(clock)}, releaseOptions(st)...)...)
	require.NoError(t, srv.Start(t.Context()))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
	})
	require.Eventually(t, srv.Loaded, 5*time.Second, 5*time.Millisecond, "flags never loaded")
	return &releaseServer{url: hs.URL}
}

// do sends one request and returns the response with its body read.
func (ts *releaseServer) do(t *testing.T, method, path string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.url+path, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// buildBinary builds the command once for the tests that run it as a
// process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redisflags")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

type replica struct {
	cmd  *exec.Cmd
	addr string
}

func startReplica(t *testing.T, bin, redisURL string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--redis-url", redisURL, "--claim-lease", "2s", "--admin-token", "t0ken")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	r := &replica{cmd: cmd}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "serving on http://")
	r.addr = strings.Fields(strings.TrimPrefix(line, "redisflags: serving on http://"))[0]
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return r
}

// TestThreeReplicasApply200ScheduledChangesOnce: three `serve` processes
// and 200 scheduled changes, one replica killed -9 mid-run: every change
// is applied exactly once (one audit entry each), none lost.
func TestThreeReplicasApply200ScheduledChangesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command as processes")
	}
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	bin := buildBinary(t)
	st := store.New(rdb)
	for i := range 20 {
		_, err := st.Upsert(ctx, evaluator.Flag{Key: fmt.Sprintf("flag-%02d", i), DefaultEnabled: true,
			Environments: map[string]evaluator.Environment{"production": {Enabled: true}}})
		require.NoError(t, err)
	}
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, bin, srv.URL()))
	}
	start := time.Now().Add(time.Second)
	ids := map[string]bool{}
	for i := range 200 {
		pct := i % 101
		c, err := st.Schedule(ctx, store.ScheduledChange{Flag: fmt.Sprintf("flag-%02d", i%20),
			At: start.Add(time.Duration(i) * 20 * time.Millisecond).UTC().Format(time.RFC3339Nano),
			Op: store.OpPatch, Patch: &store.Patch{Environment: "production", RolloutPercent: &pct}, ScheduledBy: "ana"})
		require.NoError(t, err)
		ids[c.ID] = true
	}
	// Kill one replica -9 while changes are being applied.
	for time.Now().Before(start.Add(1500 * time.Millisecond)) {
		time.Sleep(20 * time.Millisecond)
	}
	pending, err := st.ListScheduled(ctx, "")
	require.NoError(t, err)
	require.NoError(t, replicas[0].cmd.Process.Signal(syscall.SIGKILL))
	_ = replicas[0].cmd.Wait()
	t.Logf("killed one replica with %d of 200 changes pending", len(pending))
	assert.NotEmpty(t, pending, "killed mid-run")
	assert.Less(t, len(pending), 200, "killed mid-run")

	require.Eventually(t, func() bool {
		l, err := st.ListScheduled(ctx, "")
		return err == nil && len(l) == 0
	}, 60*time.Second, 100*time.Millisecond, "every change applied by the survivors")

	entries, err := st.Audit(ctx, "", 0)
	require.NoError(t, err)
	count := map[string]int{}
	for _, e := range entries {
		if e.Actor != "ana" {
			continue
		}
		i := strings.LastIndex(e.Note, "(s-")
		if i < 0 {
			continue
		}
		count[strings.TrimSuffix(e.Note[i+1:], ")")]++
	}
	for id := range ids {
		require.Equal(t, 1, count[id], "change %s applied once", id)
		c, err := st.GetScheduled(ctx, id)
		require.NoError(t, err)
		require.Equal(t, store.StateApplied, c.State)
	}
	assert.Len(t, count, 200)
	// One flag's changes apply in due order: the last is what it serves.
	for i := 180; i < 200; i++ {
		f, err := st.Get(ctx, fmt.Sprintf("flag-%02d", i%20))
		require.NoError(t, err)
		assert.Equal(t, i%101, f.Environments["production"].RolloutPercent)
	}
	for _, r := range replicas[1:] {
		require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
		done := make(chan error, 1)
		go func() { done <- r.cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "a replica stops cleanly")
		case <-time.After(20 * time.Second):
			t.Error("a replica did not stop")
		}
	}
}
