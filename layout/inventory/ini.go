package inventory

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The patterns of Ansible's INI inventory plugin.
var (
	sectionRE   = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`)
	groupNameRE = regexp.MustCompile(`^([^:\]\s]+)\s*(?:#.*)?$`)
)

// pendingDecl is a group named before its own section, as Ansible's INI
// parser tracks them: "[a:children]" may list b before "[b]" appears, but
// b must appear somewhere in the same file.
type pendingDecl struct {
	line    int
	state   string
	parents []string
	lines   []int // line of each parent's entry, for cycle messages
}

// iniParser is the state of one INI file's parse.
type iniParser struct {
	inv          *Inventory
	path         string
	pending      map[string]*pendingDecl
	pendingOrder []string
	group, state string // the current section
}

// parseINI reads an INI inventory into inv, as Ansible's ini plugin: lines
// before any section are hosts of "ungrouped"; "[g]" lists hosts with
// inline key=value variables (shell-quoted; an unquoted # starts a
// comment), "[g:children]" child groups, "[g:vars]" key=value group
// variables. Values are read as Python literals when they are one (so
// 22 is an int, True a bool, '01' a string), else kept as text.
func (inv *Inventory) parseINI(path string, data []byte) error {
	text := string(data)
	text = strings.TrimPrefix(text, "\ufeff")
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	p := &iniParser{inv: inv, path: path, pending: map[string]*pendingDecl{}, group: "ungrouped", state: "hosts"}
	for i, raw := range lines {
		ln := i + 1
		where := fmt.Sprintf("%s:%d", path, ln)
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if !utf8.ValidString(line) {
			return fmt.Errorf("%s: not valid UTF-8", where)
		}
		var err error
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			err = p.section(where, ln, m[1], m[2])
		} else if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			err = fmt.Errorf("%s: bad section header %q: no spaces or other characters allowed in a group name", where, line)
		} else {
			err = p.entry(where, ln, line)
		}
		if err != nil {
			return err
		}
	}
	return p.undeclared()
}

// section starts [group] or [group:state].
func (p *iniParser) section(where string, ln int, group, state string) error {
	if state == "" {
		state = "hosts"
	}
	p.group, p.state = group, state
	if state != "hosts" && state != "children" && state != "vars" {
		return fmt.Errorf("%s: section [%s:%s] has unknown type %q (want hosts, children or vars)", where, group, state, state)
	}
	if _, ok := p.inv.groups[group]; !ok {
		// [g:vars] alone does not declare g; note it and check at
		// the end, as Ansible does.
		if _, ok := p.pending[group]; state == "vars" && !ok {
			p.pending[group] = &pendingDecl{line: ln, state: "vars"}
			p.pendingOrder = append(p.pendingOrder, group)
		}
		p.inv.ensureGroup(group)
	}
	d, ok := p.pending[group]
	switch {
	case !ok || state == "vars":
	case d.state == "children":
		return p.inv.addPendingChildren(p.path, group, p.pending)
	default:
		delete(p.pending, group)
	}
	return nil
}

// entry reads one line of the current section.
func (p *iniParser) entry(where string, ln int, line string) error {
	switch p.state {
	case "hosts":
		return p.inv.iniHostLine(where, p.group, line)
	case "vars":
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s: expected key=value in [%s:vars], got %q", where, p.group, line)
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return fmt.Errorf("%s: empty variable name in %q", where, line)
		}
		return p.inv.setGroupVar(p.inv.groups[p.group], k, parseValue(strings.TrimSpace(v)), where)
	}
	m := groupNameRE.FindStringSubmatch(line)
	if m == nil {
		return fmt.Errorf("%s: expected a group name in [%s:children], got %q", where, p.group, line)
	}
	child := m[1]
	if _, ok := p.inv.groups[child]; ok {
		return p.inv.addChild(p.group, child, where)
	}
	d, ok := p.pending[child]
	if !ok {
		d = &pendingDecl{line: ln, state: "children"}
		p.pending[child] = d
		p.pendingOrder = append(p.pendingOrder, child)
	}
	d.parents = append(d.parents, p.group)
	d.lines = append(d.lines, ln)
	return nil
}

// undeclared refuses a group named in [g:vars] or [p:children] that no
// section of the file declares.
func (p *iniParser) undeclared() error {
	for _, name := range p.pendingOrder {
		d, ok := p.pending[name]
		if !ok {
			continue
		}
		if d.state == "vars" {
			return fmt.Errorf("%s:%d: section [%s:vars] names a group that no [%s] or [%s:children] section declares", p.path, d.line, name, name, name)
		}
		return fmt.Errorf("%s:%d: [%s:children] lists group %q, which no [%s] or [%s:children] section declares", p.path, d.lines[len(d.lines)-1], d.parents[len(d.parents)-1], name, name, name)
	}
	return nil
}

// addPendingChildren links a just-declared group to the parents that
// listed it earlier, then does the same for those parents if they were
// pending too (Ansible's _add_pending_children).
func (inv *Inventory) addPendingChildren(path, name string, pending map[string]*pendingDecl) error {
	d := pending[name]
	delete(pending, name) // before recursing: a loop must end in addChild's error
	for i, parent := range d.parents {
		if err := inv.addChild(parent, name, fmt.Sprintf("%s:%d", path, d.lines[i])); err != nil {
			return err
		}
		if pd, ok := pending[parent]; ok && pd.state == "children" {
			if err := inv.addPendingChildren(path, parent, pending); err != nil {
				return err
			}
		}
	}
	return nil
}

// iniHostLine reads "pattern[:port] key=value ..." into group.
func (inv *Inventory) iniHostLine(where, groupName, line string) error {
	tokens, err := shlexSplit(line)
	if err != nil {
		return fmt.Errorf("%s: cannot parse host line %q: %v", where, line, err)
	}
	if len(tokens) == 0 {
		return fmt.Errorf("%s: expected a host, got %q", where, line)
	}
	names, port, err := expandHostPattern(tokens[0])
	if err != nil {
		return fmt.Errorf("%s: %v", where, err)
	}
	type kv struct {
		k string
		v any
	}
	var vars []kv
	for _, t := range tokens[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return fmt.Errorf("%s: expected key=value after host %q, got %q", where, tokens[0], t)
		}
		if k == "" {
			return fmt.Errorf("%s: empty variable name in %q", where, t)
		}
		vars = append(vars, kv{k, parseValue(v)})
	}
	for _, n := range names {
		h := inv.addHost(n, groupName, where)
		if port >= 0 {
			h.vars["ansible_port"] = val{port, where}
		}
		for _, p := range vars {
			h.vars[p.k] = val{p.v, where}
		}
	}
	return nil
}

// shlexSplit splits like Python's shlex.split(s, comments=True) (POSIX
// mode), which Ansible uses for INI host lines: whitespace separates
// words, '...' and "..." quote (a backslash escapes only " and \ inside
// double quotes), a backslash escapes the next character outside quotes,
// and an unquoted # ends the line even inside a word.
func shlexSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	emit := func() {
		if inWord {
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			emit()
		case c == '#':
			emit()
			return out, nil
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("no escaped character")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("no closing quotation")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("no closing quotation")
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	emit()
	return out, nil
}
