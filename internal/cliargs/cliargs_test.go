package cliargs

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersed(t *testing.T) {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "log-level"}},
		Commands: []*cli.Command{
			{Name: "threshold", Flags: []cli.Flag{&cli.StringFlag{Name: "iface"}, &cli.BoolFlag{Name: "json"}},
				Subcommands: []*cli.Command{{Name: "set", Flags: []cli.Flag{&cli.StringFlag{Name: "iface"}, &cli.BoolFlag{Name: "json"}}}}},
			{Name: "raw", SkipFlagParsing: true},
		},
	}
	for _, tc := range []struct{ in, want string }{
		{"x threshold set 2 --iface eth0", "x threshold set --iface eth0 2"},
		{"x threshold set 2 --json --iface eth0", "x threshold set --json --iface eth0 2"},
		{"x --log-level debug threshold --iface a set 2", "x --log-level debug threshold --iface a set 2"},
		{"x threshold set --iface=eth0 2", "x threshold set --iface=eth0 2"},
		{"x threshold set 2 -- --iface", "x threshold set 2 -- --iface"},
		{"x raw a --b c", "x raw a --b c"},
		{"x threshold set 2 --unknown 3", "x threshold set --unknown 2 3"},
	} {
		got := strings.Join(Interspersed(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
