// Package bench holds benchmarks and the bucket-distribution analysis of
// redisflags; it has no API. Its tests prove that the rollout bucket
// (evaluator.Bucket) is uniform, that rollout shares meet their targets, that
// flags and environments bucket independently, that raising a percentage
// never turns a subject off, and that buckets never change (golden vectors in
// testdata/). BenchmarkBucketHash compares the bucket's hash with other flag
// systems'. BenchmarkLatency, BenchmarkClient, BenchmarkDirect and
// BenchmarkParallel measure evaluation by the evaluator, the provider and the
// OpenFeature client; BenchmarkPeer measures LaunchDarkly's and GrowthBook's
// Go SDKs, offline, on an equivalent flag (equivalent_test.go), which
// TestPeersAgreeOnTheEquivalentFlag checks is equivalent. See README.md for
// the method and the results, ratios.sh for the ratios it reports, and
// compare.sh to benchmark two revisions against each other.
//
// go generate ./bench rewrites the distribution histogram and table that
// README.md shows:
//
//go:generate go run ./cmd/distribution -out-png distribution.png -out-table distribution.txt
package bench
