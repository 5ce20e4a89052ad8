package lab

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// reporter prints the lab's human output; with a nil writer it is silent.
type reporter struct {
	w       io.Writer
	pending bool
}

func (r *reporter) header(format string, a ...any) {
	if r.w == nil {
		return
	}
	r.progressDone()
	title := fmt.Sprintf(format, a...)
	fmt.Fprintf(r.w, "\n%s\n%s\n", title, strings.Repeat("-", len(title)))
}

func (r *reporter) line(format string, a ...any) {
	if r.w == nil {
		return
	}
	r.progressDone()
	fmt.Fprintf(r.w, format+"\n", a...)
}

func (r *reporter) raw(s string) {
	if r.w == nil {
		return
	}
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintf(r.w, "  %s\n", l)
	}
}

// progress prints a line that the next output completes.
func (r *reporter) progress(format string, a ...any) {
	if r.w == nil {
		return
	}
	r.progressDone()
	fmt.Fprintf(r.w, "... "+format, a...)
	r.pending = true
}

func (r *reporter) progressDone() {
	if r.pending && r.w != nil {
		fmt.Fprintln(r.w, " done")
	}
	r.pending = false
}

// tick adds a word to the pending progress line, so a slow act shows it
// is moving while its table is collected.
func (r *reporter) tick(format string, a ...any) {
	if r.w == nil || !r.pending {
		return
	}
	fmt.Fprintf(r.w, " "+format, a...)
}

// table collects rows and prints them aligned (text/tabwriter) at flush:
// a tabwriter aligns the columns of what it holds between flushes, so the
// rows must all be in before the first is printed.
type table struct {
	r  *reporter
	tw *tabwriter.Writer
}

func (r *reporter) table(cols ...string) *table {
	if r.w == nil {
		return &table{}
	}
	t := &table{r: r, tw: tabwriter.NewWriter(r.w, 0, 0, 2, ' ', 0)}
	t.row(cols...)
	return t
}

func (t *table) row(cells ...string) {
	if t.tw == nil {
		return
	}
	fmt.Fprintln(t.tw, strings.TrimRight(strings.Join(cells, "\t"), "\t"))
}

func (t *table) flush() {
	if t.tw != nil {
		t.r.progressDone()
		t.tw.Flush()
	}
}

func (r *reporter) keepHelp(t *Topology) {
	if r.w == nil {
		return
	}
	fmt.Fprintf(r.w, "\nThe lab is still up (--keep). Explore it:\n")
	for _, n := range t.nss {
		fmt.Fprintf(r.w, "  ip netns exec %s bash\n", n.Name)
	}
	fmt.Fprintf(r.w, "Try, inside %s: xdhcp stats; xdhcp relays; xdhcp status --control %s\n", t.A.ns.Name, t.A.control)
	fmt.Fprintf(r.w, "and from %s: xdhcp probe --iface cli0 --count 8\n", t.Client.Name)
	fmt.Fprintf(r.w, "Servers: a pid %d, b pid %d, logs and stores in %s.\n", t.A.cmd.Process.Pid, t.B.cmd.Process.Pid, t.Dir)
	fmt.Fprintf(r.w, "Press Ctrl-C to remove everything.\n")
}
