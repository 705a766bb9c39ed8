package inventory

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxHostsPerPattern bounds what one host pattern may expand to, so a typo
// such as compute[1:99999999] fails instead of eating the memory. Ansible
// has no such limit; no real inventory comes near it.
var maxHostsPerPattern = 100000

// splitPort separates "host:port" and "[v6addr]:port" as Ansible's
// parse_address does; port is -1 when there is none. A bare IPv6 address
// has no port.
func splitPort(pattern string) (string, int, error) {
	if strings.HasPrefix(pattern, "[") {
		if end := strings.Index(pattern, "]"); end > 0 {
			inside, rest := pattern[1:end], pattern[end+1:]
			if _, err := netip.ParseAddr(inside); err == nil {
				switch {
				case rest == "":
					return inside, -1, nil
				case strings.HasPrefix(rest, ":"):
					p, err := parsePort(rest[1:])
					if err != nil {
						return "", -1, err
					}
					return inside, p, nil
				}
			}
		}
	}
	if _, err := netip.ParseAddr(pattern); err == nil {
		return pattern, -1, nil
	}
	// A colon outside [...] separates the port; colons inside are ranges.
	depth, colon, colons := 0, -1, 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				colon = i
				colons++
			}
		}
	}
	if colons == 0 {
		return pattern, -1, nil
	}
	if colons > 1 {
		// An IPv6 address with a range, or something Ansible does not
		// recognise either: it keeps the whole pattern as the name.
		return pattern, -1, nil
	}
	host, ps := pattern[:colon], pattern[colon+1:]
	if ps == "" {
		return "", -1, fmt.Errorf("bad host %q: a trailing ':' must be followed by a port", pattern)
	}
	p, err := parsePort(ps)
	if err != nil {
		return "", -1, fmt.Errorf("bad host %q: %v", pattern, err)
	}
	if host == "" {
		return "", -1, fmt.Errorf("bad host %q: empty name", pattern)
	}
	return host, p, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

// expandHostPattern turns one inventory host entry into host names and a
// port (-1 for none): "compute[01:20]" gives compute01..compute20 (the
// zero-padded width of the start is kept), "node-[a:f]" node-a..node-f,
// "[1:10:2]" steps by 2, and several ranges in one name multiply.
func expandHostPattern(pattern string) ([]string, int, error) {
	host, port, err := splitPort(pattern)
	if err != nil {
		return nil, -1, err
	}
	if host == "" {
		return nil, -1, fmt.Errorf("empty host name")
	}
	if strings.TrimSpace(host) == "---" {
		return nil, -1, fmt.Errorf("bad host %q: '---' starts a YAML document; is this a YAML file with an INI name?", pattern)
	}
	if !strings.Contains(host, "[") {
		if strings.Contains(host, "]") {
			return nil, -1, fmt.Errorf("bad host range %q: ']' without '['", pattern)
		}
		return []string{host}, port, nil
	}
	names, err := expandRanges(host)
	if err != nil {
		return nil, -1, fmt.Errorf("bad host range %q: %v", pattern, err)
	}
	return names, port, nil
}

type hostRange struct {
	items []string
}

// expandRanges expands every [begin:end(:step)] in s, first range
// outermost, as Ansible's expand_hostname_range.
func expandRanges(s string) ([]string, error) {
	// Split into literal parts and ranges first, so the total can be checked
	// before anything is built.
	var lits []string
	var ranges []hostRange
	total := 1
	rest := s
	for {
		i := strings.Index(rest, "[")
		if i < 0 {
			if strings.Contains(rest, "]") {
				return nil, fmt.Errorf("']' without '['")
			}
			lits = append(lits, rest)
			break
		}
		head := rest[:i]
		if strings.Contains(head, "]") {
			return nil, fmt.Errorf("']' without '['")
		}
		j := strings.Index(rest[i:], "]")
		if j < 0 {
			return nil, fmt.Errorf("'[' without ']'")
		}
		r, err := parseRange(rest[i+1 : i+j])
		if err != nil {
			return nil, err
		}
		total *= len(r.items)
		if total > maxHostsPerPattern {
			return nil, fmt.Errorf("expands to more than %d hosts", maxHostsPerPattern)
		}
		lits = append(lits, head)
		ranges = append(ranges, r)
		rest = rest[i+j+1:]
	}
	out := []string{""}
	for k, r := range ranges {
		next := make([]string, 0, len(out)*len(r.items))
		for _, prefix := range out {
			for _, it := range r.items {
				next = append(next, prefix+lits[k]+it)
			}
		}
		out = next
	}
	for i := range out {
		out[i] += lits[len(lits)-1]
	}
	return out, nil
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func parseRange(spec string) (hostRange, error) {
	bounds := strings.Split(spec, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return hostRange{}, fmt.Errorf("want [begin:end] or [begin:end:step]")
	}
	beg, end := bounds[0], bounds[1]
	step := 1
	if len(bounds) == 3 {
		n, err := strconv.Atoi(bounds[2])
		if err != nil || n <= 0 {
			return hostRange{}, fmt.Errorf("step %q is not a positive integer", bounds[2])
		}
		step = n
	}
	if beg == "" {
		beg = "0" // Ansible: [:5] is [0:5]
	}
	if end == "" {
		return hostRange{}, fmt.Errorf("no end value")
	}
	bi, ei := strings.Index(letters, beg), strings.Index(letters, end)
	if len(beg) == 1 && len(end) == 1 && bi >= 0 && ei >= 0 {
		if bi > ei {
			return hostRange{}, fmt.Errorf("start after end")
		}
		var r hostRange
		for i := bi; i <= ei; i += step {
			r.items = append(r.items, letters[i:i+1])
		}
		return r, nil
	}
	if !allDigits(beg) || !allDigits(end) {
		return hostRange{}, fmt.Errorf("begin and end must both be numbers or both single letters")
	}
	width := 0
	if beg[0] == '0' && len(beg) > 1 {
		// A zero-padded start fixes the width; Ansible wants the end written
		// with the same width.
		width = len(beg)
		if len(end) != width {
			return hostRange{}, fmt.Errorf("begin and end must have the same width when zero-padded")
		}
	}
	b, err1 := strconv.Atoi(beg)
	e, err2 := strconv.Atoi(end)
	if err1 != nil || err2 != nil || len(beg) > 9 || len(end) > 9 {
		return hostRange{}, fmt.Errorf("number too large")
	}
	if b > e {
		// Ansible silently expands this to no host at all; a typo is likelier.
		return hostRange{}, fmt.Errorf("start after end")
	}
	if (e-b)/step+1 > maxHostsPerPattern {
		return hostRange{}, fmt.Errorf("expands to more than %d hosts", maxHostsPerPattern)
	}
	var r hostRange
	for i := b; i <= e; i += step {
		s := strconv.Itoa(i)
		for len(s) < width {
			s = "0" + s
		}
		r.items = append(r.items, s)
	}
	return r, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
