package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type removeOptions struct {
	baseOptions

	Cart string
	Item string

	IdempotencyKey string // --idempotency-key; empty means a new key
}

func newCmdRemove(f *factory, runF func(*removeOptions) error) *cobra.Command {
	opts := &removeOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:     "remove CART ITEM",
		Aliases: []string{"rm"},
		Short:   "Remove an item from a cart",
		Long: `Remove an item's line from a cart and print the resulting cart.

The remove covers what this node has seen: an add made concurrently on another
node, not yet seen here, survives it. Removing an absent item is not an error.`,
		Example:           `  cartctl remove alice apple`,
		Args:              requireArgs("CART", "ITEM"),
		ValidArgsFunction: completeArgs(f, argCart, argItem),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cart, opts.Item = args[0], args[1]
			opts.Output = outputFormat(cmd)
			if err := checkIDs(args, "cart", "item"); err != nil {
				return err
			}
			if err := checkIdempotencyKey(opts.IdempotencyKey); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runRemove(cmd.Context(), opts)
		},
	}
	addIdempotencyKeyFlag(cmd, &opts.IdempotencyKey)
	return cmd
}

func runRemove(ctx context.Context, opts *removeOptions) error {
	if ok, err := withDevice(&opts.baseOptions, func(dev *localDevice) error {
		if err := dev.Remove(opts.Cart, opts.Item); err != nil {
			return fmt.Errorf("remove %s from cart %s: %w", opts.Item, opts.Cart, err)
		}
		return printCart(&opts.baseOptions, dev.view(opts.Cart))
	}); ok {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	key := mutationKey(opts.IdempotencyKey)
	ctx = withIdempotencyKey(ctx, key)
	view, err := c.RemoveItem(ctx, opts.Cart, opts.Item)
	if err != nil {
		return mutationError(fmt.Errorf("remove %s from cart %s: %w", opts.Item, opts.Cart, err), opts.Cart, key)
	}
	return printCart(&opts.baseOptions, view)
}
