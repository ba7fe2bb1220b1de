package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
)

type setOptions struct {
	baseOptions

	Cart  string
	Item  string
	Qty   int64
	Price priceFlag
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
			qty, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil || qty < 0 || qty > api.MaxSetQuantity {
				return flagErrorf("quantity %q: want a whole number in 0..%d", args[2], api.MaxSetQuantity)
			}
			opts.Qty = qty
			if runF != nil {
				return runF(opts)
			}
			return runSet(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(&opts.Price, "price", "also set the unit price, a decimal such as 1.25")
	return cmd
}

func runSet(ctx context.Context, opts *setOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	qty := opts.Qty
	view, err := c.SetItem(ctx, opts.Cart, opts.Item, api.SetItemRequest{
		Quantity:       &qty,
		UnitPriceCents: opts.Price.ptr(),
	})
	if err != nil {
		return fmt.Errorf("set %s in cart %s: %w", opts.Item, opts.Cart, err)
	}
	return printCart(&opts.baseOptions, view)
}
