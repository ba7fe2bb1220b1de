package agentcli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crdtd/crdtd/internal/store"
)

type checkDataOptions struct {
	Out     io.Writer
	DataDir string
}

// newCmdCheckData returns "crdtd check-data".
func newCmdCheckData(f *factory) *cobra.Command {
	opts := &checkDataOptions{Out: f.Out}
	cmd := &cobra.Command{
		Use:   "check-data",
		Short: "Check every page of a stopped node's data file",
		Long: `Read every page of the data file of a stopped node and report any damage.

A node checks its data file this way at start while the file is at most 64 MiB;
past that the check would make every restart as slow as reading every cart, so
the node skips it and says so in its log. Run this instead, with the node
stopped, after a disk error or an unclean power loss, or from time to time.

Exit 0: the file is sound. Exit 1: damage (move the data directory aside and
restart the node: it starts under a fresh replica ID and its carts come back
from its peers), a running node holding the directory, or no data file.`,
		Example: `  systemctl stop crdtd
  crdtd check-data --data-dir /var/lib/crdtd
  systemctl start crdtd`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := setFlagsFromEnv(cmd.Flags(), f.LookupEnv); err != nil {
				return err
			}
			if opts.DataDir == "" {
				return flagErrorf("--data-dir must not be empty")
			}
			return runCheckData(opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.DataDir, "data-dir", defaultDataDir, "data directory of the stopped node")
	flags.VisitAll(func(fl *pflag.Flag) { fl.Usage += " [$" + envName(fl.Name) + "]" })
	return cmd
}

func runCheckData(opts *checkDataOptions) error {
	err := store.CheckDataFile(opts.DataDir, store.Options{})
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%s is in use by a running node: stop it first", opts.DataDir)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s holds no data file (%s)", opts.DataDir, store.FileName)
	case err != nil:
		return err
	}
	fmt.Fprintf(opts.Out, "%s: sound (%d bytes)\n", filepath.Join(filepath.Clean(opts.DataDir), store.FileName), store.DataFileSize(opts.DataDir))
	return nil
}
