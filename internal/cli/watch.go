package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

type watchOptions struct {
	baseOptions

	Cart string
	// StartTimeout bounds the wait for the first view (the global --timeout): a watch runs until
	// interrupted, so the timeout cannot bound the whole command.
	StartTimeout time.Duration

	now func() time.Time // the clock of the headings on a terminal
}

func newCmdWatch(f *factory, runF func(*watchOptions) error) *cobra.Command {
	opts := &watchOptions{baseOptions: newBaseOptions(f), now: time.Now}
	cmd := &cobra.Command{
		Use:   "watch CART",
		Short: "Print a cart every time it changes",
		Long: `Print a cart as this node sees it, then again each time it changes: a write on
this node, a device's sync, or a change that arrives from another node. A burst
of changes prints the latest cart at most 20 times a second. Runs until
interrupted (Ctrl-C).

On a terminal each cart is a table under a line with its name and the time.
Piped, each cart is its rows, tab-separated, followed by an empty line. With
-o json each cart is one JSON object on one line, the API's JSON.

--timeout bounds reaching the node at the start. If the node goes away later,
watch reconnects by itself and goes on.`,
		Example: `  cartctl watch alice
  cartctl watch alice -o json | jq --unbuffered .total_cents`,
		Args:              requireArgs("CART"),
		ValidArgsFunction: completeArgs(f, argCart),
		// The root's hook bounds the whole command by --timeout; a watch has no end, so it
		// applies --timeout to its start only (see StartTimeout).
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cart = args[0]
			opts.Output = outputFormat(cmd)
			if err := checkIDs(args, "cart"); err != nil {
				return err
			}
			timeout, err := cmd.Flags().GetDuration("timeout")
			if err != nil {
				return err
			}
			if timeout <= 0 {
				return flagErrorf("--timeout must be positive, got %v", timeout)
			}
			opts.StartTimeout = timeout
			if runF != nil {
				return runF(opts)
			}
			return runWatch(cmd.Context(), opts)
		},
	}
	return cmd
}

// errNoFirstView ends a watch whose first view did not arrive within --timeout.
var errNoFirstView = errors.New("no first view")

// runWatch prints the cart on every change until ctx ends, which is a normal end (Ctrl-C).
func runWatch(ctx context.Context, opts *watchOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.AfterFunc(opts.StartTimeout, func() { cancel(errNoFirstView) })
	defer start.Stop()
	first := true
	err = c.Watch(wctx, opts.Cart, func(v api.CartView) error {
		if first {
			if !start.Stop() {
				return errNoFirstView // it came just too late
			}
			first = false
		}
		return opts.printView(v)
	})
	switch {
	case errors.Is(err, errNoFirstView) || errors.Is(context.Cause(wctx), errNoFirstView):
		return fmt.Errorf("watch cart %s: %w: no answer within %v", opts.Cart, client.ErrUnreachable, opts.StartTimeout)
	case ctx.Err() != nil:
		return nil
	}
	return fmt.Errorf("watch cart %s: %w", opts.Cart, err)
}

// printView prints one view of the watched cart: a table under a heading on a terminal, rows and
// an empty line when piped, one line of JSON with -o json.
func (o *watchOptions) printView(v api.CartView) error {
	if o.Output == formatJSON {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(append(b, '\n'))
		return err
	}
	if o.IsTTY {
		if _, err := fmt.Fprintf(o.Out, "%s at %s\n", sanitize(v.Cart), o.now().Format("15:04:05")); err != nil {
			return err
		}
	}
	if err := printCart(&o.baseOptions, v); err != nil {
		return err
	}
	_, err := fmt.Fprintln(o.Out)
	return err
}
