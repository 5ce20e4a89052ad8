package isc

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// The tokenizer and parser read what dhcpd reads: escapes, comments
// anywhere, record types in braces, if/elsif/else chains (also "else if").
func TestParseShapes(t *testing.T) {
	src := `option a code 200 = { ip-address, text }; # a comment
key "k" { algorithm hmac-md5; secret "x#y\"z\101\x42"; };
if a { b; } elsif c { d; } else if e { f; } else { g; }
host h{hardware ethernet 0:1:2:3:4:5;}`
	stmts, err := Parse("t.conf", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 4 {
		t.Fatalf("%d statements: %v", len(stmts), stmts)
	}
	if got := stmts[0].Text(); got != "option a code 200 = { ip-address, text }" {
		t.Errorf("record type: %q", got)
	}
	if secret := stmts[1].Block[1].Words[1]; secret.Kind != String || secret.Text != `x#y"zAB` {
		t.Errorf("string with escapes: %+v", secret)
	}
	chain := 0
	for e := stmts[2]; e != nil; e = e.Else {
		chain++
	}
	if chain != 4 {
		t.Errorf("if chain of %d branches, want 4", chain)
	}
	if mac := groups(stmts[3].Block[0].Words[2:]); len(mac) != 1 || mac[0].Text != "0:1:2:3:4:5" {
		t.Errorf("glued hex: %+v", mac)
	}
}

// A file dhcpd would refuse is an error naming the place.
func TestParseErrors(t *testing.T) {
	files := map[string]string{
		"loop.conf":  `include "loop.conf";`,
		"inner.conf": "subnet 1.2.3.0 netmask 255.255.255.0 {\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	for _, tc := range []struct{ src, want string }{
		{"a {\n b;\n", "t.conf:1:1: end of file: this '{' (a) is never closed (at t.conf:1:3)"},
		{"a; }", "t.conf:1:4: '}' without a matching '{'"},
		{"a {\n b }", "t.conf:2:4: '}' ends the statement that starts at line 2 before its ';'"},
		{`option x "abc`, "t.conf:1:1: end of file in a string (at t.conf:1:10)"},
		{`include "loop.conf";`, "the file includes itself"},
		{`include "missing.conf";`, "t.conf:1:1: include: open missing.conf"},
		{`include "inner.conf";`, "inner.conf:1:1: end of file: this '{' (subnet) is never closed (at inner.conf:1:38)"},
		{"{ a; }", "t.conf:1:1: '{' without a statement before it"},
		{strings.Repeat("a {", 100), "nested more than 64 deep"},
	} {
		_, err := Parse("t.conf", []byte(tc.src), read)
		var se *SyntaxError
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.src, err, tc.want)
		} else if !errors.As(err, &se) && !strings.Contains(tc.want, "include") {
			t.Errorf("%q: %T is not a *SyntaxError", tc.src, err)
		}
	}
}
