package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/bench/internal/fairness"
	"github.com/redisflags/redisflags/evaluator"
)

func TestRunWritesTableAndPNGForTheRequestedFlag(t *testing.T) {
	dir := t.TempDir()
	table, img := filepath.Join(dir, "d.txt"), filepath.Join(dir, "d.png")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-flag", "new-search", "-env", "staging", "-prefix", "id-", "-n", "5000",
		"-out-table", table, "-out-png", img}, &stdout, &stderr)
	require.NoError(t, err)
	assert.Empty(t, stdout.String(), "the table went to -out-table")
	assert.Empty(t, stderr.String())

	// The figures are those of these subjects for this flag and environment.
	want := fairness.Summarize(fairness.Compute(evaluator.Bucket, "new-search", "staging", fairness.Subjects("id-", 5000)))
	got, err := os.ReadFile(table)
	require.NoError(t, err)
	text := string(got)
	assert.Contains(t, text, `flag "new-search", environment "staging", 5000 subjects "id-0" … "id-4999"`)
	assert.Regexp(t, fmt.Sprintf(`(?m)^  min +%d$`, want.Min), text)
	assert.Regexp(t, fmt.Sprintf(`(?m)^  max +%d$`, want.Max), text)
	assert.Regexp(t, `(?m)^  mean +50\.0$`, text)
	assert.Regexp(t, fmt.Sprintf(`(?m)^  stddev +%.1f `, want.StdDev), text)
	assert.Regexp(t, fmt.Sprintf(`(?m)^chi-square +%.2f +df 99`, want.ChiSquare), text)
	for _, p := range sharePercents {
		diff := regexp.QuoteMeta(fmt.Sprintf("%+.3f", want.Share(p)-float64(p)))
		assert.Regexp(t, fmt.Sprintf(`(?m)^ +%d%% +%.3f%% +%s$`, p, want.Share(p), diff), text)
	}

	f, err := os.Open(img)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err, "not a PNG")
	assert.Equal(t, 1100, cfg.Width)
	assert.Equal(t, 770, cfg.Height)
}

func TestRunWritesTableToStdoutAndNoPNGByDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"-n", "1000"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), `flag "checkout-banner", environment "production", 1000 subjects "user-0" … "user-999"`)
	assert.Contains(t, stdout.String(), "chi-square")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no file without -out-png or -out-table")
}

func TestRunRejectsBadArguments(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"zero subjects", []string{"-n", "0"}, "-n must be at least 1"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
		{"positional argument", []string{"extra"}, "unexpected arguments"},
		{"unwritable output", []string{"-n", "10", "-out-table", filepath.Join(t.TempDir(), "no", "such", "dir")}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRunStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-n", "10"}, &stdout, &stderr)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, stdout.String())
}

func TestThousandsGroupsDigits(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1000000: "1,000,000", 12345678: "12,345,678"} {
		assert.Equal(t, want, thousands(n))
	}
}
