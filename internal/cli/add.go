package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
)

type addOptions struct {
	baseOptions

	Cart  string
	Item  string
	Qty   quantityFlag
	Price priceFlag

	IdempotencyKey string // --idempotency-key; empty means a new key
}

func newCmdAdd(f *factory, runF func(*addOptions) error) *cobra.Command {
	opts := &addOptions{baseOptions: newBaseOptions(f)}
	cmd := &cobra.Command{
		Use:   "add CART ITEM",
		Short: "Add items to a cart",
		Long: `Add a quantity of an item to a cart and print the resulting cart.

Adds on different nodes add up: two concurrent adds of 1 apple make 2 apples.
--price also sets the item's unit price; without it the price stays as it is.`,
		Example: `  cartctl add alice apple
  cartctl add alice apple --qty 3 --price 1.25`,
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
			return runAdd(cmd.Context(), opts)
		},
	}
	opts.Qty = quantityFlag{N: 1, Min: 1, Max: api.MaxAddQuantity}
	cmd.Flags().VarP(&opts.Qty, "qty", "n", fmt.Sprintf("how many to add, 1..%d", api.MaxAddQuantity))
	cmd.Flags().Var(&opts.Price, "price", "set the unit price, a decimal such as 1.25")
	addIdempotencyKeyFlag(cmd, &opts.IdempotencyKey)
	return cmd
}

func runAdd(ctx context.Context, opts *addOptions) error {
	if ok, err := withDevice(&opts.baseOptions, func(dev *localDevice) error {
		if err := dev.Add(opts.Cart, opts.Item, uint64(opts.Qty.N), opts.Price.ptr()); err != nil {
			return fmt.Errorf("add %s to cart %s: %w", opts.Item, opts.Cart, err)
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
	view, err := c.AddItem(ctx, opts.Cart, api.AddItemRequest{
		Item:           opts.Item,
		Quantity:       opts.Qty.N,
		UnitPriceCents: opts.Price.ptr(),
	})
	if err != nil {
		return mutationError(fmt.Errorf("add %s to cart %s: %w", opts.Item, opts.Cart, err), opts.Cart, key)
	}
	return printCart(&opts.baseOptions, view)
}

// printCart prints the cart a command read or changed, and warns on stderr
// when its figures were capped (concurrent edits pushed them past int64).
func printCart(opts *baseOptions, view api.CartView) error {
	p, err := opts.printer()
	if err != nil {
		return err
	}
	if view.Overflow && opts.ErrOut != nil {
		fmt.Fprintf(opts.ErrOut, "warning: cart %s exceeds the largest total a cart can hold; quantities and totals shown are capped\n", view.Cart)
	}
	return p.cart(view)
}

// outputFormat returns the value of the global -o/--output flag.
func outputFormat(cmd *cobra.Command) string {
	if fl := cmd.Flag("output"); fl != nil {
		return fl.Value.String()
	}
	return formatTable
}
