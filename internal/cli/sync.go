package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
)

// A node defers a push that removes or replaces a change it has not seen yet (409 sync_behind,
// Retry-After: 1): the device learned it from another node, and gossip brings it here, usually
// within a second. sync waits as asked and tries again, a few times, within --timeout.
const (
	maxBehindRetries  = 4
	defaultBehindWait = time.Second // when the node says nothing
)

type syncOptions struct {
	baseOptions

	Carts []string // the carts to sync, in order; none means every cart the device holds

	sleep func(context.Context, time.Duration) error // waits before sending a deferred push again
}

func newCmdSync(f *factory, runF func(*syncOptions) error) *cobra.Command {
	opts := &syncOptions{baseOptions: newBaseOptions(f), sleep: sleepCtx}
	cmd := &cobra.Command{
		Use:   "sync [CART...]",
		Short: "Exchange a device's changes with a node",
		Long: `Send the changes made on the device (--device or $CARTCTL_DEVICE) to the node
(--node), and take the node's changes in return: for the carts named or, with
none, for every cart the device holds. Naming a cart the device does not hold
fetches it from the node.

Each change is applied once however often it is sent and to whichever node, so
a sync can always be run again, through any node. When the node cannot be
reached (exit 3) or refuses a push (exit 1), the device keeps every change no
node has acknowledged. A push the node defers because it has not yet seen a
change the device learned elsewhere is sent again after the wait the node asks
for, a few times within --timeout.

On a terminal each cart gets a line saying what happened. Piped, each cart is a
row: name, changes pushed, lines now, and whether the node's answer changed the
device's cart (true or false). -o json prints the same as one object.`,
		Example: `  cartctl --device ~/.cartctl-device add alice apple --qty 2   # offline
  cartctl --device ~/.cartctl-device sync
  CARTCTL_DEVICE=~/.cartctl-device cartctl --node 127.0.0.1:7071 sync alice bob`,
		Args: func(_ *cobra.Command, args []string) error {
			for _, a := range args {
				if err := client.ValidateID(a); err != nil {
					return flagErrorf("cart: %v", err)
				}
			}
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Carts = nil
			for _, a := range args {
				if !slices.Contains(opts.Carts, a) {
					opts.Carts = append(opts.Carts, a)
				}
			}
			opts.Output = outputFormat(cmd)
			if runF != nil {
				return runF(opts)
			}
			return runSync(cmd.Context(), opts)
		},
	}
	return cmd
}

// syncReport is what a sync did, per cart, in the order synced. It is the JSON of -o json.
type syncReport struct {
	Carts []syncResult `json:"carts"`
}

// syncResult is what the sync of one cart did.
type syncResult struct {
	Cart string `json:"cart"`
	// Pushed counts the device's changes the node acknowledged (edits, as cartctl show counts
	// them): 0 when the device had none waiting.
	Pushed int `json:"pushed"`
	// Received is true when the node's answer changed the device's cart: the node had changes
	// the device lacked.
	Received bool `json:"received"`
	// Lines counts the lines of the cart after the sync, on the device and, as of its answer,
	// on the node.
	Lines int `json:"lines"`
}

// summary says what happened in words, for a terminal.
func (r syncResult) summary() string {
	now := plural(r.Lines, "line")
	switch {
	case r.Pushed > 0 && r.Received:
		return fmt.Sprintf("pushed %s and got the node's; now %s", plural(r.Pushed, "change"), now)
	case r.Pushed > 0:
		return fmt.Sprintf("pushed %s; now %s", plural(r.Pushed, "change"), now)
	case r.Received:
		return "got the node's changes; now " + now
	}
	return "up to date; " + now
}

