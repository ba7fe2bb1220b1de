package agentcli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/gossip"
)

type keygenOptions struct {
	Out    io.Writer
	ErrOut io.Writer
}

func newCmdKeygen(f *factory, runF func(*keygenOptions) error) *cobra.Command {
	opts := &keygenOptions{Out: f.Out, ErrOut: f.ErrOut}
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new gossip encryption key",
		Long: `Print a new random 32-byte key (AES-256-GCM), base64 encoded, for
--gossip-key-file. Every node of a cluster needs the same key; nodes without it
can neither join, read nor inject gossip. Keep the file readable only by crdtd.`,
		Example: `  (umask 077; crdtd keygen > /etc/crdtd/gossip.key)
  crdtd agent --gossip-key-file /etc/crdtd/gossip.key`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runKeygen(opts)
		},
	}
}

func runKeygen(opts *keygenOptions) error {
	key, err := gossip.GenerateKey()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(opts.Out, key); err != nil {
		return fmt.Errorf("write key: %v", err)
	}
	fmt.Fprintln(opts.ErrOut, "Save the key in a file only crdtd can read (chmod 600) and pass it to every node with --gossip-key-file.")
	return nil
}
