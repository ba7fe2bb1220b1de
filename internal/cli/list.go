package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type listOptions struct {
	baseOptions
}

func newCmdList(f *factory, runF func(*listOptions) error) *cobra.Command {
	opts := &listOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the carts a node knows",
		Long:    `List the names of all carts the node knows, one per line, sorted.`,
		Example: `  cartctl list
  cartctl list -o json`,
		Args: requireArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output = outputFormat(cmd)
			if runF != nil {
				return runF(opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	return cmd
}

func runList(ctx context.Context, opts *listOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.ListCarts(ctx)
	if err != nil {
		return fmt.Errorf("list carts: %w", err)
	}
	p, err := opts.printer()
	if err != nil {
		return err
	}
	return p.cartList(list)
}
