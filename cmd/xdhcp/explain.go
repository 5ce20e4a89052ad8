package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

// explainTypes are the --type values, in the order help lists them.
type explainType struct {
	name string
	t    dhcpv4.MessageType
}

var explainTypes = []explainType{
	{"discover", dhcpv4.MessageTypeDiscover}, {"request", dhcpv4.MessageTypeRequest},
	{"decline", dhcpv4.MessageTypeDecline}, {"release", dhcpv4.MessageTypeRelease},
	{"inform", dhcpv4.MessageTypeInform}, {"bootp", dhcpv4.MessageTypeNone},
	{"offer", dhcpv4.MessageTypeOffer}, {"ack", dhcpv4.MessageTypeAck}, {"nak", dhcpv4.MessageTypeNak},
}

func explainTypeNames() []string {
	var out []string
	for _, e := range explainTypes {
		out = append(out, e.name)
	}
	return out
}

// explainConfigFlags are the flags that change the configuration the packet
// is judged against (applied over the live one when a fast path is found).
var explainConfigFlags = []string{"split", "hba", "role", "threshold", "state", "this-server-id", "chaddr-only", "swap-secs"}

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
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
		Flags: append(append(hbaFlags(),
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
			&cli.StringFlag{Name: "type", Value: "discover", Usage: "message type: " + strings.Join(explainTypeNames(), ", ")},
			&cli.StringFlag{Name: "server-id", Usage: "option 54 in the packet (a REQUEST in SELECTING state names its server)"},
			&cli.StringFlag{Name: "ciaddr", Usage: "client address (a REQUEST while renewing or rebinding)"},
		), ifaceFlag, pinDirFlag, jsonFlag),
		// Flags may follow the MAC (xdhcp explain MAC --secs 8), which
		// urfave/cli v2 does not parse: explain parses its own arguments.
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			c, pos, err := parseInterspersed(c)
			if err != nil || c == nil {
				return err
			}
			if len(pos) != 1 {
				return fmt.Errorf("explain: give one MAC address (got %d arguments: %s)", len(pos), strings.Join(pos, " "))
			}
			pkt, err := explainPacket(c, pos[0])
			if err != nil {
				return err
			}
			cfg, source, relays, err := explainConfig(c)
			if err != nil {
				return err
			}
			ex := explain(cfg, source, pkt)
			if relays != nil {
				for _, f := range relaydiag.DefaultRule().DiagnoseAll(relays).Relays {
					if f.Name == ex.Packet.Relay {
						ex.RelayDiagnosis = &f
					}
				}
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, ex)
			}
			return printExplanation(c.App.Writer, ex)
		},
	}
}

// parseInterspersed parses the command's flags wherever they stand among
// its arguments and returns a context reading them, and the positional
// arguments. A nil context with no error means help was shown.
func parseInterspersed(c *cli.Context) (*cli.Context, []string, error) {
	fs := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(fs); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.Command.Name, err)
		}
	}
	var pos []string
	args := c.Args().Slice()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil, nil, nil
			}
			return nil, nil, fmt.Errorf("%s: %w", c.Command.Name, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			if h := fs.Lookup("help"); h != nil && h.Value.String() == "true" {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil, nil, nil
			}
			return cli.NewContext(c.App, fs, c), pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// explainPacket builds the packet the flags describe.
func explainPacket(c *cli.Context, macArg string) (*dhcpv4.DHCPv4, error) {
	mac, err := net.ParseMAC(macArg)
	if err != nil {
		return nil, fmt.Errorf("explain: MAC %q: %w", macArg, err)
	}
	if len(mac) > dhcpv4.MaxHWAddrLen {
		return nil, fmt.Errorf("explain: MAC %q: %d bytes, chaddr holds at most %d", macArg, len(mac), dhcpv4.MaxHWAddrLen)
	}
	i := slices.IndexFunc(explainTypes, func(e explainType) bool { return e.name == strings.ToLower(c.String("type")) })
	if i < 0 {
		return nil, fmt.Errorf("explain: --type %q: want one of %s", c.String("type"), strings.Join(explainTypeNames(), ", "))
	}
	mods := []dhcpv4.Modifier{dhcpv4.WithHwAddr(mac)}
	if t := explainTypes[i].t; t != dhcpv4.MessageTypeNone {
		mods = append(mods, dhcpv4.WithMessageType(t))
	}
	if s := c.String("client-id"); s != "" {
		id, err := hex.DecodeString(strings.NewReplacer(":", "", "-", "").Replace(s))
		if err != nil || len(id) == 0 || len(id) > 255 {
			return nil, fmt.Errorf("explain: --client-id %q: want 1 to 255 bytes in hex", s)
		}
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id)))
	}
	secs := c.Uint("secs")
	if secs > 65535 {
		return nil, fmt.Errorf("explain: --secs %d: want 0..65535", secs)
	}
	for _, f := range []struct {
		name string
		mod  func(net.IP) dhcpv4.Modifier
	}{
		{"giaddr", dhcpv4.WithRelay},
		{"ciaddr", dhcpv4.WithClientIP},
		{"server-id", func(ip net.IP) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip)) }},
	} {
		s := c.String(f.name)
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("explain: --%s %q: not an IPv4 address", f.name, s)
		}
		mods = append(mods, f.mod(a.AsSlice()))
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		return nil, fmt.Errorf("explain: build packet: %w", err)
	}
	m.NumSeconds = uint16(secs)
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
	fromFlags := !strings.HasPrefix(source, "the attached")
	set := func(name string) bool { return fromFlags || c.IsSet(name) }
	var err error
	if set("split") || set("hba") {
		if cfg.HBA, err = hbaFromFlags(c); err != nil {
			return cfg, "", nil, err
		}
	}
	if set("role") {
		if cfg.Role, err = decide.ParseRole(c.String("role")); err != nil {
			return cfg, "", nil, fmt.Errorf("--role: %w", err)
		}
	}
	if set("threshold") {
		t := c.Uint("threshold")
		if t > 65535 {
			return cfg, "", nil, fmt.Errorf("--threshold %d: want 0..65535", t)
		}
		cfg.Threshold = uint16(t)
	}
	if set("state") {
		if cfg.Rule, err = decide.ParseState(c.String("state")); err != nil {
			return cfg, "", nil, fmt.Errorf("--state: %w", err)
		}
	}
	if set("this-server-id") {
		cfg.ServerIDs = nil
		for _, s := range c.StringSlice("this-server-id") {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() {
				return cfg, "", nil, fmt.Errorf("--this-server-id %q: not an IPv4 address", s)
			}
			cfg.ServerIDs = append(cfg.ServerIDs, a)
		}
	}
	if set("chaddr-only") {
		cfg.ChaddrOnly = c.Bool("chaddr-only")
	}
	if set("swap-secs") {
		cfg.SwapSecs = c.Bool("swap-secs")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", nil, err
	}
	return cfg, source, relays, nil
}

