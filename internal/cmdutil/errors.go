package cmdutil

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

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

// FlagErrorWrap marks err as a usage error. A value that a flag refused is
// reworded as `--name "value": want ...`: the flag's long name, the value
// and what the flag wants, without the parser's own words
// ("strconv.ParseInt: parsing ...") that mean nothing to the user.
func FlagErrorWrap(err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		f := invalid.GetFlag()
		return FlagErrorf("--%s %q: %s", f.Name, invalid.GetValue(), ValueProblem(f, invalid.Unwrap()))
	}
	return &FlagError{err: err}
}

// ValueProblem says what is wrong with a value that the Value of f refused
// with err. Errors of pflag's built-in numeric, boolean and duration types
// become the kind of value the flag wants; the errors of custom Values, which
// already speak the user's terms, pass through.
func ValueProblem(f *pflag.Flag, err error) string {
	var numErr *strconv.NumError
	if err == nil {
		return "invalid value"
	}
	switch f.Value.Type() {
	case "duration":
		return "want a duration such as 500ms, 10s or 1m30s"
	case "bool":
		return "want true or false"
	}
	if !errors.As(err, &numErr) {
		return err.Error()
	}
	switch f.Value.Type() {
	case "int", "int8", "int16", "int32", "int64":
		return "want a whole number"
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "want a whole number, 0 or more"
	case "float32", "float64":
		return "want a number such as 2.5"
	}
	return "malformed value"
}
