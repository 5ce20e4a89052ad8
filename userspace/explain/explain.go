// Package explain says what the fast path does with a client's packet and
// why: it builds the packet a client would send (insomniacslk/dhcp), runs
// it through decide.DecidePayload (the Go twin of the XDP program, kept
// equal by the differential fuzz test) and turns the verdict into a
// sentence, with the relay's diagnosis when its counters are known.
package explain

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

type msgType struct {
	name string
	t    dhcpv4.MessageType
}

// types are the message types a packet may have, in the order help lists them.
var types = []msgType{
	{"discover", dhcpv4.MessageTypeDiscover}, {"request", dhcpv4.MessageTypeRequest},
	{"decline", dhcpv4.MessageTypeDecline}, {"release", dhcpv4.MessageTypeRelease},
	{"inform", dhcpv4.MessageTypeInform}, {"bootp", dhcpv4.MessageTypeNone},
	{"offer", dhcpv4.MessageTypeOffer}, {"ack", dhcpv4.MessageTypeAck}, {"nak", dhcpv4.MessageTypeNak},
}

// TypeNames are the accepted Packet.Type values.
func TypeNames() []string {
	var out []string
	for _, e := range types {
		out = append(out, e.name)
	}
	return out
}

// Packet describes the client's packet; zero addresses are absent.
type Packet struct {
	MAC      net.HardwareAddr
	Type     string // one of TypeNames; "" is discover
	ClientID []byte // option 61, type byte included
	Secs     uint16
	Giaddr   netip.Addr
	Ciaddr   netip.Addr
	ServerID netip.Addr // option 54
}

// Build makes the packet p describes.
func Build(p Packet) (*dhcpv4.DHCPv4, error) {
	if len(p.MAC) > dhcpv4.MaxHWAddrLen {
		return nil, fmt.Errorf("MAC %s: %d bytes, chaddr holds at most %d", p.MAC, len(p.MAC), dhcpv4.MaxHWAddrLen)
	}
	name := strings.ToLower(p.Type)
	if name == "" {
		name = "discover"
	}
	i := slices.IndexFunc(types, func(e msgType) bool { return e.name == name })
	if i < 0 {
		return nil, fmt.Errorf("type %q: want one of %s", p.Type, strings.Join(TypeNames(), ", "))
	}
	mods := []dhcpv4.Modifier{dhcpv4.WithHwAddr(p.MAC)}
	if t := types[i].t; t != dhcpv4.MessageTypeNone {
		mods = append(mods, dhcpv4.WithMessageType(t))
	}
	if len(p.ClientID) > 255 {
		return nil, fmt.Errorf("client id: %d bytes, at most 255", len(p.ClientID))
	}
	if len(p.ClientID) > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(p.ClientID)))
	}
	if p.Giaddr.IsValid() {
		mods = append(mods, dhcpv4.WithRelay(p.Giaddr.AsSlice()))
	}
	if p.Ciaddr.IsValid() {
		mods = append(mods, dhcpv4.WithClientIP(p.Ciaddr.AsSlice()))
	}
	if p.ServerID.IsValid() {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(p.ServerID.AsSlice())))
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		return nil, fmt.Errorf("build packet: %w", err)
	}
	m.NumSeconds = p.Secs
	return m, nil
}

// PacketView is the packet as explained.
type PacketView struct {
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

// ConfigView is the rule it was judged against and where that came from.
type ConfigView struct {
	Source       string       `json:"source"`
	Role         decide.Role  `json:"role"`
	Threshold    uint16       `json:"threshold"`
	State        decide.State `json:"state"`
	OwnedBuckets int          `json:"owned_buckets"`
	ServerIDs    []netip.Addr `json:"server_ids"`
	ChaddrOnly   bool         `json:"chaddr_only"`
	SwapSecs     bool         `json:"swap_secs"`
}

// VerdictView is decide.Verdict with bucket and owner only when the
// hash decided.
type VerdictView struct {
	Reason decide.Reason `json:"reason"`
	Drop   bool          `json:"drop"`
	Hashed bool          `json:"hashed"`
	Bucket *uint8        `json:"bucket,omitempty"`
	Owner  *decide.Role  `json:"owner,omitempty"`
	Secs   *uint16       `json:"secs,omitempty"` // secs as the rule read it (after the byte-swap quirk)
}

// Explanation is the answer, stable as JSON for scripts.
type Explanation struct {
	Packet  PacketView  `json:"packet"`
	Config  ConfigView  `json:"config"`
	Verdict VerdictView `json:"verdict"`
	// Action is what the fast path does: "pass" (to the daemon, which answers) or "drop".
	Action string `json:"action"`
	Why    string `json:"why"`
	// AnswersFromSecs is the secs from which this server answers this
	// client (0 when it answers at once, absent when secs does not matter).
	AnswersFromSecs *uint16            `json:"answers_from_secs,omitempty"`
	RelayDiagnosis  *relaydiag.Finding `json:"relay_diagnosis,omitempty"`
}

// Explain decides pkt under cfg (source says where cfg came from) and
// says why; with the fast path's relay counters it adds the diagnosis of
// the packet's relay.
func Explain(cfg decide.Rule, source string, pkt *dhcpv4.DHCPv4, relays []loader.RelayStats) Explanation {
	payload := pkt.ToBytes()
	v := decide.DecidePayload(&cfg, payload)
	req, _, _ := decide.ParseBOOTP(payload)
	ex := Explanation{
		Packet: PacketView{MAC: pkt.ClientHWAddr.String(), Type: typeName(pkt.MessageType()), Secs: pkt.NumSeconds,
			Relay: relaydiag.Name(netip.AddrFrom4([4]byte(pkt.GatewayIPAddr.To4())))},
		Config: ConfigView{Source: source, Role: cfg.Role, Threshold: cfg.Threshold, State: cfg.Rule,
			OwnedBuckets: cfg.HBA.Count(cfg.Role), ServerIDs: cfg.ServerIDs, ChaddrOnly: cfg.ChaddrOnly, SwapSecs: cfg.SwapSecs},
		Verdict: VerdictView{Reason: v.Reason, Drop: v.Drop, Hashed: v.Hashed},
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
	for _, f := range relaydiag.DefaultRule().ForThreshold(cfg.Threshold).DiagnoseAll(relays).Relays {
		if f.Name == ex.Packet.Relay {
			ex.RelayDiagnosis = &f
		}
	}
	return ex
}

func typeName(t dhcpv4.MessageType) string {
	for _, e := range types {
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

// Print writes the explanation an operator reads.
func Print(w io.Writer, ex Explanation) error {
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