type explainedPacket struct {
	MAC       string `json:"mac"`
	Type      string `json:"type"`
	ClientID  string `json:"client_id,omitempty"`
	Secs      uint16 `json:"secs"`
	Relay     string `json:"relay"`
	Ciaddr    string `json:"ciaddr,omitempty"`
	ServerID  string `json:"server_id,omitempty"`
	HashKey   string `json:"hash_key"`
	KeySource string `json:"key_source"`
}

type explainedConfig struct {
	Source       string       `json:"source"`
	Role         decide.Role  `json:"role"`
	Threshold    uint16       `json:"threshold"`
	State        decide.State `json:"state"`
	OwnedBuckets int          `json:"owned_buckets"`
	ServerIDs    []netip.Addr `json:"server_ids"`
	ChaddrOnly   bool         `json:"chaddr_only"`
	SwapSecs     bool         `json:"swap_secs"`
}

// explainedVerdict is decide.Verdict with bucket and owner only when the
// hash decided.
type explainedVerdict struct {
	Reason decide.Reason `json:"reason"`
	Drop   bool          `json:"drop"`
	Hashed bool          `json:"hashed"`
	Bucket *uint8        `json:"bucket,omitempty"`
	Owner  *decide.Role  `json:"owner,omitempty"`
	Secs   *uint16       `json:"secs,omitempty"` // secs as the rule read it (after the byte-swap quirk)
}

type explanation struct {
	Packet  explainedPacket  `json:"packet"`
	Config  explainedConfig  `json:"config"`
	Verdict explainedVerdict `json:"verdict"`
	// Action is what the fast path does: "pass" (to the daemon, which answers) or "drop".
	Action string `json:"action"`
	Why    string `json:"why"`
	// AnswersFromSecs is the secs from which this server answers this
	// client (0 when it answers at once, absent when secs does not matter).
	AnswersFromSecs *uint16            `json:"answers_from_secs,omitempty"`
	RelayDiagnosis  *relaydiag.Finding `json:"relay_diagnosis,omitempty"`
}

