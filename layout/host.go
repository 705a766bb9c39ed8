// Package layout decides which credential file goes where: Kolla Ansible's
// per-host and shared directories, libvirt's native /etc/pki tree, and
// virsh's pkipath directories. It also parses and validates host specs.
package layout

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Host is one compute host: Name is its inventory name (it names the
// per-host directory), and SANs every name and address clients use for it.
// An inventory name that is no DNS name (compute_06) is not among the
// SANs: the host is then reached by its other names, and a host without
// any (Usable false) cannot be given a certificate.
type Host struct {
	Name string
	SANs pki.SANs
}

// Names returns the host's SANs as strings (canonical order).
func (h Host) Names() []string { return h.SANs.Strings() }

// Usable reports whether the host has a name a certificate can carry.
func (h Host) Usable() bool { return len(h.SANs.DNS)+len(h.SANs.IPs) > 0 }

// ParseHostSpec parses "NAME[=EXTRA,...]": NAME is an inventory name
// (ValidateHostName), a SAN too when it is a DNS name or an IP address;
// every EXTRA must be a DNS name or an IP address (v4 or v6).
func ParseHostSpec(spec string) (Host, error) {
	name, extras, _ := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if err := ValidateHostName(name); err != nil {
		return Host{}, fmt.Errorf("host %q: %v", spec, err)
	}
	h := Host{Name: name}
	if ValidateName(name) == nil {
		h.Add(name)
	}
	if extras != "" {
		for _, e := range strings.Split(extras, ",") {
			e = strings.TrimSpace(e)
			if err := ValidateName(e); err != nil {
				return Host{}, fmt.Errorf("host %q: extra name %q: %v", name, e, err)
			}
			h.Add(e)
		}
	}
	return h, nil
}

// Add puts a DNS name or IP address into the host's SANs, once.
func (h *Host) Add(nameOrIP string) {
	if addr, err := netip.ParseAddr(nameOrIP); err == nil {
		ip := net.IP(addr.Unmap().AsSlice())
		for _, have := range h.SANs.IPs {
			if have.Equal(ip) {
				return
			}
		}
		h.SANs.IPs = append(h.SANs.IPs, ip)
		return
	}
	lower := strings.ToLower(nameOrIP)
	if !slices.ContainsFunc(h.SANs.DNS, func(s string) bool { return strings.ToLower(s) == lower }) {
		h.SANs.DNS = append(h.SANs.DNS, nameOrIP)
	}
}

// AddDomain adds NAME.domain for a host whose name is a DNS name.
func (h *Host) AddDomain(domain string) error {
	domain = strings.Trim(domain, ".")
	if domain == "" {
		return nil
	}
	if err := validateDNS(domain); err != nil {
		return fmt.Errorf("domain %q: %v", domain, err)
	}
	if _, err := netip.ParseAddr(h.Name); err == nil || ValidateName(h.Name) != nil {
		return nil // an address, or a name that is no DNS name, has no domain form
	}
	if !strings.HasSuffix(strings.ToLower(h.Name), "."+strings.ToLower(domain)) {
		h.Add(h.Name + "." + domain)
	}
	return nil
}

// ValidateName accepts a DNS host name (letters, digits, hyphens; labels of
// 1 to 63 characters, at most 253 in all) or an IP address. It refuses
// anything that could escape a directory ("/", ".."), so a host name is
// always safe to use as a directory name.
func ValidateName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		if strings.Contains(s, "%") {
			return fmt.Errorf("IPv6 zone not allowed in a certificate")
		}
		return nil
	}
	return validateDNS(s)
}

func validateDNS(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("name longer than 253 characters")
	}
	if strings.Contains(s, "/") || strings.Contains(s, "..") {
		return fmt.Errorf("not a host name (contains %q)", map[bool]string{true: "/", false: ".."}[strings.Contains(s, "/")])
	}
	labels := strings.Split(s, ".")
	if last := labels[len(labels)-1]; len(labels) > 1 && strings.Trim(last, "0123456789") == "" && last != "" {
		// Top-level domains are never all digits (RFC 3696): this is an
		// IPv4 address written wrong, such as 10.0.0.256 or 010.0.0.1.
		return fmt.Errorf("not an IP address, nor a host name (its last label %q is all digits)", last)
	}
	return checkLabels(s, isDNSChar)
}

