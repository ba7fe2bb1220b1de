package agentcli

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name    string
		release string
		info    *debug.BuildInfo
		want    string
	}{
		{name: "no build info", release: "dev", want: "crdtd dev (" + runtime.Version() + " " + platform + ")"},
		{name: "link-time release", release: "v1.2.3",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "80c6e51d6f1a2b3c4d5e6f708192a3b4c5d6e7f8"}, {Key: "vcs.modified", Value: "false"}}},
			want: "crdtd v1.2.3 (commit 80c6e51d6f1a; go1.26.8 " + platform + ")"},
		{name: "modified tree", release: "dev",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			want: "crdtd dev (commit abc123, modified; go1.26.8 " + platform + ")"},
		{name: "go install at a version", release: "dev",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			want: "crdtd v0.4.0 (go1.26.8 " + platform + ")"},
	}
	for _, tt := range tests {
		if got := versionString(tt.release, tt.info); got != tt.want {
			t.Errorf("%s: versionString(%q, ...) = %q, want %q", tt.name, tt.release, got, tt.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"version"}, &factory{Out: &stdout, ErrOut: &stderr}); code != ExitOK {
		t.Fatalf("version = %d, want %d; stderr:\n%s", code, ExitOK, stderr.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "crdtd "+Version+" (") || !strings.HasSuffix(out, ")\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("version printed %q, want one line \"crdtd %s (...)\"", out, Version)
	}
	if !strings.Contains(out, "go1.") {
		t.Errorf("version printed %q, want the Go version in it", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("version wrote to stderr: %q", stderr.String())
	}
}
