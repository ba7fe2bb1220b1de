package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type clearOptions struct {
	baseOptions

	Cart string

	IdempotencyKey string // --idempotency-key; empty means a new key
}

func newCmdClear(f *factory, runF func(*clearOptions) error) *cobra.Command {
	opts := &clearOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:   "clear CART",
		Short: "Remove every item from a cart",
		Long: `Remove every item this node has seen from a cart and print the resulting cart.

Items added concurrently on other nodes, not yet seen here, remain.`,
		Example:           `  cartctl clear alice`,
		Args:              requireArgs("CART"),
		ValidArgsFunction: completeArgs(f, argCart),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cart = args[0]
			opts.Output = outputFormat(cmd)
			if err := checkIDs(args, "cart"); err != nil {
				return err
			}
			if err := checkIdempotencyKey(opts.IdempotencyKey); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runClear(cmd.Context(), opts)
		},
	}
	addIdempotencyKeyFlag(cmd, &opts.IdempotencyKey)
	return cmd
}

func runClear(ctx context.Context, opts *clearOptions) error {
	if ok, err := withDevice(&opts.baseOptions, func(dev *localDevice) error {
		if err := dev.Clear(opts.Cart); err != nil {
			return fmt.Errorf("clear cart %s: %w", opts.Cart, err)
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
	view, err := c.ClearCart(ctx, opts.Cart)
	if err != nil {
		return mutationError(fmt.Errorf("clear cart %s: %w", opts.Cart, err), opts.Cart, key)
	}
	return printCart(&opts.baseOptions, view)
}
