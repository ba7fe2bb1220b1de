package cli

import "fmt"

// FlagError is a usage error: an unknown flag, a missing or extra argument, or an argument value
// that is malformed or out of range. [Main] maps it to [ExitUsage].
type FlagError struct {
	err error
}

// Error returns the message of the underlying error.
func (e *FlagError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.err }

// flagErrorf returns a *FlagError with a formatted message.
func flagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// flagErrorWrap marks err as a usage error.
func flagErrorWrap(err error) error {
	return &FlagError{err: err}
}
