package agentcli

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/internal/buildinfo"
	"github.com/crdtd/crdtd/internal/cmdutil"
	"github.com/crdtd/crdtd/internal/daemon"
)

// factory is what commands get from the outside world: IO streams, the node runner and the way
// to start agent processes. Tests build one with buffers and fakes.
type factory struct {
	Out    io.Writer // data
	ErrOut io.Writer // logs, errors and hints
	IsTTY  bool      // Out is a terminal: print aligned tables

	// RunDaemon runs one node until ctx is done: runDaemon outside tests.
	RunDaemon func(context.Context, daemon.Config) error
	// AgentCommand builds the command that runs "crdtd agent" with args: selfAgentCommand
	// outside tests.
	AgentCommand commandFunc
	// LookupEnv reads the environment, where the agent finds its CRDTD_* variables:
	// os.LookupEnv outside tests. Nil reads nothing.
	LookupEnv func(string) (string, bool)
}

// Main runs crdtd with args (without the program name), writing data to stdout and logs and
// errors to stderr, and returns the exit code. It never calls os.Exit; ctx stops the command
// (main passes one that is cancelled on SIGINT/SIGTERM), and an agent then leaves the cluster,
// drains and exits 0.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) ExitCode {
	return run(ctx, args, &factory{
		Out:          stdout,
		ErrOut:       stderr,
		IsTTY:        isTerminal(stdout),
		RunDaemon:    runDaemon,
		AgentCommand: selfAgentCommand,
		LookupEnv:    os.LookupEnv,
	})
}

// run is Main with the outside world in f.
func run(ctx context.Context, args []string, f *factory) ExitCode {
	root := newCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(strings.NewReader(""))
	root.SetOut(f.Out)
	root.SetErr(f.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	return reportError(cmd, err, f.ErrOut)
}

// newCmdRoot returns the crdtd command tree. Adding a command is one line in the list below.
func newCmdRoot(f *factory) *cobra.Command {
	root := newRootCmd()
	for _, cmd := range []*cobra.Command{
		newCmdAgent(f, nil),
		newCmdCluster(f, nil),
		newCmdKeygen(f, nil),
		newCmdResetReplica(f, nil),
		newCmdCheckData(f),
		newCmdVersion(f, nil),
	} {
		root.AddCommand(cmd)
	}
	return root
}

// newRootCmd returns the root command without subcommands: its help and the mapping of flag
// errors to *FlagError. Tests hang a single command under it.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "crdtd <command>",
		Short: "Run a crdtd node or a local crdtd cluster",
		Long: `crdtd stores shopping carts durably, serves them over an HTTP API and
replicates them to its peers by gossip. Write to any node, even cut off from
the others: every node ends up with the same carts.

Exit status: 0 success, 1 failure, 2 usage or configuration error.`,
		Example: `  crdtd cluster --nodes 3
  crdtd agent --name node1 --data-dir /var/lib/crdtd
  (umask 077; crdtd keygen > gossip.key)`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildinfo.Read().String(),
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.FlagErrorWrap(err)
	})
	// Defined here so that cobra adds no -v shorthand; cobra prints the template on --version.
	root.Flags().Bool("version", false, "print the version of crdtd")
	root.SetVersionTemplate("crdtd {{.Version}}\n")
	return root
}

// noArgs rejects positional arguments with a usage error (cobra.NoArgs returns a plain error).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return flagErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// isTerminal reports whether w is a terminal, so that tables get aligned columns. It settles for
// "a character device" (which also counts /dev/null) to stay portable: the only cost of a wrong
// answer is alignment padding.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
