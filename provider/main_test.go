package provider_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

// quiet discards go-redis' own log lines ("failed to dial", sentinel
// failovers), which the outage and failover tests provoke on purpose.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// TestMain fails the package when any goroutine outlives the tests: every
// provider is shut down by its test (see leakcheck.Main).
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	leakcheck.Main(m)
}
