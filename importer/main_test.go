package importer_test

import (
	"testing"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

// TestMain fails the package when a goroutine outlives the tests (see
// leakcheck.Main).
func TestMain(m *testing.M) { leakcheck.Main(m) }
