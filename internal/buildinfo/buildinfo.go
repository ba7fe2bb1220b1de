// Package buildinfo reports what a crdtd or cartctl binary was built from: the module version,
// the VCS revision and whether the working tree had uncommitted changes, as the Go toolchain
// records them (runtime/debug.ReadBuildInfo), so that "crdtd --version" and
// "cartctl --version" answer which code is running.
//
// A build at a tagged commit says its tag ("v1.2.3"). Since Go 1.24, "go build" in a clone
// derives a pseudo-version such as "v0.0.0-20260301120000-80c6e51d6f1a+dirty" from the
// commit; a build without VCS information (outside a clone, -buildvcs=false, go test) says
// "(devel)". The revision, when recorded, is shown as its first 12 hex digits, with "+dirty"
// when the tree was modified.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version, when set at link time, replaces the module version of the build, for release
// pipelines that build without VCS information:
//
//	go build -ldflags "-X github.com/crdtd/crdtd/internal/buildinfo.Version=v1.2.3" ./cmd/...
var Version string

// devel is the version of a build whose module version is unknown, as the Go toolchain says.
const devel = "(devel)"

// Info describes one build. It is a plain value.
type Info struct {
	Version   string // the tag, a pseudo-version, or "(devel)" when unknown
	Revision  string // the VCS revision (commit hash); empty when the build recorded none
	Modified  bool   // the working tree had uncommitted changes
	GoVersion string // the toolchain, such as "go1.26.8"
	Platform  string // GOOS/GOARCH, such as "linux/amd64"
}

// Read returns the Info of the running binary.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(Version, bi)
}

// fromBuildInfo builds the Info from the link-time version override (empty for none) and the
// toolchain's build information, which may be nil.
func fromBuildInfo(override string, bi *debug.BuildInfo) Info {
	info := Info{Version: devel, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if override != "" {
		info.Version = override
	}
	return info
}

// Commit returns the short revision, with "+dirty" if the tree was modified: "80c6e51d6f1a",
// "80c6e51d6f1a+dirty", or "" when the build recorded no revision.
func (i Info) Commit() string {
	if i.Revision == "" {
		return ""
	}
	c := i.Revision[:min(12, len(i.Revision))]
	if i.Modified {
		c += "+dirty"
	}
	return c
}

// Short returns the version, followed for a (devel) build by its commit when known: what a node
// reports in /v1/status, short enough for a table and telling builds apart.
func (i Info) Short() string {
	if i.Version == devel && i.Revision != "" {
		return i.Version + " " + i.Commit()
	}
	return i.Version
}

// String returns the whole description on one line: "v1.2.3, commit 80c6e51d6f1a, go1.26.8
// linux/amd64", or "(devel), go1.26.8 linux/amd64" without VCS information. The commit is
// left out when the version, a pseudo-version, already spells it.
func (i Info) String() string {
	parts := []string{i.Version}
	if c := i.Commit(); c != "" && !strings.Contains(i.Version, c) {
		parts = append(parts, "commit "+c)
	}
	parts = append(parts, i.GoVersion+" "+i.Platform)
	return strings.Join(parts, ", ")
}
