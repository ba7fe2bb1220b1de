package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/client"
)

// completionTimeout bounds how long a shell completion waits for the node: a slow or absent node
// must not freeze the user's shell.
const completionTimeout = 2 * time.Second

// requireArgs accepts exactly the named positional arguments and reports a missing or extra one
// as a usage error naming it.
func requireArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return flagErrorf("missing %s", strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return flagErrorf("unexpected argument %q", args[len(names)])
		}
		return nil
	}
}

// checkIDs reports the first invalid cart or item ID among args as a usage error. kinds names each
// argument ("cart", "item").
func checkIDs(args []string, kinds ...string) error {
	for i, kind := range kinds {
		if err := client.ValidateID(args[i]); err != nil {
			return flagErrorf("%s: %v", kind, err)
		}
	}
	return nil
}

// argKind says what a positional argument holds, for completion.
type argKind int

const (
	argOther argKind = iota // nothing to suggest
	argCart                 // a cart name; suggest the node's carts
	argItem                 // an item of the cart in the first argument; suggest its items
)

// completeArgs completes positional arguments of the given kinds by asking the node. It suggests
// nothing, quietly, when the node cannot be reached within completionTimeout.
func completeArgs(f *factory, kinds ...argKind) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const none = cobra.ShellCompDirectiveNoFileComp
		if len(args) >= len(kinds) {
			return nil, none
		}
		kind := kinds[len(args)]
		if kind == argOther {
			return nil, none
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		c, err := f.Client()
		if err != nil {
			return nil, none
		}
		var names []string
		switch kind {
		case argCart:
			list, err := c.ListCarts(ctx)
			if err != nil {
				return nil, none
			}
			names = list.Carts
		case argItem:
			view, err := c.GetCart(ctx, args[0])
			if err != nil {
				return nil, none
			}
			for _, l := range view.Items {
				names = append(names, l.Item)
			}
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, none
	}
}
