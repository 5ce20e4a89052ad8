package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: any bytes give a config or errors that name file and line;
// never a panic, never both.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("subnets:\n  - subnet: 198.18.1.0/24\n    ranges: [198.18.1.10-198.18.1.20]\n"))
	f.Add([]byte("subnets: [{subnet: 198.18.1.0/33}]\n"))
	f.Add([]byte("\x00\xff: ["))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c != nil, err)
		}
		// Errors about a place name it; the one about the whole file
		// (no subnet at all) may come from flags as well, so it names none.
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") && !strings.Contains(err.Error(), "no subnet configured") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
