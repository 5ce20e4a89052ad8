package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

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
A client that retransmits every second (secs 0, 1, 2, ...) sends T requests
below the threshold T before it is answered here, so --min-share defaults
to 0.20 or, when lower, 1/(2(T+1)) for the threshold in force (0.07 at 6).
Relays with fewer than --min-partner partner-owned requests are "too-few".
When every relay with enough traffic is flagged, the partner itself is the
likelier culprit (check its failover state).

The counters run from load or the last counter reset; --window reads them
twice and diagnoses only what happened in between.`,
		Flags: []cli.Flag{ifaceFlag, pinDirFlag, jsonFlag,
			&cli.DurationFlag{Name: "window", Usage: "diagnose only the requests seen during this interval (reads the counters twice)"},
			&cli.Uint64Flag{Name: "min-overridden", Value: def.MinOverridden, Usage: "flag a relay only after this many partner-owned requests were answered here"},
			&cli.Float64Flag{Name: "min-share", DefaultText: fmt.Sprintf("%.2f, or 1/(2(T+1)) when lower at threshold T", def.MinOverrideShare), Usage: "flag a relay when this share (0..1] of its partner-owned requests was answered here"},
			&cli.Uint64Flag{Name: "min-partner", Value: def.MinPartnerRequests, Usage: "below this many partner-owned requests a relay is too-few to judge"},
		},
		Action: func(c *cli.Context) error {
			m, err := openMaps(c)
			if err != nil {
				return err
			}
			defer m.Close()
			rule := relaydiag.Rule{MinOverridden: c.Uint64("min-overridden"), MinOverrideShare: def.MinOverrideShare, MinPartnerRequests: c.Uint64("min-partner")}
			if c.IsSet("min-share") {
				rule.MinOverrideShare = c.Float64("min-share")
			} else {
				live, err := m.Rule()
				if err != nil {
					return err
				}
				rule = rule.ForThreshold(live.Threshold)
			}
			if err := rule.Validate(); err != nil {
				return fmt.Errorf("relays: %w", err)
			}
			rep, err := rule.Watch(c.Context, m.Relays, c.Duration("window"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, rep)
			}
			return rep.Print(c.App.Writer, time.Now())
		},
	}
}
