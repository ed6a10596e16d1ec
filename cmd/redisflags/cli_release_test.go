package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

func TestCLIScheduleRolloutAndRequests(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	st := store.New(rdb)
	_, err := st.Upsert(ctx, evaluator.Flag{Key: "banner", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 5}}})
	require.NoError(t, err)
	base := []string{"--redis-url", srv.URL()}
	cli := func(args ...string) string { return mustRunCLI(t, append(args, base...)...) }

	out := cli("schedule", "add", "banner", "--at", "2030-01-01T00:00:00Z", "--percent", "50", "--actor", "ana")
	assert.Contains(t, out, "production.rolloutPercent=50 at 2030-01-01T00:00:00Z")
	id := strings.Fields(strings.TrimPrefix(out, "scheduled "))[0]
	id = strings.TrimSuffix(id, ":")
	out = cli("schedule", "list")
	assert.Contains(t, out, id)
	assert.Regexp(t, id+`\s+2030-01-01T00:00:00Z\s+banner\s+.*ana`, out, "one row per change: id, at, flag, change, scheduled by")
	assert.NotContains(t, cli("schedule", "list", "other"), id)
	cli("schedule", "cancel", id, "--actor", "ben")
	assert.NotContains(t, cli("schedule", "list"), id)
	_, _, err = runCLI(t, append([]string{"schedule", "add", "banner", "--at", "soon", "--off"}, base...)...)
	require.ErrorContains(t, err, "at: must be an RFC 3339 date-time")

	out = cli("rollout", "set", "banner", "production", "--from", "1", "--steps", "5@2026-01-01T00:00:00Z,25@2026-01-02T00:00:00Z,60@2099-01-01T00:00:00Z")
	assert.Contains(t, out, "3 steps from 1%")
	f, err := st.Get(ctx, "banner")
	require.NoError(t, err)
	assert.Equal(t, 25, f.Environments["production"].RolloutPercent, "rolloutPercent is the rollout's now (the command's clock: %v)", now())
	_, _, err = runCLI(t, append([]string{"rollout", "set", "banner", "production", "--from", "50", "--steps", "10@2026-01-01T00:00:00Z"}, base...)...)
	require.ErrorContains(t, err, "rollout.steps[0].percent")
	out = cli("rollout", "rollback", "banner", "production", "--percent", "0")
	assert.Contains(t, out, "no rollout")

	cli("policy", "set", "production", "--require-approval")
	next, err := st.Get(ctx, "banner")
	require.NoError(t, err)
	e := next.Environments["production"]
	e.RolloutPercent = 80
	next.Environments["production"] = e
	b, err := json.Marshal(next)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "banner.json")
	require.NoError(t, os.WriteFile(file, b, 0o600))
	out = cli("request", "create", file, "--actor", "ana")
	assert.Contains(t, out, "environments.production.rolloutPercent 0→80")
	rid := strings.Fields(out)[0]
	out = cli("request", "list")
	assert.Contains(t, out, "ID  ")
	assert.Regexp(t, rid+`\s+banner\s+\S+\s+ana\s`, out, "one row per request: id, flag, op, author, created")
	assert.NotContains(t, cli("request", "list", "other"), rid, "list FLAG shows only that flag's requests")
	var listed []store.Request
	require.NoError(t, json.Unmarshal([]byte(cli("request", "list", "banner", "--json")), &listed))
	require.Len(t, listed, 1)
	assert.Equal(t, rid, listed[0].ID)
	_, _, err = runCLI(t, append([]string{"request", "approve", rid, "--actor", "ana"}, base...)...)
	require.ErrorIs(t, err, store.ErrSelfApproval)
	out = cli("request", "approve", rid, "--actor", "ben")
	assert.Contains(t, out, "applied")
	f, err = st.Get(ctx, "banner")
	require.NoError(t, err)
	assert.Equal(t, 80, f.Environments["production"].RolloutPercent)
}

func TestAdminRouteRefusesAGuardedEdit(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ts := startReleaseServer(t, rdb, time.Now)
	st := store.New(rdb)
	_, err := st.Upsert(t.Context(), evaluator.Flag{Key: "banner", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 5}}})
	require.NoError(t, err)
	require.NoError(t, st.SetPolicy(t.Context(), "production", store.Policy{RequireApproval: true, EmergencyOff: true}))
	resp, body := ts.do(t, "PUT", "/api/admin/flags/banner", strings.NewReader(`{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":50}}}`))
	assert.Equal(t, 409, resp.StatusCode, body)
	assert.Contains(t, body, "/api/release/flags/banner")
	resp, body = ts.do(t, "PUT", "/api/admin/flags/banner", strings.NewReader(`{"defaultEnabled":true,"environments":{"production":{"enabled":false,"rolloutPercent":5}}}`))
	assert.Equal(t, 200, resp.StatusCode, "an emergency off passes: %s", body)
	resp, body = ts.do(t, "PUT", "/api/release/flags/banner", strings.NewReader(`{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":50}}}`), "X-Actor", "ana")
	assert.Equal(t, 202, resp.StatusCode, body)
	assert.Contains(t, body, `"request"`)
	resp, _ = ts.do(t, "GET", "/api/release/requests", nil)
	assert.Equal(t, 401, resp.StatusCode, "the release API needs an actor")
}
