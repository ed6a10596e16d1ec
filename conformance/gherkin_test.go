package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"github.com/stretchr/testify/require"
)

// suites are the spec's gherkin suites this package runs.
var suites = []string{
	"evaluation.feature",
	"evaluation_v2.feature",
	"hooks.feature",
	"metadata.feature",
	"contextMerging.feature",
}

// skippedTags are scenarios skipped on purpose, with the reason (also in
// README.md). Everything else runs, in both modes.
var skippedTags = map[string]string{
	"@reason-codes-cached": "redisflags never answers CACHED: the live snapshot is a replica kept current by change notices, " +
		"and direct reads go to Redis; both report the evaluation's own reason (STATIC, TARGETING_MATCH, …)",
}

// TestGherkin runs the OpenFeature spec's gherkin suites against the
// provider in both modes, with the spec's flags imported into a real
// redis-server. Each scenario is a subtest:
// TestGherkin/<mode>/<suite>/<scenario>.
func TestGherkin(t *testing.T) {
	fx := newFixture(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, suite := range suites {
				t.Run(strings.TrimSuffix(suite, ".feature"), func(t *testing.T) {
					runSuite(t, fx, m, suite)
				})
			}
		})
	}
}

// tally counts a suite's scenarios by outcome.
type tally struct{ passed, skipped, failed int }

func (c tally) String() string {
	return fmt.Sprintf("%d scenarios: %d passed, %d skipped, %d failed", c.passed+c.skipped+c.failed, c.passed, c.skipped, c.failed)
}

// skip marks the running scenario skipped, with the reason in the test log.
func skip(ctx context.Context, w *world, reason string) error {
	w.skipped = true
	if t := godog.T(ctx); t != nil {
		t.Skipf("%s", reason)
	}
	return godog.ErrSkip
}

func runSuite(t *testing.T, fx *fixture, m mode, suite string) {
	path := filepath.Join(fx.dir, "gherkin", suite)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%q: %v", SpecDirEnv, fx.dir, err)
	}
	var (
		out   bytes.Buffer
		count tally
	)
	ts := godog.TestSuite{
		Name: m.name + "/" + suite,
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			w := &world{fx: fx, mode: m}
			sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
				*w = world{fx: fx, mode: m}
				for _, tag := range s.Tags {
					if reason, ok := skippedTags[tag.Name]; ok {
						return ctx, skip(ctx, w, tag.Name+": "+reason)
					}
				}
				return ctx, nil
			})
			sc.After(func(ctx context.Context, _ *godog.Scenario, err error) (context.Context, error) {
				if cerr := w.close(); cerr != nil && (err == nil || errors.Is(err, godog.ErrSkip)) {
					err = fmt.Errorf("cleanup: %w", cerr)
				}
				switch {
				case w.skipped && (err == nil || errors.Is(err, godog.ErrSkip)):
					count.skipped++
				case err != nil:
					count.failed++
				default:
					count.passed++
				}
				return ctx, err
			})
			w.register(sc)
		},
		Options: &godog.Options{
			Format:   "progress",
			Output:   &out,
			Paths:    []string{path},
			TestingT: t,
			Strict:   true,
		},
	}
	status := ts.Run()
	t.Logf("%s mode, %s: %v", m.name, suite, count)
	if status != 0 && out.Len() > 0 {
		t.Logf("godog output:\n%s", out.String())
	}
	require.Zero(t, status, "godog status for %s in %s mode", suite, m.name)
}
