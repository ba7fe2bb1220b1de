package cli

import (
	"io"

	"github.com/spf13/cobra"
)

var completionShells = []string{"bash", "zsh", "fish", "powershell"}

type completionOptions struct {
	Out   io.Writer
	Root  *cobra.Command
	Shell string
}

func newCmdCompletion(f *factory, runF func(*completionOptions) error) *cobra.Command {
	opts := &completionOptions{Out: f.Out}
	cmd := &cobra.Command{
		Use:   "completion {bash|zsh|fish|powershell}",
		Short: "Print a shell completion script",
		Long: `Print a completion script for the given shell. Cart and item names are
completed by asking the node (--node, $CARTCTL_NODE); nothing is suggested when
it cannot be reached.`,
		Example: `  source <(cartctl completion bash)
  cartctl completion zsh > "${fpath[1]}/_cartctl"
  cartctl completion fish > ~/.config/fish/completions/cartctl.fish`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := requireArgs("SHELL")(cmd, args); err != nil {
				return err
			}
			if err := cobra.OnlyValidArgs(cmd, args); err != nil {
				return flagErrorWrap(err)
			}
			return nil
		},
		ValidArgs: completionShells,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Shell = args[0]
			opts.Root = cmd.Root()
			opts.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(opts)
			}
			return runCompletion(opts)
		},
	}
	return cmd
}

func runCompletion(opts *completionOptions) error {
	switch opts.Shell {
	case "bash":
		return opts.Root.GenBashCompletionV2(opts.Out, true)
	case "zsh":
		return opts.Root.GenZshCompletion(opts.Out)
	case "fish":
		return opts.Root.GenFishCompletion(opts.Out, true)
	case "powershell":
		return opts.Root.GenPowerShellCompletionWithDesc(opts.Out)
	}
	return flagErrorf("unsupported shell %q", opts.Shell)
}
