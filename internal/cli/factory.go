package cli

import (
	"io"

	"github.com/crdtd/crdtd/client"
)

// factory is what commands get from the outside world: IO streams and a way to reach the node.
// Tests build one with buffers and a client pointed at a fake node.
type factory struct {
	In     io.Reader
	Out    io.Writer // data
	ErrOut io.Writer // errors and hints
	IsTTY  bool      // Out is a terminal: print aligned tables with headers

	// Client returns a client for the node chosen by the global flags. It is called when a
	// command runs, after flags are parsed, and errors if they are unusable.
	Client func() (*client.Client, error)

	// Device opens the device replica chosen by --device or $CARTCTL_DEVICE, or returns nil and
	// no error when neither is set: the commands then work on the node. The caller closes it.
	Device func() (*localDevice, error)
}

// baseOptions is the part of every command's options that comes from the factory and the global
// flags: where and how to print, and how to reach the node.
type baseOptions struct {
	Out    io.Writer
	ErrOut io.Writer // warnings
	IsTTY  bool
	Output string // output format: "table" or "json"
	Client func() (*client.Client, error)
	Device func() (*localDevice, error) // nil: no device, as when it returns nil
}

func newBaseOptions(f *factory) baseOptions {
	return baseOptions{Out: f.Out, ErrOut: f.ErrOut, IsTTY: f.IsTTY, Output: formatTable, Client: f.Client, Device: f.Device}
}

func (o *baseOptions) printer() (printer, error) {
	return newPrinter(o.Output, o.Out, o.IsTTY)
}
