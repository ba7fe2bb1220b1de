package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	const rev = "80c6e51d6f1a2b3c4d5e6f708192a3b4c5d6e7f8"
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name      string
		override  string
		bi        *debug.BuildInfo
		want      string // String()
		wantShort string
	}{
		{name: "no build info", want: "(devel), " + runtime.Version() + " " + platform, wantShort: "(devel)"},
		{name: "tagged", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("false")},
			want: "v1.2.3, commit 80c6e51d6f1a, go1.26.8 " + platform, wantShort: "v1.2.3"},
		{name: "pseudo-version of a modified tree",
			bi:        &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260301120000-80c6e51d6f1a+dirty"}, Settings: vcs("true")},
			want:      "v0.0.0-20260301120000-80c6e51d6f1a+dirty, go1.26.8 " + platform,
			wantShort: "v0.0.0-20260301120000-80c6e51d6f1a+dirty"},
		{name: "devel with a revision", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			want: "(devel), commit 80c6e51d6f1a+dirty, go1.26.8 " + platform, wantShort: "(devel) 80c6e51d6f1a+dirty"},
		{name: "devel without VCS", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: "(devel), go1.26.8 " + platform, wantShort: "(devel)"},
		{name: "link-time version", override: "v2.0.0-rc.1", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: "v2.0.0-rc.1, go1.26.8 " + platform, wantShort: "v2.0.0-rc.1"},
		{name: "short revision", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}},
			want: "(devel), commit abc123, go1.26.8 " + platform, wantShort: "(devel) abc123"},
	}
	for _, tt := range tests {
		info := fromBuildInfo(tt.override, tt.bi)
		if got := info.String(); got != tt.want {
			t.Errorf("%s: String() = %q, want %q", tt.name, got, tt.want)
		}
		if got := info.Short(); got != tt.wantShort {
			t.Errorf("%s: Short() = %q, want %q", tt.name, got, tt.wantShort)
		}
	}
}

func TestRead(t *testing.T) {
	info := Read()
	if info.Version == "" || info.GoVersion == "" || info.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("Read() = %+v, want a version, the Go version and the platform", info)
	}
}
