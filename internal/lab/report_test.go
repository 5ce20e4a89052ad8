package lab

import (
	"bytes"
	"strings"
	"testing"
)

// The act tables are aligned: every column starts at the same offset in
// every row, however wide the cells (the demo printed them ragged when
// each row was flushed on its own).
func TestTableAligned(t *testing.T) {
	var out bytes.Buffer
	r := &reporter{w: &out}
	r.progress("DISCOVER secs")
	tw := r.table("secs", "offered by", "addresses offered")
	for _, row := range [][]string{{"0", "a 198.18.1.2", "198.18.10.100"}, {"10", "a 198.18.1.2, b 198.18.2.2", "198.18.10.100, 198.18.10.150"}, {"2", "-", "-"}} {
		r.tick("%s", row[0])
		tw.row(row...)
	}
	tw.flush()
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 5 || lines[0] != "... DISCOVER secs 0 10 2 done" {
		t.Fatalf("output:\n%s", out.String())
	}
	head := lines[1]
	for _, col := range []string{"offered by", "addresses offered"} {
		at := strings.Index(head, col)
		for _, l := range lines[2:] {
			if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
				t.Errorf("column %q at %d is not aligned in %q", col, at, l)
			}
		}
	}
}
