package conformance_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quiet discards go-redis' own log lines ("failed to dial"), which the
// tests provoke on purpose by pointing providers at servers that are down.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// TestMain fails the run when a test leaves a goroutine behind: every
// provider, API instance and client the tests start must be shut down
// (spec 2.5.1).
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	goleak.VerifyTestMain(m)
}
