package inventory

import (
	"fmt"
	"net/netip"
	"strings"
)

// IsJinja reports whether s holds a Jinja expression, statement or comment
// ({{ }}, {% %}, {# #}), which only Ansible can evaluate.
func IsJinja(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%") || strings.Contains(s, "{#")
}

// sanVars are the variables whose values clients may use to reach a host
// (Kolla's libvirt migration URIs use migration_hostname; Ansible connects
// to ansible_host), in the order SANNames adds them.
var sanVars = []string{"migration_hostname", "ansible_host"}

// SANNames returns the names a certificate for h must carry, in order and
// each once (DNS names compared without case, addresses by value): the
// inventory name, migration_hostname if set, ansible_host if set. Each is
// a DNS name or an IP address (v4 or v6, written canonically, IPv4-mapped
// IPv6 as IPv4). Values that are Jinja expressions are not evaluated; they
// are left out, as are values that are no host name or address, and each
// is reported in warnings naming the host, the variable and where it was
// set.
func (h Host) SANNames() (names []string, warnings []string) {
	seen := map[string]bool{}
	add := func(v, what string) {
		n, err := canonicalName(v)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("host %s: %s %q %v; left out of the certificate names", h.Name, what, v, err))
			return
		}
		if key := strings.ToLower(n); !seen[key] {
			seen[key] = true
			names = append(names, n)
		}
	}
	add(h.Name, "inventory name")
	for _, k := range sanVars {
		raw, ok := h.Vars[k]
		if !ok || raw == nil {
			continue
		}
		from := h.Origins[k]
		if from == "" {
			from = "an unknown place"
		}
		s, ok := raw.(string)
		if !ok {
			warnings = append(warnings, fmt.Sprintf("host %s: %s (set in %s) is %T %v, not a host name; left out of the certificate names", h.Name, k, from, raw, raw))
			continue
		}
		if IsJinja(s) {
			warnings = append(warnings, fmt.Sprintf("host %s: %s %q (set in %s) is a Jinja expression, which libvirt-pki does not evaluate; left out of the certificate names (give the name with --host NAME=EXTRA if clients use it)", h.Name, k, s, from))
			continue
		}
		add(strings.TrimSpace(s), fmt.Sprintf("%s (set in %s)", k, from))
	}
	return names, warnings
}

// canonicalName checks that s is an IP address or a DNS host name and
// writes it the way certificates and comparisons want it.
func canonicalName(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("is empty")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("has an IPv6 zone, which a certificate cannot hold")
		}
		return a.Unmap().String(), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return canonicalName(s[1 : len(s)-1])
	}
	d := strings.TrimSuffix(s, ".")
	if d == "" || len(d) > 253 {
		return "", fmt.Errorf("is not a host name (length)")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("is not a host name (empty or over-long label)")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("is not a host name (label %q starts or ends with '-')", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("is not a host name (character %q)", c)
			}
		}
	}
	return d, nil
}
