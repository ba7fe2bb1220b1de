package crdt_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain sets how many cases each rapid property runs: 1,000, or 100
// with -short. rapid itself divides its count by five under -short, so
// -short sets 500 to get 100. An explicit -rapid.checks flag or
// RAPID_CHECKS variable wins (the nightly job raises it); rapid still
// divides those by five under -short.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if _, ok := os.LookupEnv("RAPID_CHECKS"); !ok && !explicit {
		checks := "1000"
		if testing.Short() {
			checks = "500" // 100 after rapid's division by five
		}
		if err := flag.Set("rapid.checks", checks); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

// noErr returns v, panicking on an error: for deltas of mutators that fail
// only when a replica runs out of dots, which no test reaches by accident.
func noErr[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
