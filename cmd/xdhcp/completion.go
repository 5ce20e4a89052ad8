package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The bash script follows urfave/cli's autocomplete/bash_autocomplete: bash
// asks the binary itself (--generate-bash-completion) for the candidates.
const bashCompletion = `# bash completion for xdhcp; load with: source <(xdhcp completion bash)
_xdhcp_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if [[ "$cur" == "-"* ]]; then
      opts=$( ${COMP_WORDS[@]:0:$COMP_CWORD} ${cur} --generate-bash-completion 2>/dev/null )
    else
      opts=$( ${COMP_WORDS[@]:0:$COMP_CWORD} --generate-bash-completion 2>/dev/null )
    fi
    COMPREPLY=( $(compgen -W "${opts}" -- ${cur}) )
    return 0
  fi
}
complete -o bashdefault -o default -F _xdhcp_bash_autocomplete xdhcp
`

const zshCompletion = `#compdef xdhcp
# zsh completion for xdhcp; load with: source <(xdhcp completion zsh)
_xdhcp() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
if [ "$funcstack[1]" = "_xdhcp" ]; then
  _xdhcp "$@"
else
  compdef _xdhcp xdhcp
fi
`

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
