package inventory

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/layout"
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
// inventory name when it is a DNS name or an address (compute_06 is
// neither, and is left out without a warning: the caller decides what
// that means), migration_hostname if set, ansible_host if set. Each is
// a DNS name or an IP address (v4 or v6, written canonically, IPv4-mapped
// IPv6 as IPv4). Values that are Jinja expressions are not evaluated; they
// are left out, as are values that are no host name or address, and each
// is reported in warnings naming the host, the variable and where it was
// set.
func (h Entry) SANNames() (names []string, warnings []string) {
	seen := map[string]bool{}
	add := func(v, what string) {
		n, err := canonicalName(v)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("host %s: %s %q is not a host name (%v); left out of the certificate names", h.Name, what, v, err))
			return
		}
		if key := strings.ToLower(n); !seen[key] {
			seen[key] = true
			names = append(names, n)
		}
	}
	if _, err := canonicalName(h.Name); err == nil {
		add(h.Name, "inventory name")
	} // else only its directory's name (layout.ValidateHostName): callers say so

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

// canonicalName checks that s is an IP address or a DNS host name
// (layout.ValidateName, after dropping the brackets of "[v6]" and a
// trailing dot) and writes it the way certificates and comparisons want
// it: addresses canonical, IPv4-mapped IPv6 as IPv4.
func canonicalName(s string) (string, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	s = strings.TrimSuffix(s, ".")
	if err := layout.ValidateName(s); err != nil {
		return "", err
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String(), nil
	}
	return s, nil
}
