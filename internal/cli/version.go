package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/internal/buildinfo"
)

type versionOptions struct {
	baseOptions
}

func newCmdVersion(f *factory, runF func(*versionOptions) error) *cobra.Command {
	opts := &versionOptions{baseOptions: newBaseOptions(f)}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of cartctl",
		Long: `Print the version of cartctl (a release tag, a pseudo-version, or "(devel)"),
the commit it was built from with "+dirty" if the tree was modified, and the Go
toolchain. "cartctl --version" prints the same. A node reports its own version
in "cartctl status".`,
		Example: `  cartctl version
  cartctl --version`,
		Args: requireArgs(),
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

// versionLine is what "cartctl version" and "cartctl --version" print.
func versionLine() string {
	return "cartctl " + buildinfo.Read().String()
}
