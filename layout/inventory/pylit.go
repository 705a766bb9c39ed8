package inventory

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseValue reads an INI inventory value as Ansible does: when the text is
// a Python literal (ast.literal_eval) it becomes that value, otherwise it
// stays text. Supported: str ('..', "..", with u/r/b prefixes), int
// (decimal without leading zeros, 0x, 0o, 0b, underscores), float,
// True/False/None, and lists, tuples, sets and dicts of these. A trailing
// "# comment" after a literal is dropped, as Python drops it.
func parseValue(s string) any {
	p := pyParser{s: s}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return s
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '#' {
		p.i = len(p.s)
	}
	if p.i != len(p.s) {
		return s
	}
	return v
}

type pyParser struct {
	s string
	i int
}

var errNotLiteral = fmt.Errorf("not a Python literal")

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *pyParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > 50 {
		return nil, errNotLiteral
	}
	p.space()
	c := p.peek()
	switch {
	case c == '\'' || c == '"':
		return p.str(false)
	case c == '[':
		return p.seq('[', ']', depth)
	case c == '(':
		return p.seq('(', ')', depth)
	case c == '{':
		return p.brace(depth)
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	// Names: True, False, None, and string prefixes.
	j := p.i
	for j < len(p.s) && (isIdent(p.s[j])) {
		j++
	}
	word := p.s[p.i:j]
	switch word {
	case "True":
		p.i = j
		return true, nil
	case "False":
		p.i = j
		return false, nil
	case "None":
		p.i = j
		return nil, nil
	}
	if j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') {
		switch strings.ToLower(word) {
		case "u", "b":
			p.i = j
			return p.str(false)
		case "r", "br", "rb":
			p.i = j
			return p.str(true)
		}
	}
	return nil, errNotLiteral
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *pyParser) str(raw bool) (any, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			n := p.s[p.i+1]
			if raw {
				b.WriteByte(c)
				b.WriteByte(n)
				p.i += 2
				continue
			}
			p.i += 2
			switch n {
			case '\\', '\'', '"':
				b.WriteByte(n)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case 'x', 'u', 'U':
				size := map[byte]int{'x': 2, 'u': 4, 'U': 8}[n]
				if p.i+size > len(p.s) {
					return nil, errNotLiteral
				}
				r, err := strconv.ParseUint(p.s[p.i:p.i+size], 16, 32)
				if err != nil || r > utf8.MaxRune {
					return nil, errNotLiteral
				}
				b.WriteRune(rune(r))
				p.i += size
			default:
				// Python keeps unknown escapes as written.
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, errNotLiteral
}

func (p *pyParser) seq(open, close byte, depth int) (any, error) {
	p.i++ // open
	out := []any{}
	for {
		p.space()
		if p.peek() == close {
			p.i++
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case close:
			p.i++
			if open == '(' && len(out) == 1 {
				return out[0], nil // (x) is x, not a tuple
			}
			return out, nil
		default:
			return nil, errNotLiteral
		}
	}
}

// brace reads a dict or a set; a set becomes a list, as Ansible makes it.
func (p *pyParser) brace(depth int) (any, error) {
	p.i++
	p.space()
	if p.peek() == '}' {
		p.i++
		return map[string]any{}, nil
	}
	first, err := p.value(depth + 1)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.peek() != ':' {
		set := []any{first}
		for {
			p.space()
			switch p.peek() {
			case '}':
				p.i++
				return set, nil
			case ',':
				p.i++
				p.space()
				if p.peek() == '}' {
					continue
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				set = append(set, v)
			default:
				return nil, errNotLiteral
			}
		}
	}
	m := map[string]any{}
	key := first
	for {
		p.i++ // ':'
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, ok := key.([]any); ok {
			return nil, errNotLiteral // unhashable
		}
		if _, ok := key.(map[string]any); ok {
			return nil, errNotLiteral
		}
		m[fmt.Sprint(key)] = v
		p.space()
		switch p.peek() {
		case '}':
			p.i++
			return m, nil
		case ',':
			p.i++
			p.space()
			if p.peek() == '}' {
				p.i++
				return m, nil
			}
			if key, err = p.value(depth + 1); err != nil {
				return nil, err
			}
			p.space()
			if p.peek() != ':' {
				return nil, errNotLiteral
			}
		default:
			return nil, errNotLiteral
		}
	}
}

// number reads a Python int or float literal, with an optional sign.
func (p *pyParser) number() (any, error) {
	start := p.i
	neg := false
	if c := p.peek(); c == '-' || c == '+' {
		neg = c == '-'
		p.i++
		p.space()
	}
	j := p.i
	for j < len(p.s) && (isIdent(p.s[j]) || p.s[j] == '.' ||
		((p.s[j] == '-' || p.s[j] == '+') && j > p.i && (p.s[j-1] == 'e' || p.s[j-1] == 'E') && !strings.ContainsAny(p.s[p.i:j], "xXbBoO"))) {
		j++
	}
	lit := p.s[p.i:j]
	if lit == "" || strings.Contains(lit, "__") || strings.HasSuffix(lit, "_") || strings.HasPrefix(lit, "_") {
		p.i = start
		return nil, errNotLiteral
	}
	clean := strings.ReplaceAll(lit, "_", "")
	low := strings.ToLower(clean)
	var v any
	switch {
	case strings.HasPrefix(low, "0x"), strings.HasPrefix(low, "0o"), strings.HasPrefix(low, "0b"):
		n, err := strconv.ParseInt(low, 0, 64)
		if err != nil {
			p.i = start
			return nil, errNotLiteral
		}
		v = int(n)
	case allDigits(clean):
		if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
			// Python 3 refuses 010: such values stay text ("01" is a
			// zero-padded name, not the number 1).
			p.i = start
			return nil, errNotLiteral
		}
		n, err := strconv.ParseInt(clean, 10, 64)
		if err != nil {
			p.i = start
			return nil, errNotLiteral
		}
		v = int(n)
	default:
		if strings.ContainsAny(low, "xobjn") || strings.Contains(low, "inf") {
			p.i = start
			return nil, errNotLiteral
		}
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			p.i = start
			return nil, errNotLiteral
		}
		v = f
	}
	p.i = j
	if neg {
		switch x := v.(type) {
		case int:
			v = -x
		case float64:
			v = -x
		}
	}
	return v, nil
}
