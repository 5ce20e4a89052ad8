package main

import (
	"strings"
	"testing"
)

// The reference's vectors (failover.md section 6): 00:00:01:02:03:05 is
// bucket 45, the primary's under split 128; option 61 01:00:0c:29:67:42:7a
// is bucket 14.
func TestHashCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"00:00:01:02:03:05"}, "key 000001020305 (chaddr)  bucket 45  owner primary"},
		{[]string{"00:00:01:02:03:05", "--split", "40"}, "bucket 45  owner secondary"},
		{[]string{"--client-id", "01:00:0c:29:67:42:7a"}, "bucket 14"},
	} {
		out, err := runApp(t, append([]string{"hash"}, tc.args...)...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("hash %v: %v %q, want %q", tc.args, err, out, tc.want)
		}
	}
	for _, bad := range [][]string{{}, {"zz"}, {"00:00:01:02:03:05", "--client-id", "01"}, {"--client-id", "xyz"}, {"00:00:01:02:03:05", "--split", "300"}} {
		if _, err := runApp(t, append([]string{"hash"}, bad...)...); err == nil {
			t.Errorf("hash %v: no error", bad)
		}
	}
}
