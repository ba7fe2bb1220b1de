package agentcli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the release of this build, set at link time:
//
//	go build -ldflags "-X github.com/crdtd/crdtd/internal/agentcli.Version=v1.2.3" ./cmd/crdtd
//
// Nodes report it in /v1/status.
var Version = "dev"

type versionOptions struct {
	Out io.Writer
}

func newCmdVersion(f *factory, runF func(*versionOptions) error) *cobra.Command {
	opts := &versionOptions{Out: f.Out}
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of crdtd",
		Long:    "Print the release of crdtd, then the commit and Go toolchain it was built from when known.",
		Example: `  crdtd version`,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runVersion(opts)
		},
	}
}

func runVersion(opts *versionOptions) error {
	info, _ := debug.ReadBuildInfo()
	_, err := fmt.Fprintln(opts.Out, versionString(Version, info))
	return err
}

// versionString formats the version line from the link-time release and the build info, which
// may be nil: "crdtd v1.2.3 (commit 80c6e51d6f1a, modified; go1.26.8 linux/amd64)".
func versionString(release string, info *debug.BuildInfo) string {
	goVersion := runtime.Version()
	var details []string
	if info != nil {
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		// "go install module@v1.2.3" records the module version: better than "dev".
		if release == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			release = info.Main.Version
		}
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			details = append(details, "commit "+rev[:min(12, len(rev))])
			if modified == "true" {
				details[len(details)-1] += ", modified"
			}
		}
	}
	details = append(details, goVersion+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("crdtd %s (%s)", release, strings.Join(details, "; "))
}
