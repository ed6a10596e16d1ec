//go:build race

package bench

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// code that pools (regexp's matchers) allocates now and then under -race.
const raceEnabled = true
