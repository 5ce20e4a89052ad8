package control

// The answers as an operator reads them (xdhcp status, xdhcp health).

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xdhcp/xdhcp/userspace/failover"
)

// ago prints a time and how long ago it was.
func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.Local().Format(time.DateTime), time.Since(*t).Round(time.Millisecond))
}

// WriteStatus writes a failover status as xdhcp status shows it.
func WriteStatus(out io.Writer, st failover.Status) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	partner := "unknown"
	if st.PartnerState != nil {
		partner = st.PartnerState.String()
	}
	conn := "not connected"
	if st.Connected {
		conn = "connected " + st.Partner
	}
	fmt.Fprintf(w, "role\t%s\n", st.Role)
	fmt.Fprintf(w, "state\t%s since %s: %s\n", st.State, ago(&st.StateSince), st.Reason)
	fmt.Fprintf(w, "partner\t%s, %s\n", partner, conn)
	fmt.Fprintf(w, "last contact\t%s\n", ago(st.LastContact))
	fmt.Fprintf(w, "buckets owned now\t%d of 256\n", st.BucketsOwned)
	fmt.Fprintf(w, "unacked updates\t%d\n", st.Unacked)
	fmt.Fprintf(w, "mclt\t%s\n", st.MCLT)
	if st.PartnerDownSince != nil {
		fmt.Fprintf(w, "partner down since\t%s (partner's free addresses in use: %v)\n", ago(st.PartnerDownSince), st.UsingPartnerFree)
	}
	fmt.Fprintln(w, "\nSHARE\tOWNER\tSIZE\tFREE")
	for _, s := range st.Shares {
		owner := s.Owner.String()
		if s.Mine {
			owner += " (this server)"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", s.Range, owner, s.Size, s.Free)
	}
	return w.Flush()
}

// WriteHealth writes a health report as xdhcp health shows it.
func WriteHealth(out io.Writer, h Health) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	verdict := "healthy"
	if !h.OK {
		verdict = "NOT healthy"
	}
	fmt.Fprintf(w, "%s\tpid %d, started %s\n", verdict, h.PID, ago(&h.Started))
	fmt.Fprintf(w, "serving\t%v\n", h.Serving)
	for _, it := range h.Interfaces {
		fp := "not attached"
		if it.XDP {
			fp = fmt.Sprintf("attached (program %d)", it.ProgramID)
		}
		fmt.Fprintf(w, "fast path on %s\t%s (xdp %s)\n", it.Name, fp, h.FastPath)
	}
	store := "writable"
	if !h.Store.Writable {
		store = "NOT writable: " + h.Store.Fault
	}
	fmt.Fprintf(w, "lease store\t%s, %s\n", h.Store.Path, store)
	if p := h.Partner; p != nil {
		ps, conn := "unknown", "not connected"
		if p.PartnerState != nil {
			ps = p.PartnerState.String()
		}
		if p.Connected {
			conn = "connected"
		}
		fmt.Fprintf(w, "failover\t%s; partner %s, %s, last contact %s\n", p.State, ps, conn, ago(p.LastContact))
	} else {
		fmt.Fprintf(w, "failover\tstandalone\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, p := range h.Problems {
		fmt.Fprintf(out, "! %s\n", p)
	}
	return nil
}
