package cmdutil

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestFlagErrorWrapValues checks that a refused flag value is reported with
// the flag's name, the value and what the flag wants, never with the words
// of the parser underneath.
func TestFlagErrorWrapValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--count", "abc"}, `--count "abc": want a whole number`},
		{[]string{"-c", "1.5"}, `--count "1.5": want a whole number`},
		{[]string{"--count", "99999999999999999999"}, `--count "99999999999999999999": want a whole number`},
		{[]string{"--seed", "-1"}, `--seed "-1": want a whole number, 0 or more`},
		{[]string{"--rate", "fast"}, `--rate "fast": want a number such as 2.5`},
		{[]string{"--wait", "soon"}, `--wait "soon": want a duration such as 500ms, 10s or 1m30s`},
		{[]string{"--wait", "10"}, `--wait "10": want a duration such as 500ms, 10s or 1m30s`},
		{[]string{"--debug=maybe"}, `--debug "maybe": want true or false`},
		{[]string{"--mode", "loud"}, `--mode "loud": valid values are {quiet|normal}`},
	}
	for _, tt := range tests {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		fs := cmd.Flags()
		fs.IntP("count", "c", 1, "")
		fs.Uint64("seed", 0, "")
		fs.Float64("rate", 0, "")
		fs.Duration("wait", time.Second, "")
		fs.Bool("debug", false, "")
		var mode string
		StringEnumFlag(cmd, fs, &mode, "mode", "", "quiet", []string{"quiet", "normal"}, "")
		cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return FlagErrorWrap(err) })
		cmd.SetArgs(tt.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		var fe *FlagError
		if !errors.As(err, &fe) {
			t.Errorf("args %q: got %v, want a *FlagError", tt.args, err)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("args %q: got %q, want %q", tt.args, got, tt.want)
		}
		if strings.Contains(err.Error(), "strconv") || strings.Contains(err.Error(), "time:") {
			t.Errorf("args %q: %q shows the parser's message", tt.args, err)
		}
	}
}
