package provider_test

import (
	"fmt"
	"os"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine outlives the tests: every
// provider is shut down by its test, and the SDK's own goroutines are
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
