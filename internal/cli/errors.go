package cli

import "github.com/crdtd/crdtd/internal/cmdutil"

// FlagError is a usage error: an unknown flag, a missing or extra argument, or an argument value
// that is malformed or out of range. [Main] maps it to [ExitUsage].
type FlagError = cmdutil.FlagError

var (
	flagErrorf    = cmdutil.FlagErrorf
	flagErrorWrap = cmdutil.FlagErrorWrap
)
