package isc

import (
	"strconv"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/migrate"
)

// option handles `option NAME VALUE;` (also supersede and
// server-identifier), `option NAME code N = TYPE;` and `option space`.
func (im *importer) option(s *Stmt, sc *scope) {
	if s.Keyword() == "server-identifier" {
		im.setOption(s, sc, migrate.OptionByCode(54), args(s, 1))
		return
	}
	if len(s.Words) < 2 || s.Words[1].Kind != Word {
		im.skip(s, "want an option name")
		return
	}
	if s.Words[1].is("space") {
		im.skip(s, "option spaces are not carried over")
		return
	}
	name, i := strings.ToLower(s.Words[1].Text), 2
	if i+1 < len(s.Words) && s.Words[i].is(".") && glued(s.Words[i-1], s.Words[i]) {
		space := s.Words[1].Text
		name, i = strings.ToLower(s.Words[i+1].Text), i+2
		if !strings.EqualFold(space, "dhcp") {
			im.skip(s, "options of the %s option space are not carried over", space)
			return
		}
	}
	if i < len(s.Words) && s.Words[i].is("code") {
		im.define(s, sc, name, s.Words[i+1:])
		return
	}
	if why, ok := im.badDefs[name]; ok {
		im.skip(s, "option %s: its definition was not carried over (%s)", name, why)
		return
	}
	def := im.defs[name]
	if def == nil {
		def = migrate.ISCOption(name)
	}
	if def == nil {
		im.skip(s, "unknown option %s (define it with option %s code N = TYPE)", name, name)
		return
	}
	if i < len(s.Words) && s.Words[i].is("=") {
		im.skip(s, "a computed option value (an expression) is not carried over")
		return
	}
	im.setOption(s, sc, def, groups(s.Words[i:]))
}

// setOption encodes the value and records it in sc.
func (im *importer) setOption(s *Stmt, sc *scope, def *migrate.OptionDef, vs []migrate.Value) {
	b, err := def.Encode(vs)
	if err != nil {
		im.skip(s, "option %s: %v", def.Name, err)
		return
	}
	sc.opts = append(sc.opts, optStmt{code: def.Code, v: b, stmt: s})
}

// define reads `code N = TYPE` after an option's name.
func (im *importer) define(s *Stmt, sc *scope, name string, ws []Token) {
	if sc.kind != "global" {
		im.skip(s, "option definitions may not be scoped (dhcpd refuses them too)")
		return
	}
	if len(ws) < 3 || !ws[1].is("=") {
		im.skip(s, "want option NAME code N = TYPE")
		return
	}
	code, err := strconv.ParseUint(ws[0].Text, 10, 8)
	if err != nil || code == 0 || code == 255 {
		im.skip(s, "option code %q: want 1..254", ws[0].Text)
		return
	}
	format, err := optionType(ws[2:])
	if err != nil {
		im.skip(s, "option %s: %v", name, err)
		im.badDefs[name] = err.Error()
		return
	}
	delete(im.badDefs, name)
	im.defs[name] = &migrate.OptionDef{Code: uint8(code), Name: name, Format: format}
}