func runSync(ctx context.Context, opts *syncOptions) error {
	var dev *localDevice
	if opts.Device != nil {
		var err error
		if dev, err = opts.Device(); err != nil {
			return err
		}
	}
	if dev == nil {
		return flagErrorf("sync needs a device: pass --device PATH or set $%s", envDevice)
	}
	defer dev.Close()
	c, err := opts.Client()
	if err != nil {
		return err
	}
	carts := opts.Carts
	if len(carts) == 0 {
		carts = dev.Carts()
		if len(carts) == 0 && opts.IsTTY && opts.Output == formatTable {
			_, err := fmt.Fprintln(opts.Out, "The device holds no carts yet: edit one with --device, or name one to fetch it.")
			return err
		}
	}
	rep := syncReport{Carts: []syncResult{}}
	var errs []error
	for _, id := range carts {
		r, err := opts.syncCart(ctx, dev, c, id)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, client.ErrUnreachable) || ctx.Err() != nil {
				break // the other carts would fare no better
			}
			continue
		}
		rep.Carts = append(rep.Carts, r)
	}
	if len(rep.Carts) > 0 || len(errs) == 0 {
		p, err := opts.printer()
		if err != nil {
			return err
		}
		if err := p.syncReport(rep); err != nil {
			return err
		}
	}
	if len(errs) == 0 {
		return nil
	}
	e := &syncError{errs: errs}
	for _, id := range dev.Carts() {
		if n := dev.Pending(id); n > 0 {
			e.kept += n
			e.carts++
		}
	}
	return e
}

// syncCart syncs one cart, sending a deferred push again as the node asks.
func (o *syncOptions) syncCart(ctx context.Context, dev *localDevice, c *client.Client, id string) (syncResult, error) {
	before, pending := dev.View(id), dev.Pending(id)
	for attempt := 1; ; attempt++ {
		err := dev.Sync(ctx, c, id)
		if err == nil {
			break
		}
		var apiErr *client.APIError
		switch {
		case !errors.As(err, &apiErr):
			return syncResult{}, fmt.Errorf("sync cart %s: %w", id, err)
		case apiErr.Code == api.CodeSyncRefused:
			return syncResult{}, fmt.Errorf("sync cart %s: the node refused the push: %w", id, err)
		case apiErr.Code != api.CodeSyncBehind:
			return syncResult{}, fmt.Errorf("sync cart %s: %w", id, err)
		}
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = defaultBehindWait
		}
		if attempt > maxBehindRetries {
			return syncResult{}, fmt.Errorf("sync cart %s: deferred %s: %w", id, plural(attempt, "time"), err)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return syncResult{}, fmt.Errorf("sync cart %s: deferred %s, and --timeout leaves no time to wait the %v the node asks: %w",
				id, plural(attempt, "time"), wait, err)
		}
		if err := o.sleep(ctx, wait); err != nil {
			return syncResult{}, fmt.Errorf("sync cart %s: waiting to send the deferred push again: %w", id, err)
		}
	}
	after := dev.View(id)
	return syncResult{
		Cart:     id,
		Pushed:   pending - dev.Pending(id),
		Received: !slices.Equal(before.Lines, after.Lines),
		Lines:    len(after.Lines),
	}, nil
}

// syncError is the error of a sync that did not finish: each failed cart's error, and how many
// of the device's changes no node has acknowledged yet. Main says they are kept.
type syncError struct {
	errs  []error
	kept  int // changes waiting, in all the device's carts
	carts int // carts holding them
}

// Error returns the carts' errors, one per line.
func (e *syncError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the carts' errors, so that Main finds an unreachable node among them.
func (e *syncError) Unwrap() []error { return e.errs }

// printKeptHint tells the user that nothing was lost, and what to do.
func printKeptHint(w io.Writer, e *syncError) {
	if errors.Is(e, device.ErrReplicaReused) {
		fmt.Fprintln(w, "This device's state file was copied from another one or restored from an older copy, so its\n"+
			"changes reuse identities a node already holds; those carts cannot be synced from it. Give\n"+
			"this machine a new device (a new --device file).")
	}
	if e.kept == 0 {
		return
	}
	fmt.Fprintf(w, "Nothing is lost: the device keeps its %s (in %s) until a node acknowledges them.\n"+
		"Run cartctl sync again, through this node or any other: a change is applied once however often it is sent.\n",
		plural(e.kept, "change"), plural(e.carts, "cart"))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
