package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

// ExitCode is the process exit status of cartctl.
type ExitCode int

// The exit codes of cartctl. Scripts rely on them: keep them stable.
const (
	ExitOK          ExitCode = 0 // the command did what was asked
	ExitFailure     ExitCode = 1 // the node refused the request, or anything else went wrong
	ExitUsage       ExitCode = 2 // bad command line: unknown command or flag, bad argument
	ExitUnreachable ExitCode = 3 // the node could not be reached (refused, unresolvable, timed out)
)

// Main runs cartctl with args (without the program name), reading from stdin and writing data to
// stdout and errors to stderr, and returns the exit code. It never calls os.Exit; ctx cancels the
// command (main passes one that is cancelled on SIGINT/SIGTERM).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) ExitCode {
	g := &globalOptions{}
	f := &factory{
		In:     stdin,
		Out:    stdout,
		ErrOut: stderr,
		IsTTY:  isTerminal(stdout),
		Client: g.newClient,
		Device: g.openDevice,
	}
	root := newCmdRoot(f, g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	g.release()
	return reportError(cmd, err, stderr)
}

// reportError prints err, if any, to stderr and returns the exit code it maps to. This is the
// only place where errors become exit codes.
func reportError(cmd *cobra.Command, err error, stderr io.Writer) ExitCode {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)

	var flagErr *FlagError
	var apiErr *client.APIError
	var unsure *unsureError
	code := ExitFailure
	switch {
	case errors.As(err, &flagErr) || strings.HasPrefix(err.Error(), "unknown command "):
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return ExitUsage
	case errors.Is(err, client.ErrUnreachable):
		fmt.Fprintln(stderr, "Is crdtd running there? Point --node or $CARTCTL_NODE at a running node.")
		code = ExitUnreachable
	case errors.Is(err, client.ErrTLS):
		// A node that fails the handshake was reached: a failure, not ExitUnreachable.
		fmt.Fprintln(stderr, tlsHint(err))
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeUnauthorized:
		fmt.Fprintln(stderr, "The node requires a token: pass --token-file or set $CARTCTL_TOKEN.")
	}
	if errors.As(err, &unsure) {
		printRetryHint(stderr, unsure)
	}
	var unsynced *syncError
	if errors.As(err, &unsynced) {
		printKeptHint(stderr, unsynced)
	}
	return code
}

// tlsHint says what to change after a failed TLS handshake, from the cause that err names.
func tlsHint(err error) string {
	switch msg := err.Error(); {
	case strings.Contains(msg, "certificate required"):
		return "The node requires a client certificate: pass --cert-file and --key-file (or $" + envCertFile + " and $" + envKeyFile + ")."
	case strings.Contains(msg, "remote error"):
		return "The node refused the client certificate: use one signed by a CA it trusts (its --api-tls-client-ca-file)."
	case strings.Contains(msg, "server gave HTTP response"):
		return "The node serves plain HTTP: use an http:// URL."
	}
	return "The node's certificate is not trusted here: pass --ca-file (or $" + envCAFile + ") with the CA that signed it,\n" +
		"and reach the node by a name or address its certificate lists."
}
