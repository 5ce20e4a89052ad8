package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/bench"
	"github.com/xdhcp/xdhcp/internal/loadgen"
	"github.com/xdhcp/xdhcp/userspace/decide"
)

func benchClientsCommand() *cli.Command {
	return &cli.Command{
		Name: "clients",
		Description: `Prints client MACs, one a line, of which --peer-share hash to the partner of
--role under --split/--hba: input for perfdhcp -M, so an external load
generator sends a known owned/partner mix.`,
		Usage: "print client MACs, one a line, of which --peer-share hash to the partner (for perfdhcp -M)",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "count", Value: 1000, Usage: "how many MACs"},
			&cli.Float64Flag{Name: "peer-share", Usage: "fraction whose key hashes to the partner of --role"},
			&cli.StringFlag{Name: "role", Value: "primary", Usage: "primary or secondary"},
			&cli.StringFlag{Name: "key", Value: "chaddr", Usage: "what the servers hash: chaddr, or client-id (option 61 = 01 + MAC, as perfdhcp sends)"},
		}, hbaFlags(false)...),
		Action: func(c *cli.Context) error {
			hba, err := hbaFromFlags(c)
			if err != nil {
				return err
			}
			role, err := decide.ParseRole(c.String("role"))
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			pick := loadgen.Clients
			switch c.String("key") {
			case "chaddr":
			case "client-id":
				pick = loadgen.ClientIDClients
			default:
				return fmt.Errorf("--key %q: want chaddr or client-id", c.String("key"))
			}
			macs, err := pick(c.Int("count"), c.Float64("peer-share"), hba, role)
			if err != nil {
				return err
			}
			for _, m := range macs {
				fmt.Fprintln(c.App.Writer, m)
			}
			return nil
		},
	}
}

func benchPassCommand() *cli.Command {
	return &cli.Command{
		Name: "pass",
		Description: `Attaches a trivial XDP_PASS program to --iface through netlink. A veth only
receives BPF live frames when its peer has an XDP program, so this lets a
veth receive generated frames without xdhcp; it stays until
ip link set dev IF xdp off.`,
		Usage: "attach a trivial XDP_PASS program to --iface (netlink; stays until ip link set dev IF xdp off) so a veth receives generated frames without xdhcp",
		Flags: []cli.Flag{&cli.StringFlag{Name: "iface", Required: true, Usage: "interface"}},
		Action: func(c *cli.Context) error {
			return bench.AttachPass(c.String("iface"))
		},
	}
}
