package importer_test

import (
	"fmt"
	"os"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: the
// equivalence tests start providers and LaunchDarkly clients, and each must
// be shut down by its test. The OpenFeature SDK's own event goroutines are
// stopped here first.
func TestMain(m *testing.M) {
	code := m.Run()
	of.Shutdown()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
