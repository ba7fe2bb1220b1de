package agentcli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/internal/cmdutil"
	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/store"
)

// ExitCode is the process exit status of crdtd.
type ExitCode int

// The exit codes of crdtd. Scripts and service managers rely on them: keep them stable.
const (
	ExitOK      ExitCode = 0 // the command did what was asked; an agent was stopped by a signal
	ExitFailure ExitCode = 1 // anything else went wrong: a corrupt data file, a port in use, a node that died
	ExitUsage   ExitCode = 2 // bad command line or configuration: retrying the same command cannot help
)

// FlagError is a usage error: an unknown flag, an extra argument, or a flag value that is
// malformed. It maps to ExitUsage.
type FlagError = cmdutil.FlagError

var flagErrorf = cmdutil.FlagErrorf

// reportError prints err, if any, to stderr and returns the exit code it maps to. This is the
// only place where errors become exit codes.
func reportError(cmd *cobra.Command, err error, stderr io.Writer) ExitCode {
	if err == nil {
		return ExitOK
	}
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) {
		// Its message names the file and says what to do; the wrapping adds only noise.
		fmt.Fprintf(stderr, "Error: %v\n", corrupt)
		return ExitFailure
	}
	// Cobra's "unknown command" message ends in a "Did you mean" list and a newline.
	fmt.Fprintf(stderr, "Error: %s\n", strings.TrimRight(err.Error(), "\n"))

	var flagErr *FlagError
	if errors.As(err, &flagErr) || errors.Is(err, daemon.ErrConfig) ||
		strings.HasPrefix(err.Error(), "unknown command ") {
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return ExitUsage
	}
	return ExitFailure
}
