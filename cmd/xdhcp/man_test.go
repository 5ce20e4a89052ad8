package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestEveryCommandHasManHelp(t *testing.T) {
	app := testApp()
	walkCommands(app.Commands, "", func(path string, cmd *cli.Command) {
		if strings.TrimSpace(cmd.Usage) == "" || strings.TrimSpace(cmd.Description) == "" {
			t.Errorf("command %q: usage %q, description %q: want both", path, cmd.Usage, cmd.Description)
		}
		for _, f := range cmd.Flags {
			if u, ok := f.(interface{ GetUsage() string }); ok && u.GetUsage() == "" {
				t.Errorf("command %q flag %s has no usage", path, f.Names()[0])
			}
		}
	})
	// Every command has its category in --help, and the categories are
	// the six the help groups by.
	cats := map[string]bool{catServe: true, catFastPath: true, catFailover: true, catLeases: true, catDiag: true, catLab: true}
	for _, cmd := range testApp().Commands {
		if !cats[cmd.Category] {
			t.Errorf("command %s: category %q, want one of %v", cmd.Name, cmd.Category, cats)
		}
	}
	help, err := runApp(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"serve:", "fast path:", "failover:", "leases:", "diagnostics:", "lab and bench:"} {
		if !strings.Contains(help, "\n   "+c) {
			t.Errorf("--help has no %q group:\n%s", c, help)
		}
	}
	page, err := runApp(t, "man")
	if err != nil || !strings.Contains(page, ".SH") || !strings.Contains(page, "relays") {
		t.Errorf("man: %v\n%.300s", err, page)
	}
}

// Flag help reads as written: a backquoted word in a usage string is
// urfave's placeholder for the value (it showed "--control xdhcp leases"),
// and a default is said once (it showed "(default 1h) (default: 0s)").
func TestFlagHelpReadsRight(t *testing.T) {
	walkCommands(testApp().Commands, "", func(path string, cmd *cli.Command) {
		for _, f := range cmd.Flags {
			if u, ok := f.(interface{ GetUsage() string }); ok && strings.Count(u.GetUsage(), "`") > 2 {
				t.Errorf("%s --%s: more than one backquoted placeholder in %q", path, f.Names()[0], u.GetUsage())
			}
		}
		out, err := runApp(t, append(strings.Fields(path), "--help")...)
		if err != nil {
			t.Errorf("%s --help: %v", path, err)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Count(line, "(default") > 1 {
				t.Errorf("%s --help: a default said twice: %q", path, strings.TrimSpace(line))
			}
		}
	})
	out, err := runApp(t, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--lease-time value", "(default: 1h0m0s)", "--control value", "/run/xdhcp/control.sock"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}
