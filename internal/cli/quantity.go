package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// parseQuantity parses a whole number in lo..hi. Its error says what is wanted, not what
// strconv found wrong, so commands can show it as is.
func parseQuantity(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want a whole number in %d..%d", lo, hi)
	}
	return n, nil
}

// quantityFlag is a pflag.Value for a quantity flag such as --qty: a whole number in Min..Max.
// Its errors name the range, so "--qty abc" says what to type instead.
type quantityFlag struct {
	N        int64
	Min, Max int64
}

// Set parses s as a quantity in Min..Max.
func (q *quantityFlag) Set(s string) error {
	n, err := parseQuantity(s, q.Min, q.Max)
	if err != nil {
		return err
	}
	q.N = n
	return nil
}

// String returns the quantity in decimal.
func (q *quantityFlag) String() string { return strconv.FormatInt(q.N, 10) }

// Type names the value in the help.
func (q *quantityFlag) Type() string { return "int" }

// flagError turns an error from parsing cmd's flags into a usage error. An argument that starts
// with a digit after its dash, such as the -1 of "cartctl set alice apple -1", is no flag but a
// negative number that pflag took for one; the error says so instead of "unknown shorthand
// flag: '1' in -1".
func flagError(cmd *cobra.Command, err error) error {
	if arg, ok := negativeNumberArg(err); ok {
		return flagErrorf("%s is not a flag of %s, and no argument takes a negative number"+
			" (to pass an ID that starts with -, put -- before it: %s -- %s)",
			arg, cmd.CommandPath(), cmd.CommandPath(), arg)
	}
	return flagErrorWrap(err)
}

// negativeNumberArg reports whether err is pflag's unknown shorthand flag error for an
// argument such as -1 or -2.5, and returns that argument.
func negativeNumberArg(err error) (string, bool) {
	var notExist *pflag.NotExistError
	if !errors.As(err, &notExist) {
		return "", false
	}
	s := notExist.GetSpecifiedShortnames()
	if s == "" || s[0] < '0' || s[0] > '9' {
		return "", false
	}
	return "-" + s, true
}
