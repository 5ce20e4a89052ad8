package decide

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Role is this server's place in the pair. A set HBA bit means the primary
// owns the bucket (ISC layout), so one bitmap describes both servers.
type Role uint8

const (
	Primary   Role = 0
	Secondary Role = 1
)

func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Other is the partner's role.
func (r Role) Other() Role { return r ^ 1 }

// ParseRole reads "primary" or "secondary".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "primary", "p":
		return Primary, nil
	case "secondary", "s":
		return Secondary, nil
	}
	return 0, fmt.Errorf("role %q: want primary or secondary", s)
}

// MarshalText and UnmarshalText make roles readable in JSON and YAML.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// HBA is the 256-bit Hash Bucket Assignment: bucket b is bit (b&7) of byte
// (b>>3); a set bit means the primary owns the bucket.
type HBA [32]byte

// Split gives buckets 0..n-1 to the primary (ISC `split n`, Windows n=128 for
// 50:50). n is 0..256.
func Split(n int) (HBA, error) {
	var h HBA
	if n < 0 || n > 256 {
		return h, fmt.Errorf("split %d: want 0..256", n)
	}
	for b := 0; b < n; b++ {
		h.Set(uint8(b), Primary)
	}
	return h, nil
}

// MustSplit is Split for constants.
func MustSplit(n int) HBA {
	h, err := Split(n)
	if err != nil {
		panic(err)
	}
	return h
}

// KeaHBA is Kea's assignment: even buckets to the primary (ISC `hba 55 x32`).
func KeaHBA() HBA {
	var h HBA
	for i := range h {
		h[i] = 0x55
	}
	return h
}

// ParseHBA reads 64 hex digits, with or without colons or spaces.
func ParseHBA(s string) (HBA, error) {
	var h HBA
	clean := strings.NewReplacer(":", "", " ", "", "0x", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil {
		return h, fmt.Errorf("hba %q: %w", s, err)
	}
	if len(b) != len(h) {
		return h, fmt.Errorf("hba %q: %d bytes, want 32 (64 hex digits)", s, len(b))
	}
	copy(h[:], b)
	return h, nil
}

func (h HBA) String() string { return hex.EncodeToString(h[:]) }

// Owner is the role that owns bucket b.
func (h HBA) Owner(b uint8) Role {
	if h[b>>3]&(1<<(b&7)) != 0 {
		return Primary
	}
	return Secondary
}

// Set gives bucket b to role r.
func (h *HBA) Set(b uint8, r Role) {
	if r == Primary {
		h[b>>3] |= 1 << (b & 7)
	} else {
		h[b>>3] &^= 1 << (b & 7)
	}
}

// Count is how many buckets role r owns.
func (h HBA) Count(r Role) int {
	n := 0
	for b := 0; b < 256; b++ {
		if h.Owner(uint8(b)) == r {
			n++
		}
	}
	return n
}

// MarshalText and UnmarshalText print the assignment as 64 hex digits.
func (h HBA) MarshalText() ([]byte, error) { return []byte(h.String()), nil }
func (h *HBA) UnmarshalText(b []byte) error {
	v, err := ParseHBA(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}
