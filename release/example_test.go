package release_test

import (
	"fmt"
	"time"

	"github.com/redisflags/redisflags/release"
)

// A receiver checks each delivery's signature before trusting its body.
func ExampleVerify() {
	secret := release.Secret("from-your-secret-store")
	body := []byte(`{"id":"1733130000000-0","type":"flag.updated","flag":"checkout-banner"}`)
	at := time.Unix(1733130000, 0)
	header := release.Sign(secret, at, body) // what the dispatcher sends as X-Redisflags-Signature

	fmt.Println(release.Verify(secret, header, body, at.Add(time.Minute), 5*time.Minute))
	fmt.Println(release.Verify(secret, header, []byte(`{"forged":true}`), at, 5*time.Minute) != nil)
	fmt.Println(secret)
	// Output:
	// <nil>
	// true
	// [redacted]
}
