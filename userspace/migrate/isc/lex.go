// Package isc reads ISC dhcpd's configuration (dhcpd.conf) and lease
// database (dhcpd.leases) and turns them into an xdhcp configuration and
// leases. The tokenizer follows dhcpd's common/conflex.c, the statement
// grammar server/confpars.c; what has no xdhcp counterpart is reported
// with its file and line, never dropped silently.
package isc

import (
	"fmt"

	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// Kind is a token's class.
type Kind uint8

const (
	EOF    Kind = iota
	Word        // a run of letters, digits, '-' and '_' (dhcpd's NAME and NUMBER)
	String      // a double-quoted string, escapes resolved
	Punct       // any other single character: ; { } , . : = / ( ) ...
)

// Token is one lexeme and where it starts.
type Token struct {
	Kind Kind
	Text string
	Pos  migrate.Pos
}

func (t Token) String() string {
	switch t.Kind {
	case EOF:
		return "end of file"
	case String:
		return fmt.Sprintf("%q", t.Text)
	}
	return t.Text
}

// is says whether t is the punctuation or (case-insensitive) word s.
func (t Token) is(s string) bool {
	if t.Kind == Punct {
		return t.Text == s
	}
	return t.Kind == Word && equalFold(t.Text, s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// lexer splits one file into tokens the way dhcpd does: white space and
// '#' comments separate tokens; dotted addresses and colon-separated hex
// come out as several tokens that the parser joins.
type lexer struct {
	file      string
	src       string // words are substrings of it: no copy per token
	off       int
	line, col int
}

func newLexer(file string, src []byte) *lexer {
	return &lexer{file: file, src: string(src), line: 1, col: 1}
}

func (l *lexer) peekByte() (byte, bool) {
	if l.off >= len(l.src) {
		return 0, false
	}
	return l.src[l.off], true
}

func (l *lexer) advance() byte {
	c := l.src[l.off]
	l.off++
	if c == '\n' {
		l.line, l.col = l.line+1, 1
	} else {
		l.col++
	}
	return c
}

func isWordByte(c byte) bool {
	return c == '-' || c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// next returns the next token; an unterminated string is an error.
func (l *lexer) next() (Token, error) {
	for {
		c, ok := l.peekByte()
		if !ok {
			return Token{Kind: EOF, Pos: l.pos()}, nil
		}
		switch {
		case isSpace(c):
			l.advance()
			continue
		case c == '#':
			for c, ok := l.peekByte(); ok && c != '\n'; c, ok = l.peekByte() {
				l.advance()
			}
			continue
		}
		break
	}
	pos := l.pos()
	c := l.advance()
	switch {
	case c == '"':
		s, err := l.str()
		if err != nil {
			return Token{}, &SyntaxError{Pos: pos, Msg: err.Error(), AtEOF: l.off >= len(l.src)}
		}
		return Token{Kind: String, Text: s, Pos: pos}, nil
	case isWordByte(c):
		start := l.off - 1
		for c, ok := l.peekByte(); ok && isWordByte(c); c, ok = l.peekByte() {
			l.advance()
		}
		return Token{Kind: Word, Text: l.src[start:l.off], Pos: pos}, nil
	}
	return Token{Kind: Punct, Text: l.src[l.off-1 : l.off], Pos: pos}, nil
}

func (l *lexer) pos() migrate.Pos { return migrate.Pos{File: l.file, Line: l.line, Col: l.col} }

// str reads a string after its opening quote, resolving dhcpd's escapes:
// \t \r \n \b, \NNN octal (first digit 0-3), \xHH hex, \c the character c.
func (l *lexer) str() (string, error) {
	var b []byte
	for {
		c, ok := l.peekByte()
		if !ok {
			return "", fmt.Errorf("end of file in a string")
		}
		l.advance()
		switch c {
		case '"':
			return string(b), nil
		case '\\':
			e, ok := l.peekByte()
			if !ok {
				return "", fmt.Errorf("end of file in a string")
			}
			l.advance()
			switch e {
			case 't':
				b = append(b, '\t')
			case 'r':
				b = append(b, '\r')
			case 'n':
				b = append(b, '\n')
			case 'b':
				b = append(b, '\b')
			case '0', '1', '2', '3':
				v := int(e - '0')
				for i := 0; i < 2; i++ {
					d, ok := l.peekByte()
					if !ok || d < '0' || d > '7' {
						return "", fmt.Errorf("octal escape \\%c needs three digits", e)
					}
					l.advance()
					v = v*8 + int(d-'0')
				}
				b = append(b, byte(v))
			case 'x':
				v := 0
				for i := 0; i < 2; i++ {
					d, ok := l.peekByte()
					h := hexVal(d)
					if !ok || h < 0 {
						return "", fmt.Errorf("hex escape \\x needs two hex digits")
					}
					l.advance()
					v = v*16 + h
				}
				b = append(b, byte(v))
			default:
				b = append(b, e)
			}
		default:
			b = append(b, c)
		}
	}
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
