package main

import (
	"strings"
	"testing"
)

// The limit flags are checked before the daemon starts, with errors naming
// the flag or the setting.
func TestServeLimitFlagErrors(t *testing.T) {
	base := []string{"serve", "--xdp", "off", "--subnet", "198.18.0.0/24", "--range", "198.18.0.10-198.18.0.20"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pool-reserve", "101%"}, `--pool-reserve: "101%": want a percentage`},
		{[]string{"--pool-reserve", "lots"}, `--pool-reserve: "lots"`},
		{[]string{"--relay-rate", "-1"}, "limits: relay-rate -1: want a rate >= 0"},
		{[]string{"--client-rate", "-0.5"}, "limits: client-rate -0.5: want a rate >= 0"},
		// Valid limits get as far as the missing interface.
		{[]string{"--relay-rate", "50", "--client-rate", "0.5", "--pool-reserve", "5%"}, "no interface to serve"},
	} {
		_, err := runApp(t, append(append([]string{}, base...), tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
