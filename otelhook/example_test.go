package otelhook_test

import (
	"fmt"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/otelhook"
)

// Register the hook for every client; it uses the global OpenTelemetry
// tracer and meter providers.
func Example() {
	h, err := otelhook.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	of.AddHooks(h)
	fmt.Println("hook registered")
	// Output: hook registered
}
