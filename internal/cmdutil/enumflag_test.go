package cmdutil

import (
	"testing"

	"github.com/spf13/cobra"
)

func TestStringEnumFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    string
		wantErr bool
	}{
		{nil, "table", false},
		{[]string{"-o", "json"}, "json", false},
		{[]string{"--output=table"}, "table", false},
		{[]string{"-o", "yaml"}, "", true},
	}
	for _, tt := range tests {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		var out string
		StringEnumFlag(cmd, cmd.Flags(), &out, "output", "o", "table", []string{"table", "json"}, "output format")
		cmd.SetArgs(tt.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if (err != nil) != tt.wantErr {
			t.Fatalf("args %v: got error %v, want error %v", tt.args, err, tt.wantErr)
		}
		if err == nil && out != tt.want {
			t.Fatalf("args %v: got %q, want %q", tt.args, out, tt.want)
		}
	}
}
