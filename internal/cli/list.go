package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
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
		Long: `List the names of all carts the node knows, one per line, sorted.

With --device, list the carts the device holds with at least one line.`,
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
	if ok, err := withDevice(&opts.baseOptions, func(dev *localDevice) error {
		return printCartList(&opts.baseOptions, deviceCarts(dev))
	}); ok {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.ListCarts(ctx)
	if err != nil {
		return fmt.Errorf("list carts: %w", err)
	}
	return printCartList(&opts.baseOptions, list)
}

// deviceCarts lists the device's carts as a node lists its own: those with at least one line,
// sorted. A cart the device emptied is still held, and synced by a bare cartctl sync.
func deviceCarts(dev *localDevice) api.CartList {
	list := api.CartList{Carts: []string{}}
	for _, id := range dev.Carts() {
		if len(dev.View(id).Lines) > 0 {
			list.Carts = append(list.Carts, id)
		}
	}
	return list
}

func printCartList(opts *baseOptions, list api.CartList) error {
	p, err := opts.printer()
	if err != nil {
		return err
	}
	return p.cartList(list)
}
