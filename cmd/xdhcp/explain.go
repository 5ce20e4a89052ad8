package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/explain"
)

// explainConfigFlags are the flags that change the configuration the packet
// is judged against (applied over the live one when a fast path is found).
var explainConfigFlags = []string{"split", "hba", "role", "threshold", "state", "this-server-id", "chaddr-only", "swap-secs"}

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Category:  catDiag,
		Usage:     "say what this server would do with a client's packet now, and why",
		ArgsUsage: "MAC",
		Description: `Builds the packet a client with this MAC would send (DISCOVER by default)
and runs it through the same decision the XDP program makes (decide.DecidePayload):
which hash key is used (option 61 or chaddr), the bucket, who owns it, the
secs threshold and the failover state, and whether the fast path passes the
packet to the daemon or drops it.

The configuration is the live one of the attached fast path (found through
the pins or --iface). Any of --split, --hba, --role, --threshold, --state,
--this-server-id, --chaddr-only, --swap-secs given changes that configuration
for this explanation only ("what if"). With --offline, or when no fast path is
found, the configuration comes from these flags and their defaults alone.
When the fast path is live and has counters for the packet's relay, the
relay's diagnosis is shown as well (see xdhcp relays).

Examples:
  xdhcp explain 00:0c:29:67:42:7a --secs 3
  xdhcp explain 52:54:00:12:34:56 --giaddr 192.0.2.1 --secs 8
  xdhcp explain 00:00:01:02:03:05 --type request --server-id 198.18.0.2 --offline --role secondary`,
		Flags: append(append(hbaFlags(false),
			&cli.StringFlag{Name: "role", Value: "primary", Usage: "what-if: this server's role (primary or secondary)"},
			&cli.UintFlag{Name: "threshold", Value: decide.DefaultThreshold, Usage: "what-if: secs value from which the partner's clients are answered (0: load balancing off)"},
			&cli.StringFlag{Name: "state", Value: "normal", Usage: "what-if: failover state"},
			&cli.StringSliceFlag{Name: "this-server-id", Usage: "what-if: this server's identifier (option 54), repeatable"},
			&cli.BoolFlag{Name: "chaddr-only", Usage: "what-if: hash chaddr even when option 61 is present"},
			&cli.BoolFlag{Name: "swap-secs", Usage: "what-if: read byte-swapped secs (ISC check-secs-byte-order)"},
			&cli.BoolFlag{Name: "offline", Usage: "do not read the attached fast path: use the flags alone"},
			&cli.StringFlag{Name: "client-id", Usage: "option 61 payload in hex, type byte included (e.g. 01000c2967427a)"},
			&cli.UintFlag{Name: "secs", Usage: "the packet's secs field (seconds since the client started)"},
			&cli.StringFlag{Name: "giaddr", Usage: "relay agent address (empty: an on-link client)"},
			&cli.StringFlag{Name: "type", Value: "discover", Usage: "message type: " + strings.Join(explain.TypeNames(), ", ")},
			&cli.StringFlag{Name: "server-id", Usage: "option 54 in the packet (a REQUEST in SELECTING state names its server)"},
			&cli.StringFlag{Name: "ciaddr", Usage: "client address (a REQUEST while renewing or rebinding)"},
		), ifaceFlag, pinDirFlag, jsonFlag),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("explain: give one MAC address (got %d arguments: %s)", c.NArg(), strings.Join(c.Args().Slice(), " "))
			}
			pkt, err := explainPacket(c, c.Args().First())
			if err != nil {
				return err
			}
			cfg, source, relays, err := explainConfig(c)
			if err != nil {
				return err
			}
			ex := explain.Explain(cfg, source, pkt, relays)
			if c.Bool("json") {
				return writeJSON(c.App.Writer, ex)
			}
			return explain.Print(c.App.Writer, ex)
		},
	}
}

// explainPacket builds the packet the flags describe.
func explainPacket(c *cli.Context, macArg string) (*dhcpv4.DHCPv4, error) {
	mac, err := net.ParseMAC(macArg)
	if err != nil {
		return nil, fmt.Errorf("explain: MAC %q: %w", macArg, err)
	}
	p := explain.Packet{MAC: mac, Type: c.String("type")}
	if s := c.String("client-id"); s != "" {
		p.ClientID, err = hex.DecodeString(strings.NewReplacer(":", "", "-", "").Replace(s))
		if err != nil || len(p.ClientID) == 0 || len(p.ClientID) > 255 {
			return nil, fmt.Errorf("explain: --client-id %q: want 1 to 255 bytes in hex", s)
		}
	}
	secs := c.Uint("secs")
	if secs > 65535 {
		return nil, fmt.Errorf("explain: --secs %d: want 0..65535", secs)
	}
	p.Secs = uint16(secs)
	for name, a := range map[string]*netip.Addr{"giaddr": &p.Giaddr, "ciaddr": &p.Ciaddr, "server-id": &p.ServerID} {
		if s := c.String(name); s != "" {
			if *a, err = netip.ParseAddr(s); err != nil || !a.Is4() {
				return nil, fmt.Errorf("explain: --%s %q: not an IPv4 address", name, s)
			}
		}
	}
	m, err := explain.Build(p)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	return m, nil
}

// explainConfig is the live config (and relay counters) with the what-if
// flags applied, or the flags alone.
func explainConfig(c *cli.Context) (decide.Rule, string, []loader.RelayStats, error) {
	cfg := decide.DefaultRule()
	source := "flags (no fast path read: --offline)"
	var relays []loader.RelayStats
	if !c.Bool("offline") {
		m, err := openMaps(c)
		if err == nil {
			defer m.Close()
			live, err := m.Rule()
			if err != nil {
				return cfg, "", nil, err
			}
			cfg, source = live, "the attached fast path"
			if relays, err = m.Relays(); err != nil {
				return cfg, "", nil, err
			}
		} else {
			source = fmt.Sprintf("flags (no fast path found: %v)", err)
		}
	}
	var overridden []string
	for _, name := range explainConfigFlags {
		if c.IsSet(name) {
			overridden = append(overridden, "--"+name)
		}
	}
	if len(overridden) > 0 && strings.HasPrefix(source, "the attached") {
		source += ", changed by " + strings.Join(overridden, " ")
	}
	flags, err := ruleFromFlags(c, "this-server-id")
	if err != nil {
		return cfg, "", nil, err
	}
	if !strings.HasPrefix(source, "the attached") {
		return flags, source, relays, nil
	}
	for name, take := range map[string]func(){
		"split": func() { cfg.HBA = flags.HBA }, "hba": func() { cfg.HBA = flags.HBA },
		"role": func() { cfg.Role = flags.Role }, "threshold": func() { cfg.Threshold = flags.Threshold },
		"state": func() { cfg.Rule = flags.Rule }, "this-server-id": func() { cfg.ServerIDs = flags.ServerIDs },
		"chaddr-only": func() { cfg.ChaddrOnly = flags.ChaddrOnly }, "swap-secs": func() { cfg.SwapSecs = flags.SwapSecs },
	} {
		if c.IsSet(name) {
			take()
		}
	}
	return cfg, source, relays, nil
}
