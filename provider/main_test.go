package provider_test

import (
	"testing"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

// TestMain fails the package when any goroutine outlives the tests: every
// provider is shut down by its test (see leakcheck.Main).
func TestMain(m *testing.M) { leakcheck.Main(m) }
