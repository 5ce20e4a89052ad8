package isc

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// Stmt is one statement: the tokens up to its ';' or its '{', and the
// statements inside the braces when it has them. An if/elsif block keeps
// its else branch in Else. `include "file";` is replaced by the included
// file's statements while parsing.
type Stmt struct {
	Words    []Token
	HasBlock bool
	Block    []*Stmt
	Else     *Stmt
}

// Pos is where the statement starts.
func (s *Stmt) Pos() migrate.Pos { return s.Words[0].Pos }

// Keyword is the statement's first word, lower-cased ("" for a string or punctuation).
func (s *Stmt) Keyword() string {
	if s.Words[0].Kind != Word {
		return ""
	}
	return strings.ToLower(s.Words[0].Text)
}

// Text is the statement as one line (strings quoted), for reports.
func (s *Stmt) Text() string {
	var b strings.Builder
	for i, t := range s.Words {
		if i > 0 && !glued(s.Words[i-1], t) {
			b.WriteByte(' ')
		}
		b.WriteString(t.String())
	}
	if s.HasBlock {
		b.WriteString(" { ... }")
	}
	out := b.String()
	if len(out) > 100 {
		out = out[:97] + "..."
	}
	return out
}

// glued says whether b directly follows a in the source (no white space),
// as in 198.18.0.1 or 00:11:22.
func glued(a, b Token) bool {
	return a.Pos.File == b.Pos.File && a.Pos.Line == b.Pos.Line && a.Pos.Col+len(a.Text) == b.Pos.Col && a.Kind != String && b.Kind != String
}

// SyntaxError is a statement dhcpd could not read either. AtEOF: the file
// ends inside it (a lease file cut short by a crash ends this way).
type SyntaxError struct {
	Pos   migrate.Pos
	Msg   string
	AtEOF bool
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%v: %s", e.Pos, e.Msg) }

func syntaxf(pos migrate.Pos, f string, a ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(f, a...)}
}

func eof(pos migrate.Pos, f string, a ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(f, a...), AtEOF: true}
}

// Limits that keep a hostile file from exhausting the stack or looping.
const (
	maxDepth    = 64 // nested braces
	maxIncludes = 16 // nested includes
)

// ReadFile returns a file's contents (os.ReadFile, or a map in tests and fuzzing).
type ReadFile func(path string) ([]byte, error)

type parser struct {
	lex      *lexer
	tok      Token
	read     ReadFile
	includes []string // the include chain, to refuse loops
}

// Parse reads the statements of file (src) and of the files it includes,
// resolved against the including file's directory when relative. On a
// *SyntaxError it also returns the statements before the bad one.
func Parse(file string, src []byte, read ReadFile) ([]*Stmt, error) {
	return parseFile(file, src, read, nil)
}

func parseFile(file string, src []byte, read ReadFile, chain []string) ([]*Stmt, error) {
	p := &parser{lex: newLexer(file, src), read: read, includes: append(append([]string(nil), chain...), file)}
	if err := p.advance(); err != nil {
		return nil, err
	}
	stmts, err := p.block(0)
	if err != nil {
		return stmts, err
	}
	if p.tok.Kind != EOF {
		return stmts, syntaxf(p.tok.Pos, "'}' without a matching '{'")
	}
	return stmts, nil
}

// Each calls fn with the top-level statements of src one at a time,
// keeping none: memory stays that of one statement whatever the size of
// the file (a lease file of a large site). Includes are not followed.
// On a *SyntaxError the statements before the bad one were given to fn.
func Each(file string, src []byte, fn func(*Stmt)) error {
	p := &parser{lex: newLexer(file, src)}
	if err := p.advance(); err != nil {
		return err
	}
	for p.tok.Kind != EOF {
		if p.tok.is("}") {
			return syntaxf(p.tok.Pos, "'}' without a matching '{'")
		}
		s, err := p.top(0)
		if err != nil {
			return err
		}
		if s != nil {
			fn(s)
		}
	}
	return nil
}

