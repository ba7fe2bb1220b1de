package agentcli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/internal/buildinfo"
)

// TestVersion: "crdtd version" and "crdtd --version" print the same line, from the build info.
func TestVersion(t *testing.T) {
	want := "crdtd " + buildinfo.Read().String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &factory{Out: &stdout, ErrOut: &stderr}); code != ExitOK {
			t.Fatalf("%q = %d, want %d; stderr:\n%s", args, code, ExitOK, stderr.String())
		}
		if got := stdout.String(); got != want {
			t.Errorf("%q printed %q, want %q", args, got, want)
		}
		if !strings.Contains(stdout.String(), "go1.") || stderr.Len() != 0 {
			t.Errorf("%q printed %q, stderr %q; want the Go version and nothing on stderr", args, stdout.String(), stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"-v"}, &factory{Out: &bytes.Buffer{}, ErrOut: &stderr}); code != ExitUsage {
		t.Errorf("-v = %d, want %d: --version has no shorthand", code, ExitUsage)
	}
}