// errCharacter is the error of a name that is well formed but for a
// character DNS does not allow.
var errCharacter = errors.New("not allowed in a host name")

func isDNSChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
}

// checkLabels checks each dot-separated label of s: 1 to 63 characters,
// no '-' at either end, every character allowed by ok.
func checkLabels(s string, ok func(rune) bool) error {
	for _, label := range strings.Split(s, ".") {
		switch {
		case label == "":
			return fmt.Errorf("empty label")
		case len(label) > 63:
			return fmt.Errorf("label %q longer than 63 characters", label)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("label %q starts or ends with '-'", label)
		}
		for _, r := range label {
			if !ok(r) {
				return fmt.Errorf("character %q %w", r, errCharacter)
			}
		}
	}
	return nil
}

// ValidateHostName accepts an inventory name, which names the host's
// directory: a DNS host name or an IP address (ValidateName), or a name
// Ansible accepts that differs from a DNS name only in its characters,
// such as compute_06 (any printable ASCII but space, '/' and backslash).
// Such a name is the host's identity, never one of its certificate names.
func ValidateHostName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if err := ValidateName(s); err == nil || !errors.Is(err, errCharacter) {
		return err
	}
	return checkLabels(s, func(r rune) bool { return r == '_' || isDNSChar(r) })
}

// ParseHosts builds the host list from repeated --host specs and --hosts
// lists, refusing duplicates (case-insensitive: DNS names are).
func ParseHosts(specs []string, lists []string, domain string) ([]Host, error) {
	var hosts []Host
	seen := map[string]bool{}
	add := func(spec string) error {
		h, err := ParseHostSpec(spec)
		if err != nil {
			return err
		}
		key := strings.ToLower(h.Name)
		if seen[key] {
			return fmt.Errorf("host %q given twice", h.Name)
		}
		seen[key] = true
		if err := h.AddDomain(domain); err != nil {
			return err
		}
		hosts = append(hosts, h)
		return nil
	}
	for _, s := range specs {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	for _, l := range lists {
		for _, s := range strings.Split(l, ",") {
			if s = strings.TrimSpace(s); s == "" {
				return nil, fmt.Errorf("--hosts %q: empty host name", l)
			}
			if strings.Contains(s, "=") {
				return nil, fmt.Errorf("--hosts %q: use --host NAME=EXTRA for extra names", l)
			}
			if err := add(s); err != nil {
				return nil, err
			}
		}
	}
	return hosts, nil
}

// ThisMachine is the all-in-one default: this machine's host name (short,
// lowercased), its FQDN when the resolver knows one, localhost, 127.0.0.1
// and ::1, so a single-node deployment needs no host list.
func ThisMachine() (Host, error) {
	hn, err := os.Hostname()
	if err != nil || hn == "" {
		hn = "localhost"
	}
	hn = strings.ToLower(hn)
	short, _, _ := strings.Cut(hn, ".")
	h, err := ParseHostSpec(short)
	if err != nil {
		return Host{}, fmt.Errorf("this machine's host name %q: %v", hn, err)
	}
	if hn != short {
		h.Add(hn)
	} else if fqdn := lookupFQDN(short); fqdn != "" {
		h.Add(fqdn)
	}
	for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
		h.Add(n)
	}
	return h, nil
}

// lookupFQDN asks the resolver (/etc/hosts first) for a canonical name of
// short with a dot in it, as `hostname -f` does.
func lookupFQDN(short string) string {
	if cname, err := net.LookupCNAME(short); err == nil {
		cname = strings.TrimSuffix(strings.ToLower(cname), ".")
		if strings.HasPrefix(cname, short+".") && ValidateName(cname) == nil {
			return cname
		}
	}
	addrs, err := net.LookupHost(short)
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		names, _ := net.LookupAddr(a)
		for _, n := range names {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			if strings.HasPrefix(n, short+".") && ValidateName(n) == nil {
				return n
			}
		}
	}
	return ""
}
