package cart

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs property tests with 1,000 cases each unless -rapid.checks
// is given explicitly; -short keeps rapid's default of 100.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if !explicit && !testing.Short() {
		if err := flag.Set("rapid.checks", "1000"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
