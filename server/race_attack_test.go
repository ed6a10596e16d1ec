//go:build race

package server

// raceEnabled: the race detector multiplies memory several times, so the
// unbounded reference of the RSS attack (≈0.5 GB without it) is not run.
const raceEnabled = true
