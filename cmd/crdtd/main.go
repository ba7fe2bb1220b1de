// Command crdtd is the crdtd node daemon: "crdtd agent" runs a node that stores carts durably,
// serves the HTTP API and replicates by gossip; "crdtd cluster" starts a local cluster in one
// command; "crdtd keygen" and "crdtd version" help set it up. Run "crdtd --help" for the
// commands and flags; the work is done by package internal/agentcli, and this file only wires
// the process to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/crdtd/crdtd/internal/agentcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := agentcli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(int(code))
}
