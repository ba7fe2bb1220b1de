package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/device"
	"github.com/crdtd/crdtd/internal/cartview"
)

// With --device PATH (or $CARTCTL_DEVICE) the cart commands work on a device replica kept in
// PATH instead of on a node: package device's own copy of the carts, edited offline and synced
// with any node by the sync command. The commands print what they print for a node, through
// the same printers and the same view conversion, so scripts need not care where a cart lives.

// envDevice is the environment variable that names the device's state file.
const envDevice = "CARTCTL_DEVICE"

// localDevice is the device replica a command works on: a [device.Device] over its state file,
// which it keeps locked against other processes until Close.
type localDevice struct {
	*device.Device
	store *device.FileStorage
}

// openDevice opens the device replica kept in the state file at path, and creates a new device
// there (mode 0600) when the file does not exist yet.
func openDevice(path string) (*localDevice, error) {
	store, err := device.NewFileStorage(path)
	if err != nil {
		return nil, err // it names the file, and says when another process holds it
	}
	dev, err := device.New(device.Config{Storage: store})
	if err != nil {
		_ = store.Close()
		if errors.Is(err, device.ErrCorrupt) || errors.Is(err, device.ErrVersion) {
			return nil, fmt.Errorf("device %s: %w (cartctl never starts a device over on its own: it would lose the changes not yet synced)", path, err)
		}
		return nil, fmt.Errorf("device %s: %w", path, err)
	}
	return &localDevice{Device: dev, store: store}, nil
}

// Close releases the state file.
func (d *localDevice) Close() error { return d.store.Close() }

// view returns cart as the device holds it, in the API's shape.
func (d *localDevice) view(cart string) api.CartView { return cartview.Of(cart, d.View(cart)) }

// deviceFlag is the value of --device. Given, even empty, it wins over $CARTCTL_DEVICE, so that
// --device "" reaches the node while the environment names a device.
type deviceFlag struct {
	Path  string
	Given bool // the flag was given
}

// Set records the path given.
func (f *deviceFlag) Set(s string) error {
	f.Path, f.Given = s, true
	return nil
}

// String returns the path given.
func (f *deviceFlag) String() string { return f.Path }

// Type names the value in help: a path.
func (f *deviceFlag) Type() string { return "path" }

// openDevice opens the device named by --device or $CARTCTL_DEVICE, or returns nil when neither
// names one. It is the factory's Device function.
func (g *globalOptions) openDevice() (*localDevice, error) {
	path := g.Device.Path
	if !g.Device.Given {
		path = os.Getenv(envDevice)
	}
	if path == "" {
		return nil, nil
	}
	return openDevice(path)
}

// withDevice runs fn on the device replica chosen by the global flags and closes it. It reports
// false, having done nothing, when no device is chosen: the command then works on the node.
func withDevice(opts *baseOptions, fn func(*localDevice) error) (bool, error) {
	if opts.Device == nil {
		return false, nil
	}
	dev, err := opts.Device()
	if err != nil {
		return true, err
	}
	if dev == nil {
		return false, nil
	}
	err = fn(dev)
	if cerr := dev.Close(); err == nil {
		err = cerr
	}
	return true, err
}

// printPending tells a person on a terminal how many of the device's changes to cart no node
// has acknowledged yet. Piped and JSON output keep the API's shape, so print nothing there.
func printPending(opts *baseOptions, dev *localDevice, cart string) error {
	n := dev.Pending(cart)
	if !opts.IsTTY || opts.Output != formatTable || n == 0 {
		return nil
	}
	_, err := fmt.Fprintf(opts.Out, "%s on this device %s for a sync with a node (cartctl sync %s)\n",
		plural(n, "change"), pick(n == 1, "waits", "wait"), sanitize(cart))
	return err
}

// plural returns "1 change", "2 changes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}
