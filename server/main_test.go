package server

import (
	"testing"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

// TestMain fails the package when any goroutine outlives the tests: servers,
// refreshers and clients are all stopped by the code or test that started
// them.
func TestMain(m *testing.M) { leakcheck.Main(m) }
