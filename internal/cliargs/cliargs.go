// Package cliargs lets urfave/cli v2 commands take their flags after their
// positional arguments.
package cliargs

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Interspersed moves each command's flags before its positional arguments,
// so `xdhcp threshold set 2 --iface X` works: urfave/cli v2 stops reading
// flags at the first argument. It walks the command path as urfave does
// (global flags, command, subcommand) and uses each level's flag
// definitions to know which flags take a value. After "--" nothing moves.
func Interspersed(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	flags, cmds := app.Flags, app.Commands
	rest := args[1:]
	for {
		var fl, pos []string
		var sub *cli.Command
		i := 0
	scan:
		for ; i < len(rest); i++ {
			a := rest[i]
			switch {
			case a == "--":
				pos = append(pos, rest[i:]...)
				i = len(rest)
				break scan
			case len(a) > 1 && a[0] == '-':
				fl = append(fl, a)
				if takesValue(flags, a) && i+1 < len(rest) {
					i++
					fl = append(fl, rest[i])
				}
			default:
				if len(pos) == 0 {
					if sub = findCommand(cmds, a); sub != nil {
						break scan
					}
				}
				pos = append(pos, a)
			}
		}
		out = append(append(out, fl...), pos...)
		if sub == nil || sub.SkipFlagParsing {
			if sub != nil {
				out = append(out, rest[i:]...)
			}
			return out
		}
		out = append(out, rest[i])
		flags, cmds, rest = sub.Flags, sub.Subcommands, rest[i+1:]
	}
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue says whether flag arg (-x, --name, not --name=v) is followed
// by its value: every flag but a boolean one. Unknown flags are left for
// urfave to report.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	if name == "help" || name == "h" || name == "generate-bash-completion" {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
