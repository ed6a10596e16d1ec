package otelhook_test

import (
	"testing"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

// TestMain fails the package when a goroutine outlives the tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }
