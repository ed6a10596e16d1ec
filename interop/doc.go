// Package interop proves that the OpenFeature clients of other languages
// read our flags as our Go provider does. It has no code of its own, only
// tests:
//
//   - TestNodeClientsAgreeWithGoProvider runs the real npm OFREP clients
//     (@openfeature/server-sdk with @openfeature/ofrep-provider, and
//     @openfeature/web-sdk with @openfeature/ofrep-web-provider, through
//     clients.mjs) against `redisflags serve` on a real redis-server, and
//     compares every answer (value, variant, reason, error code) with the
//     Go provider's answer for the same flag, context, type and default,
//     produced in the same run. The only disagreements allowed are the
//     clients' documented limits (clientLimits, shown in README.md).
//   - TestReadmeExampleInNode is the README's Go example ported to both
//     JavaScript clients.
//   - TestBrowserAcrossOrigins loads a page from another origin in headless
//     Chromium (Debian's, driven by playwright-core from browser.mjs) that
//     uses the npm web SDK and OFREP web provider as ES modules: it
//     initialises across origins (CORS), gets a 304 on a later poll, and
//     sees flags changed through the admin API within a second without
//     polling (OFREP ADR-0008 event stream); it measures that latency.
//
// The Node packages are installed from package-lock.json (`npm ci` in this
// directory, as .ci/run does). Without node, node_modules or chromium the
// tests skip with a message; REDISFLAGS_REQUIRE_BROWSER=1 (set by .ci/run)
// makes that a failure. The server under test is built from ./cmd/redisflags
// into a temporary directory, or taken from $REDISFLAGS_BIN.
//
//	cd interop && npm ci && go test -run . -v .
package interop
