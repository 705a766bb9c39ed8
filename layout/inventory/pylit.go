package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// parseValue reads an INI inventory value as Ansible does (with
// ast.literal_eval): when the text is a Python literal it becomes that
// value, otherwise it stays text. Only the literals inventories write are
// read: strings ('..' or ".."), decimal numbers, True, False and None,
// and lists and dicts of these; a trailing "# comment" after a literal is
// dropped, as Python drops it. Rarer literals (0x10, 1_000, u'..', r'..',
// tuples, sets) stay text; libvirt-pki reads none of the variables that
// could hold them.
func parseValue(s string) any {
	p := pyParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return s
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] != '#' {
		return s
	}
	return v
}

var errNotLiteral = errors.New("not a Python literal")

// pyNumber is a decimal int or float as Python writes them.
var pyNumber = regexp.MustCompile(`^[-+]?[ \t]*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?`)

type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// take consumes word if the input continues with it.
func (p *pyParser) take(word string) bool {
	if strings.HasPrefix(p.s[p.i:], word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *pyParser) value(depth int) (any, error) {
	p.space()
	switch {
	case depth > 50 || p.i == len(p.s):
		return nil, errNotLiteral
	case p.s[p.i] == '\'' || p.s[p.i] == '"':
		return p.str()
	case p.s[p.i] == '[':
		return p.list(depth)
	case p.s[p.i] == '{':
		return p.dict(depth)
	case p.take("True"):
		return true, nil
	case p.take("False"):
		return false, nil
	case p.take("None"):
		return nil, nil
	}
	return p.number()
}

// str reads a quoted string; the escapes inventories use are decoded,
// others kept as written.
func (p *pyParser) str() (any, error) {
	q := p.s[p.i]
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return nil, errNotLiteral
}

// list reads [v, ...], a trailing comma allowed.
func (p *pyParser) list(depth int) (any, error) {
	out := []any{}
	err := p.items(']', func() error {
		v, err := p.value(depth + 1)
		out = append(out, v)
		return err
	})
	return out, err
}

// dict reads {k: v, ...}: keys are strings, numbers, booleans or None.
func (p *pyParser) dict(depth int) (any, error) {
	out := map[string]any{}
	err := p.items('}', func() error {
		k, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		switch k.(type) {
		case []any, map[string]any:
			return errNotLiteral // unhashable
		}
		if p.space(); !p.take(":") {
			return errNotLiteral
		}
		v, err := p.value(depth + 1)
		out[fmt.Sprint(k)] = v
		return err
	})
	return out, err
}

// items reads comma-separated items with item up to close; the opening
// bracket is at p.i.
func (p *pyParser) items(close byte, item func() error) error {
	p.i++
	for {
		if p.space(); p.take(string(close)) {
			return nil
		}
		if err := item(); err != nil {
			return err
		}
		if p.space(); p.take(string(close)) {
			return nil
		}
		if !p.take(",") {
			return errNotLiteral
		}
	}
}

// number reads a decimal int or float. Python 3 refuses leading zeros on
// a non-zero int ("010"): such text stays text, a zero-padded name.
func (p *pyParser) number() (any, error) {
	m := pyNumber.FindString(p.s[p.i:])
	if m == "" || (len(p.s) > p.i+len(m) && isIdent(p.s[p.i+len(m)])) {
		return nil, errNotLiteral
	}
	lit := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, m)
	digits := strings.TrimLeft(lit, "+-")
	if !strings.ContainsAny(digits, ".eE") {
		if len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0") != "" {
			return nil, errNotLiteral
		}
		n, err := strconv.Atoi(lit)
		if err != nil {
			return nil, errNotLiteral // beyond int64: Ansible has a bignum, we keep the text
		}
		p.i += len(m)
		return n, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, errNotLiteral
	}
	p.i += len(m)
	return f, nil
}

func isIdent(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
