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
}

var execsRe = regexp.MustCompile(`execs: (\d+)`)

// TestFuzzDecodersBriefly runs `go test -fuzz` on every decoder for
// FAULTS_FUZZTIME each (default 3s). A longer run of one target:
//
//	go test ./crdt -run '^$' -fuzz '^FuzzORSet$' -fuzztime 10m
func TestFuzzDecodersBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzing; skipped with -short")
	}
	fuzztime := envDuration("FAULTS_FUZZTIME", 3*time.Second)
	total := 0
	for _, ft := range fuzzTargets {
		cmd := exec.Command("go", "test", "-run", "^$", "-fuzz", "^"+ft.target+"$", "-fuzztime", fuzztime.String(), ft.pkg)
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s %s: %v\n%s", ft.pkg, ft.target, err, out)
			continue
		}
		execs := 0
		for _, m := range execsRe.FindAllSubmatch(out, -1) {
			execs, _ = strconv.Atoi(string(m[1]))
		}
		total += execs
		t.Logf("%s: %d executions in %v, no failure", ft.target, execs, fuzztime)
	}
	t.Logf("fuzzed %d decoders: %d executions in all", len(fuzzTargets), total)
}
