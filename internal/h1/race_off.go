//go:build !race

package h1

// raceEnabled reports whether the build has the race detector.
const raceEnabled = false
