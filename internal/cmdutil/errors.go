package cmdutil

import "fmt"

// FlagError is a usage error: an unknown flag, a missing or extra argument,
// or an argument value that is malformed or out of range. Both command
// lines map it to exit code 2.
type FlagError struct {
	err error
}

// Error returns the message of the underlying error.
func (e *FlagError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf returns a *FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap marks err as a usage error.
func FlagErrorWrap(err error) error {
	return &FlagError{err: err}
}
