package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLogFlags(t *testing.T) {
	for _, tc := range []struct{ format, level, want string }{
		{"xml", "info", `--log-format "xml"`},
		{"json", "loud", `--log-level "loud"`},
	} {
		if _, err := runApp(t, "--log-format", tc.format, "--log-level", tc.level, "version"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s/%s: error %v, want %q", tc.format, tc.level, err, tc.want)
		}
	}
	var buf bytes.Buffer
	l, err := newLogger(&buf, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "relay", "198.18.7.1")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "hello" || rec["relay"] != "198.18.7.1" || rec["level"] != "DEBUG" {
		t.Errorf("json log line %q: %v", buf.String(), err)
	}
}
