package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/relaydiag"
)

func relaysCommand() *cli.Command {
	def := relaydiag.DefaultRule()
	return &cli.Command{
		Name:      "relays",
		Category:  catDiag,
		Usage:     "per relay counters and the diagnosis of a relay that forwards only to this server",
		UsageText: "xdhcp relays [--json] [--window DURATION] [--min-overridden N] [--min-share F] [--min-partner N]",
		Description: `Reads the fast path's per-relay counters (map xdhcp_relays, keyed by
giaddr; "direct" is on-link clients) and diagnoses each relay.

For every hash-gated request the fast path records whether the client's
bucket is this server's (owned) or the partner's, and for the partner's
whether it was dropped (secs below the threshold: the partner should answer)
or answered here because secs reached the threshold (overridden).

A relay that forwards to both servers shows partner-owned requests that are
almost all dropped: the partner answers the first DISCOVER and the client
stops. A relay that forwards only to this server shows partner-owned clients
retransmitting with rising secs until this server answers them. The rule:
flag the relay when partner_overridden >= --min-overridden AND
partner_overridden / (partner_dropped + partner_overridden) >= --min-share.
Relays with fewer than --min-partner partner-owned requests are "too-few".
When every relay with enough traffic is flagged, the partner itself is the
likelier culprit (check its failover state).

The counters run from load or the last counter reset; --window reads them
twice and diagnoses only what happened in between.`,
		Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag,
			&cli.DurationFlag{Name: "window", Usage: "diagnose only the requests seen during this interval (reads the counters twice)"},
			&cli.Uint64Flag{Name: "min-overridden", Value: def.MinOverridden, Usage: "flag a relay only after this many partner-owned requests were answered here"},
			&cli.Float64Flag{Name: "min-share", Value: def.MinOverrideShare, Usage: "flag a relay when this share (0..1] of its partner-owned requests was answered here"},
			&cli.Uint64Flag{Name: "min-partner", Value: def.MinPartnerRequests, Usage: "below this many partner-owned requests a relay is too-few to judge"},
		},
		Action: func(c *cli.Context) error {
			rule := relaydiag.Rule{MinOverridden: c.Uint64("min-overridden"), MinOverrideShare: c.Float64("min-share"), MinPartnerRequests: c.Uint64("min-partner")}
			if err := rule.Validate(); err != nil {
				return fmt.Errorf("relays: %w", err)
			}
			m, err := openMaps(c)
			if err != nil {
				return err
			}
			defer m.Close()
			rep, err := readRelays(c, m, rule)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, rep)
			}
			return printRelays(c.App.Writer, rep, time.Now())
		},
	}
}

func readRelays(c *cli.Context, m *loader.Maps, rule relaydiag.Rule) (relaydiag.Report, error) {
	stats, err := m.Relays()
	if err != nil {
		return relaydiag.Report{}, err
	}
	window := c.Duration("window")
	if window <= 0 {
		return rule.DiagnoseAll(stats), nil
	}
	select {
	case <-c.Context.Done():
		return relaydiag.Report{}, c.Context.Err()
	case <-time.After(window):
	}
	after, err := m.Relays()
	if err != nil {
		return relaydiag.Report{}, err
	}
	rep := rule.DiagnoseAll(relaydiag.Delta(stats, after))
	rep.Window = window.String()
	return rep, nil
}

// printRelays is the table an operator reads; now makes "last seen" relative.
func printRelays(out io.Writer, rep relaydiag.Report, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "relay\trequests\towned\tpartner dropped\tpartner overridden\toverride share\tmax secs\tlast seen\tstatus\n")
	for _, f := range rep.Relays {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f\t%d\t%s ago\t%s\n", f.Name, f.Requests, f.Owned, f.PartnerDropped,
			f.PartnerOverridden, f.OverrideShare, f.MaxOverrideSecs, now.Sub(f.LastSeen).Round(time.Second), f.Status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, f := range rep.Relays {
		if f.Flagged() {
			fmt.Fprintf(out, "! %s\n", f.Message)
		}
	}
	window := "since load or reset"
	if rep.Window != "" {
		window = "in the last " + rep.Window
	}
	_, err := fmt.Fprintf(out, "%s (%s; rule: overridden >= %d and share >= %.2f)\n", rep.Summary, window, rep.Rule.MinOverridden, rep.Rule.MinOverrideShare)
	return err
}