// top reads the next statement of a block (nil for an empty one),
// naming the top-level statement a file ends in.
func (p *parser) top(depth int) (*Stmt, error) {
	if p.tok.is(";") { // an empty statement (as after "};")
		return nil, p.advance()
	}
	start := p.tok.Pos
	s, err := p.stmt(depth)
	if se, ok := err.(*SyntaxError); ok && se.AtEOF && depth == 0 && se.Pos != start {
		se.Msg = fmt.Sprintf("%s (at %v)", se.Msg, se.Pos)
		se.Pos = start
	}
	return s, err
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

// block reads statements until '}' or the end of the file.
func (p *parser) block(depth int) ([]*Stmt, error) {
	if depth > maxDepth {
		return nil, syntaxf(p.tok.Pos, "braces nested more than %d deep", maxDepth)
	}
	var out []*Stmt
	for p.tok.Kind != EOF && !p.tok.is("}") {
		s, err := p.top(depth)
		if err != nil {
			return out, err
		}
		if s == nil {
			continue
		}
		if s.Keyword() == "include" && !s.HasBlock {
			inc, err := p.include(s)
			out = append(out, inc...)
			if err != nil {
				return out, err
			}
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// stmt reads one statement starting at the current token.
func (p *parser) stmt(depth int) (*Stmt, error) {
	s := &Stmt{Words: make([]Token, 0, 8)}
	start := p.tok.Pos
	for {
		t := p.tok
		switch {
		case t.Kind == EOF:
			return nil, eof(start, "end of file in the statement that starts here (missing ';' or '}'?)")
		case t.is(";"):
			return s, p.advance()
		case t.is("}"):
			return nil, syntaxf(t.Pos, "'}' ends the statement that starts at line %d before its ';'", start.Line)
		case t.is("{") && len(s.Words) > 0 && inlineBrace(s.Words):
			// A record type in an option definition: "= { ip-address, text }".
			if err := p.inline(s, depth); err != nil {
				return nil, err
			}
			continue
		case t.is("{"):
			if len(s.Words) == 0 {
				return nil, syntaxf(t.Pos, "'{' without a statement before it")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			body, err := p.block(depth + 1)
			if err != nil {
				return nil, err
			}
			if !p.tok.is("}") {
				return nil, eof(t.Pos, "end of file: this '{' (%s) is never closed", s.Words[0].Text)
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			s.HasBlock, s.Block = true, body
			if k := s.Keyword(); (k == "if" || k == "elsif" || k == "else") && (p.tok.is("else") || p.tok.is("elsif")) {
				if s.Else, err = p.stmt(depth + 1); err != nil {
					return nil, err
				}
			}
			return s, nil
		}
		s.Words = append(s.Words, t)
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// inlineBrace: a '{' right after '=' or "of" opens a record type, not a block.
func inlineBrace(words []Token) bool {
	last := words[len(words)-1]
	return last.is("=") || last.is("of")
}

// inline appends a braced record type's tokens to s.
func (p *parser) inline(s *Stmt, depth int) error {
	open := 0
	for {
		t := p.tok
		switch {
		case t.Kind == EOF:
			return eof(s.Words[len(s.Words)-1].Pos, "end of file in the record type opened here")
		case t.is("{"):
			open++
			if open > maxDepth-depth {
				return syntaxf(t.Pos, "record types nested too deep")
			}
		case t.is("}"):
			open--
		case t.is(";"):
			return syntaxf(t.Pos, "';' inside a record type's braces")
		}
		s.Words = append(s.Words, t)
		if err := p.advance(); err != nil {
			return err
		}
		if open == 0 {
			return nil
		}
	}
}

// include reads `include "file";` (dhcpd opens the path as given; a
// relative one is taken from the including file's directory here, so an
// import works from any directory).
func (p *parser) include(s *Stmt) ([]*Stmt, error) {
	if len(s.Words) != 2 || s.Words[1].Kind != String {
		return nil, syntaxf(s.Pos(), "include wants one quoted file name")
	}
	name := s.Words[1].Text
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(p.lex.file), name)
	}
	for _, f := range p.includes {
		if f == name {
			return nil, fmt.Errorf("%v: include %q: the file includes itself (through %s)", s.Pos(), name, strconv.Quote(strings.Join(p.includes, " -> ")))
		}
	}
	if len(p.includes) >= maxIncludes {
		return nil, fmt.Errorf("%v: include %q: includes nested more than %d deep", s.Pos(), name, maxIncludes)
	}
	if p.read == nil {
		return nil, fmt.Errorf("%v: include %q: no file access", s.Pos(), name)
	}
	src, err := p.read(name)
	if err != nil {
		return nil, fmt.Errorf("%v: include: %w", s.Pos(), err)
	}
	return parseFile(name, src, p.read, p.includes)
}
