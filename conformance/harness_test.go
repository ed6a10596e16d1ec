package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// SpecDirEnv names the directory holding the OpenFeature spec's gherkin/
// and flags/ folders.
const SpecDirEnv = "OPENFEATURE_SPEC_DIR"

// specDir returns OPENFEATURE_SPEC_DIR: unset skips the test, set but not
// holding gherkin/ and flags/ fails it.
func specDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(SpecDirEnv)
	if dir == "" {
		t.Skipf("%s is not set: the OpenFeature spec suites need a checkout of the spec's gherkin/ and flags/ folders "+
			"(for example %s=/path/to/openfeature-spec)", SpecDirEnv, SpecDirEnv)
	}
	for _, sub := range []string{"gherkin", "flags"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s=%q: %s/ is not a readable directory: %v", SpecDirEnv, dir, sub, err)
		}
	}
	return dir
}

// Flags of the spec's files that redisflags cannot express, left out of the
// import (see README.md): they have no default variant, or target on the
// evaluation time. No scenario of the suites run here evaluates them.
var (
	specSkipped  = []string{"null-default-flag", "undefined-default-flag"}
	flagdSkipped = []string{"null-default-flag", "undefined-default-flag", "timestamp-flag",
		"no-default-flag-null-targeting-variant", "no-default-flag-undefined-targeting-variant"}
)

// specFlags imports the spec's two flag files: every flag of
// test-flags.json, and the flags of flagd's testing-flags.json that it does
// not define (context-aware, targeting-key-flag). A key in both must mean
// the same flag in both.
func specFlags(t *testing.T, dir string) []evaluator.Flag {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "flags", name))
		require.NoError(t, err, "%s=%q", SpecDirEnv, dir)
		return b
	}
	spec, err := importer.ImportSpec(read("test-flags.json"), importer.WithSkip(specSkipped...))
	require.NoError(t, err)
	flagd, err := importer.ImportFlagd(read("testing-flags.json"), importer.WithSkip(flagdSkipped...))
	require.NoError(t, err)
	byKey := map[string]evaluator.Flag{}
	for _, f := range spec {
		byKey[f.Key] = f
	}
	flags := spec
	for _, f := range flagd {
		if g, ok := byKey[f.Key]; ok {
			// The same flag, apart from whose evaluation rules it follows
			// (flagd's for the flagd file's, docs/design.md §12); the spec
			// file's is the one served.
			g.Semantics = f.Semantics
			require.JSONEq(t, mustJSON(t, g), mustJSON(t, f), "flag %q differs between the two files", f.Key)
			continue
		}
		flags = append(flags, f)
	}
	return flags
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// seed writes flags into rdb with the store.
func seed(t *testing.T, rdb redis.UniversalClient, flags []evaluator.Flag) {
	t.Helper()
	s := store.New(rdb)
	for _, f := range flags {
		_, err := s.Upsert(context.Background(), f)
		require.NoError(t, err, f.Key)
	}
}

// mode is one way of running the provider.
type mode struct {
	name string
	opts []provider.Option
}

var modes = []mode{
	{"snapshot", nil},
	{"direct", []provider.Option{provider.WithDirectReads()}},
}

// fixture is what every scenario and requirement test of one test run
// shares: a real redis-server holding the spec's flags.
type fixture struct {
	t     *testing.T
	dir   string
	flags []evaluator.Flag
	rdb   redis.UniversalClient
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := specDir(t)
	flags := specFlags(t, dir)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seed(t, rdb, flags)
	return &fixture{t: t, dir: dir, flags: flags, rdb: rdb}
}

var domainSeq atomic.Int64

// newDomain returns an OpenFeature domain used by nothing else in this
// process, so that no binding ever replaces another's.
func newDomain(prefix string) string {
	return fmt.Sprintf("conformance/%s#%d", prefix, domainSeq.Add(1))
}

// binding is a provider bound to a domain of its own in an API instance of
// its own (go-sdk's isolated API), so that API-level context, hooks and
// handlers of one test never reach another.
type binding struct {
	api    *of.EvaluationAPI
	domain string
	client *of.Client
	prov   of.FeatureProvider
}

// bind binds p and waits for its initialization; err is what the SDK
// returned (an initialization error leaves the provider bound, in ERROR).
func bind(ctx context.Context, prefix string, p of.FeatureProvider) (*binding, error) {
	b := &binding{api: isolated.NewAPI(), domain: newDomain(prefix), prov: p}
	b.client = b.api.NewClient(of.WithDomain(b.domain))
	err := b.api.SetProviderAndWait(ctx, p, of.WithDomain(b.domain))
	return b, err
}

// bindAsync binds p without waiting for its initialization.
func bindAsync(ctx context.Context, prefix string, p of.FeatureProvider) (*binding, error) {
	b := &binding{api: isolated.NewAPI(), domain: newDomain(prefix), prov: p}
	b.client = b.api.NewClient(of.WithDomain(b.domain))
	return b, b.api.SetProvider(ctx, p, of.WithDomain(b.domain))
}

// close shuts the API instance down, which shuts the provider down, within
// a bound: a hang is a failure, not a stuck test.
func (b *binding) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.api.Shutdown(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("shutting down domain %q: %w", b.domain, ctx.Err())
	}
}

// waitState polls the client's state until it is want or within passes.
func waitState(c *of.Client, want of.State, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if s := c.State(); s == want {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("provider state is %s after %v, want %s", s, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unreachable returns a client for a loopback port nobody listens on, with
// short timeouts.
func unreachable(t *testing.T) *redis.Client {
	t.Helper()
	port, err := redistest.FreePort()
	require.NoError(t, err)
	c := redis.NewClient(&redis.Options{
		Addr:        fmt.Sprintf("127.0.0.1:%d", port),
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		MaxRetries: -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
