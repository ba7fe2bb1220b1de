package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type showOptions struct {
	baseOptions

	Cart string
}

func newCmdShow(f *factory, runF func(*showOptions) error) *cobra.Command {
	opts := &showOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:   "show CART",
		Short: "Show a cart",
		Long: `Show a cart as this node sees it: each item with its quantity, unit price and
subtotal, and the total. An unknown cart is shown empty.

Piped, the table has no header and no total line; use -o json for the total.

With --device, show the device's own replica of the cart; on a terminal, also
how many of its changes wait for a sync with a node.`,
		Example: `  cartctl show alice
  cartctl show alice -o json`,
		Args:              requireArgs("CART"),
		ValidArgsFunction: completeArgs(f, argCart),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cart = args[0]
			opts.Output = outputFormat(cmd)
			if err := checkIDs(args, "cart"); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runShow(cmd.Context(), opts)
		},
	}
	return cmd
}

func runShow(ctx context.Context, opts *showOptions) error {
	if ok, err := withDevice(&opts.baseOptions, func(dev *localDevice) error {
		if err := printCart(&opts.baseOptions, dev.view(opts.Cart)); err != nil {
			return err
		}
		return printPending(&opts.baseOptions, dev, opts.Cart)
	}); ok {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	view, err := c.GetCart(ctx, opts.Cart)
	if err != nil {
		return fmt.Errorf("show cart %s: %w", opts.Cart, err)
	}
	return printCart(&opts.baseOptions, view)
}
