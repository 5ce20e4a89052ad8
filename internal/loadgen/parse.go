package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePPS reads a packet rate, or "max" (0: as fast as the CPUs allow).
func ParsePPS(s string) (uint64, error) {
	if strings.EqualFold(strings.TrimSpace(s), "max") {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q: want a positive number of packets per second or max", s)
	}
	return n, nil
}

// ParseSecs reads "N" or "MIN-MAX" (0..65535).
func ParseSecs(s string) (uint16, uint16, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q: want N or MIN-MAX, whole numbers 0..65535", s)
	}
	if a > b {
		return 0, 0, fmt.Errorf("%q: MIN is above MAX", s)
	}
	return uint16(a), uint16(b), nil
}

// JoinTypes prints message kinds as the --types flag takes them.
func JoinTypes(ts []Type) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = string(t)
	}
	return strings.Join(names, ",")
}
