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

type resetReplicaOptions struct {
	Out     io.Writer
	DataDir string
}

// newCmdResetReplica returns "crdtd reset-replica". runF, if not nil, replaces runResetReplica.
func newCmdResetReplica(f *factory, runF func(*resetReplicaOptions) error) *cobra.Command {
	opts := &resetReplicaOptions{Out: f.Out}
	cmd := &cobra.Command{
		Use:   "reset-replica",
		Short: "Give a stopped node's data directory a fresh replica ID",
		Long: `Give the data directory of a stopped node a fresh replica ID, keeping its
carts, its idempotency keys and its write-ahead log.

Run it on a data directory restored from a backup, before the node starts:
the node went on changing carts after the backup, under its replica ID, and
its peers hold those changes. Restarted under the same ID, the node would
number its next changes as it numbered those, and every peer would drop them
as already seen. Under a fresh ID every change is new; the restored carts
catch up from the peers as usual. Not needed when the directory is exactly
the node's last state (a copy taken while it was stopped, and it has not run
since).

The command refuses a directory a running node holds, and one without a data
file. It prints the old and the new replica ID.`,
		Example: `  systemctl stop crdtd
  # restore /var/lib/crdtd from the backup, then:
  crdtd reset-replica --data-dir /var/lib/crdtd
  systemctl start crdtd`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := setFlagsFromEnv(cmd.Flags(), f.LookupEnv); err != nil {
				return err
			}
			if opts.DataDir == "" {
				return flagErrorf("--data-dir must not be empty")
			}
			if runF != nil {
				return runF(opts)
			}
			return runResetReplica(opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.DataDir, "data-dir", defaultDataDir, "data directory of the stopped node")
	flags.VisitAll(func(fl *pflag.Flag) { fl.Usage += " [$" + envName(fl.Name) + "]" })
	return cmd
}

func runResetReplica(opts *resetReplicaOptions) error {
	oldID, newID, err := store.ResetReplicaID(opts.DataDir, store.Options{})
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%s is in use by a running node: stop it first", opts.DataDir)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s holds no data file (%s): nothing to reset", opts.DataDir, store.FileName)
	case err != nil:
		return err
	}
	fmt.Fprintf(opts.Out, "%s: replica ID %s replaced by %s\n", filepath.Clean(opts.DataDir), oldID, newID)
	return nil
}
