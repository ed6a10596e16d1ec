package provider

// FullLoads returns how many reads of every flag the provider has merged
// off its loop (BenchmarkPropagation's evidence that it measured during
// resyncs).
func FullLoads(p *Provider) int64 { return p.stats.fullLoads.Load() }

// BulkRunning reports whether a read off the loop (a resync's, a
// reconnection's) is out.
func BulkRunning(p *Provider) bool { return p.stats.bulkRunning.Load() }
