package interop

import (
	"testing"

	"github.com/redisflags/redisflags/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
