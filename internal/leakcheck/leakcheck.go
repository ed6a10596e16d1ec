// Package leakcheck is the TestMain of packages whose tests start
// goroutines (providers, LaunchDarkly clients, servers): it fails the run
// when one outlives the tests.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/goleak"
)

// Main runs the tests (and benchmarks) of m, stops the OpenFeature SDK's
// own event goroutines (of.Shutdown, which the global API needs once every
// test has ended), and then fails the run, listing them, when any goroutine
// is left: every provider and client a test starts must be stopped by that
// test. It does not return.
func Main(m *testing.M) {
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
