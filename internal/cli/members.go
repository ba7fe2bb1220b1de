package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type membersOptions struct {
	baseOptions
}

func newCmdMembers(f *factory, runF func(*membersOptions) error) *cobra.Command {
	opts := &membersOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the cluster members a node sees",
		Long: `List the cluster members as the node's membership sees them: name, state
(alive, suspect, dead or left), gossip address, API address and replica ID.`,
		Example: `  cartctl members
  cartctl members --node 127.0.0.1:7071 -o json`,
		Args: requireArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output = outputFormat(cmd)
			if runF != nil {
				return runF(opts)
			}
			return runMembers(cmd.Context(), opts)
		},
	}
	return cmd
}

func runMembers(ctx context.Context, opts *membersOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.Members(ctx)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	p, err := opts.printer()
	if err != nil {
		return err
	}
	return p.members(list)
}
