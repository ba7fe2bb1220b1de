package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type statusOptions struct {
	baseOptions
}

func newCmdStatus(f *factory, runF func(*statusOptions) error) *cobra.Command {
	opts := &statusOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a node's identity and how consistent it is with its peers",
		Long: `Show the node's name, replica ID, addresses, version, uptime, number of carts,
state digest and member counts, then for each peer: its state, whether the two
nodes' digests agreed at the last check and how long ago that was, and how
stale the peer's heartbeat is on this node ("never" if none arrived yet).

Nodes with equal digests hold equal carts.`,
		Example: `  cartctl status
  cartctl status -o json`,
		Args: requireArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output = outputFormat(cmd)
			if runF != nil {
				return runF(opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	return cmd
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return fmt.Errorf("get status: %w", err)
	}
	p, err := opts.printer()
	if err != nil {
		return err
	}
	return p.status(st)
}
