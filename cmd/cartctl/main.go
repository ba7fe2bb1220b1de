// Command cartctl edits shopping carts on any crdtd node and inspects the cluster: add, set,
// remove and clear cart items, show and list carts, list members and show a node's consistency
// status. Run "cartctl --help" for the commands and flags; the work is done by package
// internal/cli, and this file only wires the process to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/crdtd/crdtd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(int(code))
}
