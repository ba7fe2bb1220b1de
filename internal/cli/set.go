package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
)

type setOptions struct {
	baseOptions

	Cart  string
	Item  string
	Qty   int64
	Price priceFlag

	IdempotencyKey string // --idempotency-key; empty means a new key
}

func newCmdSet(f *factory, runF func(*setOptions) error) *cobra.Command {
	opts := &setOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:   "set CART ITEM QTY",
		Short: "Set the quantity of an item in a cart",
		Long: `Set the quantity of an item in a cart, replacing what this node has seen,
and print the resulting cart. A quantity of 0 removes the item.

Adds made concurrently on other nodes still count on top of the new quantity;
of two concurrent sets, the later one wins. --price also sets the unit price.`,
		Example: `  cartctl set alice apple 5
  cartctl set alice apple 5 --price 0.99
  cartctl set alice apple 0`,
		Args:              requireArgs("CART", "ITEM", "QTY"),
		ValidArgsFunction: completeArgs(f, argCart, argItem, argOther),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cart, opts.Item = args[0], args[1]
			opts.Output = outputFormat(cmd)
			if err := checkIDs(args, "cart", "item"); err != nil {
				return err
			}
			if err := checkIdempotencyKey(opts.IdempotencyKey); err != nil {
				return err
			}
			qty, err := parseSetQuantity(args[2])
			if err != nil {
				return err
			}
			opts.Qty = qty
			if runF != nil {
				return runF(opts)
			}
			return runSet(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(&opts.Price, "price", "also set the unit price, a decimal such as 1.25")
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// "set alice apple -1": pflag stops at -1, taking it for a flag, after CART and ITEM.
		if arg, ok := negativeNumberArg(err); ok && len(cmd.Flags().Args()) == 2 {
			_, err := parseSetQuantity(arg)
			return err
		}
		return flagError(cmd, err)
	})
	addIdempotencyKeyFlag(cmd, &opts.IdempotencyKey)
	return cmd
}

// parseSetQuantity parses the QTY argument of set: a usage error unless it is 0..MaxSetQuantity.
func parseSetQuantity(s string) (int64, error) {
	qty, err := parseQuantity(s, 0, api.MaxSetQuantity)
	if err != nil {
		return 0, flagErrorf("quantity %q: %v", s, err)
	}
	return qty, nil
}

func runSet(ctx context.Context, opts *setOptions) error {
	if ok, err := withDevice(&opts.baseOptions, func(dev *localDevice) error {
		if err := dev.Set(opts.Cart, opts.Item, uint64(opts.Qty), opts.Price.ptr()); err != nil {
			return fmt.Errorf("set %s in cart %s: %w", opts.Item, opts.Cart, err)
		}
		return printCart(&opts.baseOptions, dev.view(opts.Cart))
	}); ok {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	qty := opts.Qty
	key := mutationKey(opts.IdempotencyKey)
	ctx = withIdempotencyKey(ctx, key)
	view, err := c.SetItem(ctx, opts.Cart, opts.Item, api.SetItemRequest{
		Quantity:       &qty,
		UnitPriceCents: opts.Price.ptr(),
	})
	if err != nil {
		return mutationError(fmt.Errorf("set %s in cart %s: %w", opts.Item, opts.Cart, err), opts.Cart, key)
	}
	return printCart(&opts.baseOptions, view)
}
