package main

import (
	"fmt"
	"os"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine outlives the tests: servers,
// refreshers, log mirrors and clients are all stopped by the code or test
// that started them.
func TestMain(m *testing.M) {
	code := m.Run()
	of.Shutdown() // the SDK's own goroutines (the OFREP client tests use it)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
