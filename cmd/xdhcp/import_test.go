package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/config"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// runImportApp runs the CLI in process and returns stdout and the exit
// status urfave/cli would have given (import exits 2 by itself).
func runImportApp(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	code := 0
	old := cli.OsExiter
	cli.OsExiter = func(c int) { code = c }
	defer func() { cli.OsExiter = old }()
	out, err := runApp(t, args...)
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	} else if err != nil {
		code = 1
	}
	return out, code, err
}

func TestImportISCWritesConfigAndStore(t *testing.T) {
	dir := t.TempDir()
	yamlOut, db := filepath.Join(dir, "xdhcp.yaml"), filepath.Join(dir, "leases.db")
	conf := filepath.Join("..", "..", "userspace", "migrate", "isc", "testdata", "corpus", "dhcpd.conf")
	leases := filepath.Join("..", "..", "userspace", "migrate", "isc", "testdata", "dhcpd.leases")
	out, code, _ := runImportApp(t, "import", "isc", "--conf", conf, "--leases", leases, "--config-out", yamlOut, "--db", db, "--iface", "eth0", "--json")
	if code != exitSkipped {
		t.Fatalf("exit %d, want %d (written, something not carried over)\n%s", code, exitSkipped, out)
	}
	var rep importReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Subnets != 3 || rep.Reservations != 4 || rep.Pair == nil || len(rep.Skipped) == 0 || rep.Skipped[0].Line == 0 || rep.LeasesKept == 0 {
		t.Fatalf("report %+v", rep)
	}
	cfg, err := config.Load(yamlOut)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != db || len(cfg.Interfaces) != 1 || cfg.Interfaces[0] != "eth0" || len(cfg.Subnets) != 3 {
		t.Fatalf("written configuration: %+v", cfg)
	}
	ls, err := lease.ReadFile(db, time.Second)
	if err != nil || len(ls) != rep.LeasesKept {
		t.Fatalf("store has %d leases (%v), report says %d", len(ls), err, rep.LeasesKept)
	}
	// The pair's flags are serve's: they parse into the rule they describe.
	rule := parseRuleFlags(t, rep.Pair.Flags)
	if rule.Threshold != 4 || rule.Role != decide.Primary || rule.HBA != decide.MustSplit(128) {
		t.Fatalf("rule from %v: %+v", rep.Pair.Flags, rule)
	}

	// A second import refuses to touch the store it made, and writes nothing.
	os.Remove(yamlOut)
	_, code, err = runImportApp(t, "import", "isc", "--conf", conf, "--config-out", yamlOut, "--db", db)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second import: exit %d, %v", code, err)
	}
	if _, err := os.Stat(yamlOut); err == nil {
		t.Fatal("a failed import wrote the configuration")
	}
}

func TestImportBadInputWritesNothing(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "dhcpd.conf")
	os.WriteFile(conf, []byte("subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.10 198.18.0.20;\n"), 0o644)
	yamlOut, db := filepath.Join(dir, "x.yaml"), filepath.Join(dir, "x.db")
	_, code, err := runImportApp(t, "import", "isc", "--conf", conf, "--config-out", yamlOut, "--db", db)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "dhcpd.conf:1:") {
		t.Fatalf("exit %d, err %v", code, err)
	}
	for _, f := range []string{yamlOut, db} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s written after an error", f)
		}
	}
	// A file with no subnet to serve: the report, then exit 1, nothing written.
	os.WriteFile(conf, []byte("option domain-name \"a.b\";\nmax-lease-time 60;\n"), 0o644)
	out, code, err := runImportApp(t, "import", "isc", "--conf", conf, "--config-out", yamlOut, "--db", db)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "nothing to serve") || !strings.Contains(out, "dhcpd.conf:2:1: max-lease-time") {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if _, err := os.Stat(yamlOut); err == nil {
		t.Fatal("written without a subnet")
	}
	// A clean file: exit 0, nothing listed.
	os.WriteFile(conf, []byte("authoritative;\nsubnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.10 198.18.0.20;\n}\n"), 0o644)
	out, code, err = runImportApp(t, "import", "isc", "--conf", conf, "--config-out", yamlOut, "--db", db)
	if code != 0 || err != nil || !strings.Contains(out, "everything was carried over") {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
}

func TestImportKea(t *testing.T) {
	dir := t.TempDir()
	yamlOut, db := filepath.Join(dir, "xdhcp.yaml"), filepath.Join(dir, "leases.db")
	td := filepath.Join("..", "..", "userspace", "migrate", "kea", "testdata")
	out, code, _ := runImportApp(t, "import", "kea", "--conf", filepath.Join(td, "kea-dhcp4.conf"), "--leases", filepath.Join(td, "kea-leases4.csv"),
		"--config-out", yamlOut, "--db", db)
	if code != exitSkipped || !strings.Contains(out, "--role secondary --hba 5555") || !strings.Contains(out, "not carried over (") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := config.Load(yamlOut); err != nil {
		t.Fatal(err)
	}
	ls, err := lease.ReadFile(db, time.Second)
	if err != nil || len(ls) != 6 {
		t.Fatalf("store: %d leases, %v", len(ls), err)
	}
}

// parseRuleFlags parses flags with serve's rule flags and returns the rule.
func parseRuleFlags(t *testing.T, args []string) decide.Rule {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags := append(serveFlags(), ruleFlags()...)
	for _, f := range flags {
		if err := f.Apply(fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("serve does not take %v: %v", args, err)
	}
	rule, err := ruleFromFlags(cli.NewContext(cli.NewApp(), fs, nil), "server-id")
	if err != nil {
		t.Fatalf("rule from %v: %v", args, err)
	}
	return rule
}