// explain decides pkt under cfg and says why.
func explain(cfg decide.Rule, source string, pkt *dhcpv4.DHCPv4) explanation {
	payload := pkt.ToBytes()
	v := decide.DecidePayload(&cfg, payload)
	req, _, _ := decide.ParseBOOTP(payload)
	ex := explanation{
		Packet: explainedPacket{MAC: pkt.ClientHWAddr.String(), Type: explainTypeName(pkt.MessageType()), Secs: pkt.NumSeconds,
			Relay: relaydiag.Name(netip.AddrFrom4([4]byte(pkt.GatewayIPAddr.To4())))},
		Config: explainedConfig{Source: source, Role: cfg.Role, Threshold: cfg.Threshold, State: cfg.Rule,
			OwnedBuckets: cfg.HBA.Count(cfg.Role), ServerIDs: cfg.ServerIDs, ChaddrOnly: cfg.ChaddrOnly, SwapSecs: cfg.SwapSecs},
		Verdict: explainedVerdict{Reason: v.Reason, Drop: v.Drop, Hashed: v.Hashed},
		Action:  "pass",
	}
	if v.Hashed {
		ex.Verdict.Bucket, ex.Verdict.Owner, ex.Verdict.Secs = &v.Bucket, &v.Owner, &v.Secs
	}
	if ex.Config.ServerIDs == nil {
		ex.Config.ServerIDs = []netip.Addr{}
	}
	if v.Drop {
		ex.Action = "drop"
	}
	if id := pkt.Options.Get(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		ex.Packet.ClientID = hex.EncodeToString(id)
	}
	if !pkt.ClientIPAddr.IsUnspecified() {
		ex.Packet.Ciaddr = pkt.ClientIPAddr.String()
	}
	if sid := pkt.ServerIdentifier(); sid != nil {
		ex.Packet.ServerID = sid.String()
	}
	ex.Packet.HashKey = hex.EncodeToString(req.Key(cfg.ChaddrOnly))
	ex.Packet.KeySource = "chaddr"
	if len(req.ClientID) > 0 {
		ex.Packet.KeySource = "client identifier (option 61)"
		if cfg.ChaddrOnly {
			ex.Packet.KeySource = "chaddr (option 61 ignored: chaddr-only)"
		}
	}
	ex.Why, ex.AnswersFromSecs = why(cfg, v)
	return ex
}

func explainTypeName(t dhcpv4.MessageType) string {
	for _, e := range explainTypes {
		if e.t == t {
			return e.name
		}
	}
	return t.String()
}

// why is the sentence an operator reads, per reason.
func why(cfg decide.Rule, v decide.Verdict) (string, *uint16) {
	partner := cfg.Role.Other()
	switch v.Reason {
	case decide.ReasonStatePass:
		return fmt.Sprintf("the failover state is %s, not normal: the fast path passes every DHCP packet and the daemon decides by the state's rules", cfg.Rule), nil
	case decide.ReasonOverload:
		return "the packet continues its options in sname/file (option 52): the fast path does not read those, so the daemon decides", nil
	case decide.ReasonOtherMessage:
		return "this message type is not load balanced: passed to the daemon", nil
	case decide.ReasonRenewRebind:
		return "a REQUEST with ciaddr (renewing or rebinding) is always answered by a server that knows the lease: passed", nil
	case decide.ReasonServerIDMine:
		return "option 54 names this server: the client chose it, so it answers", nil
	case decide.ReasonOtherServerDropped:
		return "option 54 names another server: the client chose that one, so this server stays silent", nil
	case decide.ReasonLBOff:
		return fmt.Sprintf("threshold 0 turns load balancing off: this server answers every client (bucket %d, owner %s)", v.Bucket, v.Owner), nil
	case decide.ReasonOwned:
		zero := uint16(0)
		return fmt.Sprintf("bucket %d belongs to the %s, which is this server: it answers at any secs", v.Bucket, v.Owner), &zero
	case decide.ReasonSecsOverride:
		t := cfg.Threshold
		return fmt.Sprintf("bucket %d belongs to the partner (%s), but secs %d has reached the threshold %d: the client has waited and the partner has not answered it, so this server answers", v.Bucket, partner, v.Secs, cfg.Threshold), &t
	case decide.ReasonPartnerDropped:
		t := cfg.Threshold
		return fmt.Sprintf("bucket %d belongs to the partner (%s) and secs %d is below the threshold %d: dropped, the partner answers; this server answers this client only once it retransmits with secs of %d or more", v.Bucket, partner, v.Secs, cfg.Threshold, cfg.Threshold), &t
	case decide.ReasonMalformed, decide.ReasonMalformedDropped:
		return fmt.Sprintf("the packet does not parse as a BOOTREQUEST: %s", v.Reason), nil
	}
	return v.Reason.String(), nil
}

func printExplanation(w io.Writer, ex explanation) error {
	p := ex.Packet
	fmt.Fprintf(w, "packet:  %s from %s, secs %d, relay %s", strings.ToUpper(p.Type), p.MAC, p.Secs, p.Relay)
	if p.ClientID != "" {
		fmt.Fprintf(w, ", client id %s", p.ClientID)
	}
	if p.Ciaddr != "" {
		fmt.Fprintf(w, ", ciaddr %s", p.Ciaddr)
	}
	if p.ServerID != "" {
		fmt.Fprintf(w, ", server id %s", p.ServerID)
	}
	fmt.Fprintln(w)
	c := ex.Config
	fmt.Fprintf(w, "config:  %s, threshold %d, state %s, %d buckets owned (from %s)\n", c.Role, c.Threshold, c.State, c.OwnedBuckets, c.Source)
	if v := ex.Verdict; v.Hashed {
		fmt.Fprintf(w, "hash:    key %s (%s) -> bucket %d, owner %s\n", p.HashKey, p.KeySource, *v.Bucket, *v.Owner)
	}
	fmt.Fprintf(w, "verdict: %s (%s)\n", ex.Action, ex.Verdict.Reason)
	fmt.Fprintf(w, "why:     %s\n", ex.Why)
	if d := ex.RelayDiagnosis; d != nil {
		fmt.Fprintf(w, "relay:   %s: %s\n", d.Status, d.Message)
	}
	return nil
}
