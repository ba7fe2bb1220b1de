package agentcli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/internal/buildinfo"
)

type versionOptions struct {
	Out io.Writer
}

func newCmdVersion(f *factory, runF func(*versionOptions) error) *cobra.Command {
	opts := &versionOptions{Out: f.Out}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of crdtd",
		Long: `Print the version of crdtd (a release tag, a pseudo-version, or "(devel)"), the
commit it was built from with "+dirty" if the tree was modified, and the Go
toolchain. "crdtd --version" prints the same.`,
		Example: `  crdtd version
  crdtd --version`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runVersion(opts)
		},
	}
}

func runVersion(opts *versionOptions) error {
	_, err := fmt.Fprintln(opts.Out, versionLine())
	return err
}

// versionLine is what "crdtd version" and "crdtd --version" print.
func versionLine() string {
	return "crdtd " + buildinfo.Read().String()
}
