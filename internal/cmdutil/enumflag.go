// Package cmdutil holds the small pieces the crdtd and cartctl command lines
// share.
package cmdutil

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// StringEnumFlag defines a string flag on fs (cmd's local or persistent
// flags) that accepts only one of options, lists them in its usage, and
// completes them in the shell. shorthand may be empty.
func StringEnumFlag(cmd *cobra.Command, fs *pflag.FlagSet, p *string, name, shorthand, defaultValue string, options []string, usage string) *pflag.Flag {
	*p = defaultValue
	v := &enumValue{value: p, options: options}
	f := fs.VarPF(v, name, shorthand, fmt.Sprintf("%s: {%s}", usage, strings.Join(options, "|")))
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return options, cobra.ShellCompDirectiveNoFileComp
	})
	return f
}

// enumValue is a pflag.Value restricted to a set of strings.
type enumValue struct {
	value   *string
	options []string
}

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.options, s) {
		return fmt.Errorf("valid values are {%s}", strings.Join(e.options, "|"))
	}
	*e.value = s
	return nil
}

func (e *enumValue) String() string { return *e.value }

func (e *enumValue) Type() string { return "string" }
