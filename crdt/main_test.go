package crdt_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain raises rapid's default number of cases per property from 100 to
// 1,000, so that CI checks every law and model property on at least a
// thousand generated histories. An explicit -rapid.checks flag or
// RAPID_CHECKS variable wins (the nightly job raises it further), and
// -short keeps rapid's default for quick local runs.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "rapid.checks" {
			explicit = true
		}
	})
	if _, ok := os.LookupEnv("RAPID_CHECKS"); !ok && !explicit && !testing.Short() {
		if err := flag.Set("rapid.checks", "1000"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
