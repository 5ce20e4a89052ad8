package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// commonHelp is the man-style text for commands whose file gives none; a
// command's own Description always wins.
var commonHelp = map[string]string{
	"detach": `Removes the xdhcp program from every --iface: the pinned bpf_link when one
holds it, else the netlink attachment. Another XDP program is never removed.
With --unpin the pinned maps go too, and with them the counters and the
configuration; without it a later attach finds and keeps them.`,
	"threshold": `The threshold T is the secs value from which this server answers a client
whose bucket the partner owns: a DISCOVER with secs >= T means the partner has
not answered in time. ISC's "load balance max seconds M" is T = M+1, Windows
Server answers from secs 6 (T = 6). T = 0 turns load balancing off: every
client is answered. Changes take effect on the next packet.`,
	"threshold get": `Prints the threshold the attached fast path applies now.`,
	"threshold set": `Sets the threshold to T (0..65535) in the live configuration; the next
packet sees it. Counters and the rest of the configuration are kept.`,
	"buckets": `The hash bucket assignment (HBA) says which of the 256 buckets of the RFC 3074
hash belongs to the primary; the secondary owns the rest. This server answers
the clients of the buckets its role owns and, after the secs threshold, the
partner's. Without a subcommand it shows the assignment.`,
	"buckets show": `Prints the assignment, this server's role and the buckets it owns.`,
	"buckets set": `Changes the assignment (--split N: buckets 0..N-1 to the primary; --hba: the
raw 256-bit map in hex) and/or this server's --role, in the live
configuration. Both servers of a pair must agree on the assignment.`,
	"state": `The failover state the fast path applies. In normal the load-balancing rules
hold; in every other state (communications-interrupted, partner-down,
startup, recover, ...) the fast path passes all DHCP traffic to the daemon,
which answers by that state's rules. The daemon sets it; an operator may
force it. Without a subcommand it prints the state.`,
	"state get": `Prints the failover state the fast path applies now.`,
	"state set": `Sets the failover state in the live configuration; the next packet sees it.`,
	"check-config": `Loads FILE the way serve does and reports every error with its line, or a
one-line summary (subnets, ranges, reservations). --json prints the parsed
configuration. The systemd unit runs it before starting the daemon.`,
	"bench": `Measurements of the fast path on this machine, each against a baseline taken
in the same run so the figure is a ratio, not a guess: gen (a load
generator), xdp (in-kernel cost per verdict path), drop (drop rate into a veth).`,
	"bench gen": `Sends DHCP requests built from templates out of --iface with BPF live frames,
cycling through --clients chaddrs of which --peer-share hash to the partner,
at --pps or as fast as possible, and reports the rate reached.`,
	"bench xdp": `Times each verdict path of the xdhcp program (owned, partner-dropped,
secs-override, not-dhcp, ...) with BPF_PROG_TEST_RUN and compares it with a
trivial XDP_PASS program timed in the same rounds; reports medians.`,
	"bench drop": `Floods partner-owned DISCOVERs into a veth and measures how many per second
the receiving side drops, first with a trivial XDP_DROP program, then with
xdhcp, alternating for --rounds; by default in a namespace of its own.`,
	"bench clients": `Prints client MACs, one a line, of which --peer-share hash to the partner of
--role under --split/--hba: input for perfdhcp -M, so an external load
generator sends a known owned/partner mix.`,
	"bench pass": `Attaches a trivial XDP_PASS program to --iface through netlink. A veth only
receives BPF live frames when its peer has an XDP program, so this lets a
veth receive generated frames without xdhcp; it stays until
ip link set dev IF xdp off.`,
	"stats": `Prints the fast path's verdict counters: one per reason (owned,
partner-dropped, secs-override, renew-rebind, not-dhcp, ...), summed over CPUs,
with the action each reason takes. --watch prints again every --interval with
rates per second; --buckets adds per-bucket load (seen, dropped, overridden)
and owner, so a lopsided split or a hot bucket is visible.`,
}

// finishApp adds what every command gets: the global logging flags, the
// man-style descriptions, XDHCP_* environment variables for the daemon's
// flags, and the version from the build when the linker set none.
func finishApp(app *cli.App) *cli.App {
	app.Flags = append(app.Flags, logFlags()...)
	before := app.Before
	app.Before = func(c *cli.Context) error {
		if err := setupLogging(c); err != nil {
			return err
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	if app.Version == "dev" {
		app.Version = buildVersion().Version
	}
	walkCommands(app.Commands, "", func(path string, cmd *cli.Command) {
		if cmd.Description == "" {
			cmd.Description = commonHelp[path]
		}
		if path == "serve" {
			addMetricsFlag(cmd)
			addEnvVars(cmd.Flags)
			wrapWithMetrics(cmd)
		}
	})
	return app
}

func walkCommands(cmds []*cli.Command, prefix string, fn func(path string, cmd *cli.Command)) {
	for _, cmd := range cmds {
		path := strings.TrimSpace(prefix + " " + cmd.Name)
		fn(path, cmd)
		walkCommands(cmd.Subcommands, path, fn)
	}
}

// envName is the urfave convention: XDHCP_ and the flag name in capitals.
func envName(flag string) string {
	return "XDHCP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// addEnvVars gives every flag without one its XDHCP_* variable (systemd
// units and containers configure the daemon through the environment).
func addEnvVars(flags []cli.Flag) {
	for _, f := range flags {
		name := f.Names()[0]
		if name == "help" {
			continue
		}
		env := []string{envName(name)}
		switch f := f.(type) {
		case *cli.StringFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.BoolFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.IntFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.UintFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.Uint64Flag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.Int64Flag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.Float64Flag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.DurationFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.StringSliceFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.IntSliceFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.PathFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		case *cli.GenericFlag:
			f.EnvVars = orEnv(f.EnvVars, env)
		}
	}
}

func orEnv(have, want []string) []string {
	if len(have) > 0 {
		return have
	}
	return want
}

// envVarsOf reads a flag's environment variables (for tests and docs).
func envVarsOf(f cli.Flag) []string {
	if e, ok := f.(interface{ GetEnvVars() []string }); ok {
		return e.GetEnvVars()
	}
	return nil
}

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

func manCommand() *cli.Command {
	return &cli.Command{
		Name:        "man",
		Usage:       "print the manual page (roff) built from every command's help",
		Description: `Renders the help of every command as a man page: xdhcp man > /usr/local/share/man/man8/xdhcp.8`,
		Action: func(c *cli.Context) error {
			page, err := c.App.ToMan()
			if err != nil {
				return fmt.Errorf("man: %w", err)
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
