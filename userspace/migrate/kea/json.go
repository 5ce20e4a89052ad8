// Package kea reads Kea's DHCPv4 configuration (kea-dhcp4.conf, JSON with
// comments) and its memfile lease file (kea-leases4.csv) into an xdhcp
// configuration and leases, and writes leases back in the memfile's
// columns. What has no xdhcp counterpart is reported with its line.
package kea

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// Node is a JSON value and where it starts in the file.
type Node struct {
	Pos   migrate.Pos
	Kind  byte // '{' object, '[' array, '"' string, '0' number, 'b' bool, 'n' null
	Str   string
	Num   json.Number
	Bool  bool
	Keys  []string // object keys, in file order
	Vals  []*Node  // object values, parallel to Keys
	Items []*Node  // array elements
}

// Get is an object's member (nil when absent or not an object).
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != '{' {
		return nil
	}
	for i, k := range n.Keys {
		if k == key {
			return n.Vals[i]
		}
	}
	return nil
}

func (n *Node) kindName() string {
	return map[byte]string{'{': "an object", '[': "a list", '"': "a string", '0': "a number", 'b': "true or false", 'n': "null"}[n.Kind]
}

// maxDepth keeps a hostile file from exhausting the stack.
const maxDepth = 64

// ParseJSON reads Kea's JSON: standard JSON plus #, // and /* */
// comments. Kea's <?include?> directive is refused (merge the file).
func ParseJSON(file string, src []byte) (*Node, error) {
	clean, err := stripComments(file, src)
	if err != nil {
		return nil, err
	}
	p := &jsonParser{file: file, src: clean, dec: json.NewDecoder(bytes.NewReader(clean))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%v: text after the configuration's closing brace", p.pos())
	}
	return n, nil
}

// stripComments blanks comments out (newlines kept, so lines stay right).
func stripComments(file string, src []byte) ([]byte, error) {
	out := bytes.Clone(src)
	line := 1
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == '\n':
			line++
		case c == '"':
			for i++; i < len(out) && out[i] != '"'; i++ {
				if out[i] == '\\' {
					i++
				} else if out[i] == '\n' {
					return nil, fmt.Errorf("%s:%d: a string runs past the end of its line", file, line)
				}
			}
		case c == '#' || (c == '/' && i+1 < len(out) && out[i+1] == '/'):
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
			i--
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			start := line
			j := i
			for ; j+1 < len(out) && !(out[j] == '*' && out[j+1] == '/'); j++ {
				if out[j] == '\n' {
					line++
				} else {
					out[j] = ' '
				}
			}
			if j+1 >= len(out) {
				return nil, fmt.Errorf("%s:%d: a /* comment is never closed", file, start)
			}
			out[j], out[j+1] = ' ', ' '
			i = j + 1
		case c == '.' && i > 0 && i+1 < len(out) && out[i+1] >= '0' && out[i+1] <= '9' && (out[i-1] < '0' || out[i-1] > '9'):
			// Kea reads .5 as 0.5; JSON wants the 0. The blank before it
			// takes it, so lines and columns stay right.
			if out[i-1] == ' ' || out[i-1] == '\t' {
				out[i-1] = '0'
			} else {
				out = append(out[:i], append([]byte{'0'}, out[i:]...)...)
				i++
			}
		case c == '<' && bytes.HasPrefix(out[i:], []byte("<?include")):
			return nil, fmt.Errorf("%s:%d: <?include?> is not supported: give the merged configuration", file, line)
		}
	}
	return out, nil
}

type jsonParser struct {
	file string
	src  []byte
	dec  *json.Decoder
}

// pos is where the next value starts: past white space, ':' and ','.
func (p *jsonParser) pos() migrate.Pos {
	off := int(p.dec.InputOffset())
	for off < len(p.src) && strings.IndexByte(" \t\r\n:,", p.src[off]) >= 0 {
		off++
	}
	return offsetPos(p.file, p.src, off)
}

func offsetPos(file string, src []byte, off int) migrate.Pos {
	off = min(off, len(src))
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(src[:off], '\n')
	return migrate.Pos{File: file, Line: line, Col: col}
}

func (p *jsonParser) value(depth int) (*Node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%v: nested more than %d deep", p.pos(), maxDepth)
	}
	pos := p.pos()
	t, err := p.dec.Token()
	if err != nil {
		return nil, p.wrap(pos, err)
	}
	n := &Node{Pos: pos}
	switch v := t.(type) {
	case json.Delim:
		switch v {
		case '{':
			n.Kind = '{'
			seen := map[string]bool{}
			for p.dec.More() {
				kpos := p.pos()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.wrap(kpos, err)
				}
				key, _ := kt.(string)
				if seen[key] {
					return nil, fmt.Errorf("%v: key %q given twice", kpos, key)
				}
				seen[key] = true
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Keys, n.Vals = append(n.Keys, key), append(n.Vals, val)
			}
		case '[':
			n.Kind = '['
			for p.dec.More() {
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Items = append(n.Items, val)
			}
		default:
			return nil, fmt.Errorf("%v: unexpected %q", pos, v)
		}
		if _, err := p.dec.Token(); err != nil { // the closing delimiter
			return nil, p.wrap(p.pos(), err)
		}
	case string:
		n.Kind, n.Str = '"', v
	case json.Number:
		n.Kind, n.Num = '0', v
	case bool:
		n.Kind, n.Bool = 'b', v
	case nil:
		n.Kind = 'n'
	}
	return n, nil
}

// wrap names the place of a decoding error: where the value being read
// starts (a json.Decoder's SyntaxError offset is not from the file's start).
func (p *jsonParser) wrap(pos migrate.Pos, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%v: the file ends before the configuration does", pos)
	}
	return fmt.Errorf("%v: %v", pos, err)
}
