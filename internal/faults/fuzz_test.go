package faults

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// fuzzTargets are every decoder's fuzz target. Their seed corpora run in
// every `go test`; TestFuzzDecodersBriefly also fuzzes each for a few
// seconds, so that CI explores beyond the seeds on every change.
var fuzzTargets = []struct{ pkg, target string }{
	{"github.com/crdtd/crdtd/crdt", "FuzzGCounter"},
	{"github.com/crdtd/crdtd/crdt", "FuzzPNCounter"},
	{"github.com/crdtd/crdtd/crdt", "FuzzLWWRegister"},
	{"github.com/crdtd/crdtd/crdt", "FuzzORSet"},
	{"github.com/crdtd/crdtd/crdt", "FuzzORMap"},
	{"github.com/crdtd/crdtd/cart", "FuzzDecodeCart"},
	{"github.com/crdtd/crdtd/gossip", "FuzzDecode"},
	{"github.com/crdtd/crdtd/internal/store", "FuzzReadFrame"},
	{"github.com/crdtd/crdtd/internal/h1", "FuzzServe"},
	{"github.com/crdtd/crdtd/internal/h1", "FuzzReadRequest"},
}

var execsRe = regexp.MustCompile(`execs: (\d+)`)

// fuzzExecsRe is the form of FAULTS_FUZZ_EXECS: a count of executions.
var fuzzExecsRe = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

// TestFuzzDecodersBriefly runs `go test -fuzz` on every decoder for
// FAULTS_FUZZ_EXECS executions each (default 20,000, a few seconds). The
// budget is a count, not a duration: when a -fuzztime duration runs out
// while a worker is busy, Go 1.26's fuzzing coordinator can report a
// spurious "context deadline exceeded" failure (go.dev/issue/75804, fixed
// in Go 1.27). A longer run of one target:
//
//	go test ./crdt -run '^$' -fuzz '^FuzzORSet$' -fuzztime 10000000x
func TestFuzzDecodersBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzing; skipped with -short")
	}
	execs := os.Getenv("FAULTS_FUZZ_EXECS")
	if execs == "" {
		execs = "20000"
	}
	if !fuzzExecsRe.MatchString(execs) {
		t.Fatalf("FAULTS_FUZZ_EXECS=%q: want a count of executions, such as 20000", execs)
	}
	total := 0
	for _, ft := range fuzzTargets {
		start := time.Now()
		cmd := exec.Command("go", "test", "-run", "^$", "-fuzz", "^"+ft.target+"$", "-fuzztime", execs+"x", ft.pkg)
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s %s: %v\n%s", ft.pkg, ft.target, err, out)
			continue
		}
		n := 0
		for _, m := range execsRe.FindAllSubmatch(out, -1) {
			n, _ = strconv.Atoi(string(m[1]))
		}
		total += n
		t.Logf("%s: %d executions in %v, no failure", ft.target, n, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("fuzzed %d decoders: %d executions in all", len(fuzzTargets), total)
}
