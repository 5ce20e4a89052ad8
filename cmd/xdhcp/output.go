package main

import (
	"encoding/json"
	"io"

	"github.com/urfave/cli/v2"
)

// jsonFlag is the --json flag every command carries.
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}

// writeJSON prints v as indented JSON: the stable, scriptable output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
