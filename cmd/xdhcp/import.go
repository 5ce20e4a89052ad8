package main

import (
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/lease"
	"github.com/xdhcp/xdhcp/userspace/migrate"
	"github.com/xdhcp/xdhcp/userspace/migrate/isc"
	"github.com/xdhcp/xdhcp/userspace/migrate/kea"
)

// exitSkipped is import's exit status when it wrote its result but left
// statements out (listed in its report); 1 stays "failed, nothing written".
const exitSkipped = 2

func importCommand() *cli.Command {
	return &cli.Command{
		Name:     "import",
		Category: catLeases,
		Usage:    "move in from ISC dhcpd or Kea: configuration, reservations, leases and the failover pair",
		Description: `Reads the other server's configuration and lease file and writes an xdhcp
configuration (--config-out) and a new lease store (--db), so clients keep
their addresses and reservations on the day of the switch. A failover peer
or HA pair is printed as the flags for xdhcp serve. Every statement not
carried over is listed with its file and line. Exit status: 0 everything
carried over, 2 written but something listed as not carried over, 1 error
(nothing written). Without --config-out and --db nothing is written.`,
		Subcommands: []*cli.Command{
			{
				Name:  "isc",
				Usage: "import ISC dhcpd 4.x: dhcpd.conf (and its includes) and dhcpd.leases",
				Description: `Example:
  xdhcp import isc --conf /etc/dhcp/dhcpd.conf --leases /var/lib/dhcp/dhcpd.leases \
    --config-out /etc/xdhcp.yaml --db /var/lib/xdhcp/leases.db --iface eth0
What carries over and what does not: docs/migration.md.`,
				Flags: importFlags("dhcpd.conf", "dhcpd.leases"),
				Action: func(c *cli.Context) error {
					return runImport(c, "isc", func(file string, src []byte, r *migrate.Result) error {
						return isc.ImportConf(file, src, os.ReadFile, r)
					}, isc.ImportLeases)
				},
			},
			{
				Name:  "kea",
				Usage: "import Kea 2.x DHCPv4: kea-dhcp4.conf and the memfile kea-leases4.csv",
				Description: `Example:
  xdhcp import kea --conf /etc/kea/kea-dhcp4.conf --leases /var/lib/kea/kea-leases4.csv \
    --config-out /etc/xdhcp.yaml --db /var/lib/xdhcp/leases.db
What carries over and what does not: docs/migration.md.`,
				Flags: importFlags("kea-dhcp4.conf", "kea-leases4.csv (kea-leases4.csv.2 and .1 first if LFC left them)"),
				Action: func(c *cli.Context) error {
					return runImport(c, "kea", kea.ImportConf, kea.ImportLeases)
				},
			},
		},
	}
}

func importFlags(conf, leases string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "conf", Required: true, Usage: "the server's configuration `FILE` (" + conf + ")"},
		&cli.StringSliceFlag{Name: "leases", Usage: "its lease `FILE` (" + leases + "); repeat for several, oldest first"},
		&cli.StringFlag{Name: "config-out", Usage: "write the xdhcp configuration to `FILE`"},
		&cli.StringFlag{Name: "db", Usage: "create the lease store `FILE` (it must not exist yet)"},
		&cli.StringSliceFlag{Name: "iface", Usage: "interface to serve, written into the configuration; repeatable"},
		jsonFlag,
	}
}

type confReader func(file string, src []byte, r *migrate.Result) error
type leaseReader func(file string, src []byte, now time.Time, r *migrate.Result) error

// importReport is import's --json output.
type importReport struct {
	Source       string         `json:"source"`
	Subnets      int            `json:"subnets"`
	Ranges       int            `json:"ranges"`
	Reservations int            `json:"reservations"`
	LeasesRead   map[string]int `json:"leases_read"`
	LeasesKept   int            `json:"leases_imported"`
	ConfigOut    string         `json:"config_out,omitempty"`
	DB           string         `json:"db,omitempty"`
	Pair         *pairReport    `json:"pair,omitempty"`
	Skipped      []skipReport   `json:"skipped"`
}

type pairReport struct {
	Name   string   `json:"name"`
	Source string   `json:"source"`
	Flags  []string `json:"flags"`
	Notes  []string `json:"notes,omitempty"`
}

type skipReport struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Col       int    `json:"column,omitempty"`
	Statement string `json:"statement"`
	Reason    string `json:"reason"`
}

func runImport(c *cli.Context, kind string, readConf confReader, readLeases leaseReader) error {
	conf := c.String("conf")
	src, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("import %s: %w", kind, err)
	}
	r := migrate.NewResult()
	if err := readConf(conf, src, r); err != nil {
		return fmt.Errorf("import %s: %w", kind, err)
	}
	for _, i := range c.StringSlice("iface") {
		if !slices.Contains(r.Config.Interfaces, i) {
			r.Config.Interfaces = append(r.Config.Interfaces, i)
		}
	}
	db := c.String("db")
	if db != "" {
		if db, err = filepath.Abs(db); err != nil {
			return err
		}
		r.Config.DB = db
	}
	if err := importLeases(c.StringSlice("leases"), readLeases, r); err != nil {
		return fmt.Errorf("import %s: %w", kind, err)
	}
	header := fmt.Sprintf("Imported by xdhcp %s from %s on %s.\nEach subnet and reservation says where it came from; `xdhcp import` listed what was not carried over.",
		kind, conf, time.Now().UTC().Format(time.DateOnly))
	if len(r.Config.Subnets) == 0 {
		// Nothing to serve: say why, statement by statement, and write nothing.
		rep := report(kind, conf, "", "", r)
		if c.Bool("json") {
			writeJSON(c.App.Writer, rep)
		} else {
			printImport(c.App.Writer, rep)
		}
		return fmt.Errorf("import %s: no subnet with a range or a reservation was carried over: nothing to serve, nothing written", kind)
	}
	yaml, err := r.EncodeConfig(header)
	if err != nil {
		return fmt.Errorf("import %s: %w", kind, err)
	}
	out := c.String("config-out")
	if db != "" {
		if err := r.WriteStore(db); err != nil {
			return fmt.Errorf("import %s: %w", kind, err)
		}
	}
	if out != "" {
		if err := migrate.WriteFile(out, yaml); err != nil {
			if db != "" {
				os.Remove(db)
			}
			return fmt.Errorf("import %s: %w", kind, err)
		}
	}
	rep := report(kind, conf, out, db, r)
	if c.Bool("json") {
		err = writeJSON(c.App.Writer, rep)
	} else {
		printImport(c.App.Writer, rep)
	}
	if err != nil {
		return err
	}
	if len(r.Skipped) > 0 {
		return cli.Exit(fmt.Sprintf("xdhcp import %s: %d statements not carried over (listed in the report)", kind, len(r.Skipped)), exitSkipped)
	}
	return nil
}

// importLeases reads each lease file in turn; across files as within one,
// the last record of an address wins.
func importLeases(files []string, read leaseReader, r *migrate.Result) error {
	now := time.Now()
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := read(f, src, now, r); err != nil {
			return err
		}
	}
	last := map[netip.Addr]int{}
	for i, l := range r.Leases {
		last[l.IP] = i
	}
	var keep []lease.Lease
	for i, l := range r.Leases {
		if last[l.IP] == i {
			keep = append(keep, l)
		}
	}
	r.Leases, r.Kept = keep, len(keep)
	return nil
}

func report(kind, conf, out, db string, r *migrate.Result) importReport {
	rep := importReport{Source: kind + " " + conf, Subnets: len(r.Config.Subnets), LeasesRead: r.Read, LeasesKept: r.Kept,
		ConfigOut: out, DB: db, Skipped: []skipReport{}}
	for _, s := range r.Config.Subnets {
		rep.Ranges += len(s.Ranges)
		rep.Reservations += len(s.Reservations)
	}
	if p := r.Pair; p != nil {
		rep.Pair = &pairReport{Name: p.Name, Source: p.Source.String(), Flags: p.Flags(), Notes: p.Notes}
	}
	for _, s := range r.Skipped {
		rep.Skipped = append(rep.Skipped, skipReport{File: s.Pos.File, Line: s.Pos.Line, Col: s.Pos.Col, Statement: s.What, Reason: s.Why})
	}
	return rep
}

func printImport(w io.Writer, rep importReport) {
	fmt.Fprintf(w, "imported from %s: %d subnets, %d ranges, %d reservations\n", rep.Source, rep.Subnets, rep.Ranges, rep.Reservations)
	if len(rep.LeasesRead) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(rep.LeasesRead)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, rep.LeasesRead[k]))
		}
		fmt.Fprintf(w, "leases: %d addresses read (%s), %d imported\n", sum(rep.LeasesRead), strings.Join(parts, ", "), rep.LeasesKept)
	}
	switch {
	case rep.ConfigOut == "" && rep.DB == "":
		fmt.Fprintln(w, "nothing written (give --config-out and --db)")
	default:
		if rep.ConfigOut != "" {
			fmt.Fprintf(w, "wrote the configuration %s\n", rep.ConfigOut)
		}
		if rep.DB != "" {
			fmt.Fprintf(w, "wrote the lease store %s\n", rep.DB)
		}
	}
	if p := rep.Pair; p != nil {
		cfg := rep.ConfigOut
		if cfg == "" {
			cfg = "FILE"
		}
		fmt.Fprintf(w, "failover %s (%s): run this server as\n  xdhcp serve --config %s %s\n", p.Name, p.Source, cfg, strings.Join(p.Flags, " "))
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	if len(rep.Skipped) == 0 {
		fmt.Fprintln(w, "everything was carried over")
		return
	}
	fmt.Fprintf(w, "not carried over (%d):\n", len(rep.Skipped))
	for _, s := range rep.Skipped {
		pos := migrate.Pos{File: s.File, Line: s.Line, Col: s.Col}
		fmt.Fprintf(w, "  %v: %s: %s\n", pos, s.Statement, s.Reason)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
