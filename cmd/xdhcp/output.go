package main

import (
	"encoding/json"
	"io"
	"text/tabwriter"
)

// writeJSON prints v as indented JSON: the stable, scriptable output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is the aligned text every command prints (text/tabwriter).
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }
