package loadgen

import (
	"fmt"
	"math"
	"net"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// MaxClients bounds the client table (8 bytes a client in the kernel).
const MaxClients = 1 << 22

// Clients picks n client MACs of which the fraction peerShare hashes (RFC
// 3074, chaddr key) to buckets the partner of role owns under hba. The two
// kinds are interleaved so any stretch of the sequence has about the same
// share. The MACs are locally administered (02:18:...), distinct and
// deterministic.
func Clients(n int, peerShare float64, hba decide.HBA, role decide.Role) ([]net.HardwareAddr, error) {
	return pick(n, peerShare, hba, role, func(mac net.HardwareAddr) []byte { return mac })
}

// ClientIDClients is Clients for clients that send option 61 = 01 + MAC
// (perfdhcp, most OS clients): the hash key is the option, not chaddr.
func ClientIDClients(n int, peerShare float64, hba decide.HBA, role decide.Role) ([]net.HardwareAddr, error) {
	return pick(n, peerShare, hba, role, func(mac net.HardwareAddr) []byte { return append([]byte{1}, mac...) })
}

func pick(n int, peerShare float64, hba decide.HBA, role decide.Role, key func(net.HardwareAddr) []byte) ([]net.HardwareAddr, error) {
	if n < 1 || n > MaxClients {
		return nil, fmt.Errorf("clients %d: want 1..%d", n, MaxClients)
	}
	if math.IsNaN(peerShare) || peerShare < 0 || peerShare > 1 {
		return nil, fmt.Errorf("peer share %v: want a fraction 0..1", peerShare)
	}
	partners := int(math.Round(peerShare * float64(n)))
	if partners > 0 && hba.Count(role.Other()) == 0 {
		return nil, fmt.Errorf("peer share %v: the partner (%s) owns no bucket under this assignment", peerShare, role.Other())
	}
	if partners < n && hba.Count(role) == 0 {
		return nil, fmt.Errorf("peer share %v: this server (%s) owns no bucket under this assignment", peerShare, role)
	}
	// Two cursors over one MAC sequence: one finds the partner's clients, the
	// other this server's; no MAC is used twice because each cursor only takes
	// MACs of its own kind.
	var cursor [2]uint32
	next := func(wantPartner bool) net.HardwareAddr {
		k := 0
		if wantPartner {
			k = 1
		}
		for {
			c := cursor[k]
			cursor[k]++
			mac := net.HardwareAddr{0x02, 0x18, byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
			if (hba.Owner(decide.Bucket(key(mac))) != role) == wantPartner {
				return mac
			}
		}
	}
	out := make([]net.HardwareAddr, 0, n)
	have := 0
	for i := 0; i < n; i++ {
		// Keep the running share on the target: partner when behind it.
		want := int(math.Round(peerShare * float64(i+1)))
		p := have < want
		if p {
			have++
		}
		out = append(out, next(p))
	}
	return out, nil
}
