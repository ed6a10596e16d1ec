package experiment_test

import (
	"testing"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

// TestMain fails the package when a goroutine (a provider's) outlives the
// tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }
