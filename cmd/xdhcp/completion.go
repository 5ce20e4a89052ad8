package main

import (
	_ "embed"
	"fmt"

	"github.com/urfave/cli/v2"
)

// The scripts ask the binary itself for the candidates (urfave/cli's
// --generate-bash-completion); the bash one follows urfave's
// autocomplete/bash_autocomplete.
var (
	//go:embed completion/xdhcp.bash
	bashCompletion string
	//go:embed completion/xdhcp.zsh
	zshCompletion string
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Category:  catDiag,
		Usage:     "print a shell completion script (bash or zsh)",
		ArgsUsage: "bash|zsh",
		Description: `Prints a script that completes xdhcp's commands and flags; the binary itself
answers each completion (urfave/cli's --generate-bash-completion).
  bash: source <(xdhcp completion bash)   or save it in /etc/bash_completion.d/xdhcp
  zsh:  source <(xdhcp completion zsh)    or save it as _xdhcp in your $fpath`,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			}
			return fmt.Errorf("completion: shell %q: want bash or zsh", c.Args().First())
		},
	}
}
