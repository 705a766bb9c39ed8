package credential

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Set is the kinds one consumer needs, and what its configuration must
// say to use them.
type Set struct {
	Name string
	// Doc says in a few words what the set secures.
	Doc string
	// Config lists the lines to add to each consumer's configuration.
	// In a line, {path ROLE} is the file of ROLE as it lies on the host
	// and {dir ROLE} its directory (see ConfigLine.Text).
	Config []ConfigLine
}

// ConfigLine is one line a consumer's configuration file needs.
type ConfigLine struct {
	// File is the configuration file ("/etc/libvirt/qemu.conf").
	File string
	// Section is its INI section ("" for none).
	Section string
	// Line is the setting, with {path ROLE} and {dir ROLE} placeholders.
	Line string
	// Hosts is which hosts need it.
	Hosts HostClass
}

// DefaultSet is the set chosen when none is.
const DefaultSet = "libvirt"

// Sets lists every set, in the order reports and configuration show them.
var Sets = []Set{
	{Name: "libvirt", Doc: "libvirtd's TLS listener and its clients (nova-compute, virsh, peer-to-peer migration)", Config: []ConfigLine{
		{File: "/etc/libvirt/libvirtd.conf", Line: `ca_file = "{path cacert}"`, Hosts: Compute},
		{File: "/etc/libvirt/libvirtd.conf", Line: `cert_file = "{path servercert}"`, Hosts: Compute},
		{File: "/etc/libvirt/libvirtd.conf", Line: `key_file = "{path serverkey}"`, Hosts: Compute},
		{File: "/etc/libvirt/libvirtd.conf", Line: `tls_no_verify_certificate = 0`, Hosts: Compute},
		{File: "/etc/nova/nova.conf", Section: "libvirt", Line: `live_migration_scheme = tls`, Hosts: Compute},
	}},
	{Name: "qemu", Doc: "QEMU native TLS for live migration streams and NBD disk copies", Config: []ConfigLine{
		{File: "/etc/libvirt/qemu.conf", Line: `default_tls_x509_cert_dir = "{dir qemu-server-cert}"`, Hosts: Compute},
		{File: "/etc/libvirt/qemu.conf", Line: `default_tls_x509_verify = 1`, Hosts: Compute},
		{File: "/etc/nova/nova.conf", Section: "libvirt", Line: `live_migration_with_native_tls = true`, Hosts: Compute},
	}},
	{Name: "vnc", Doc: "QEMU's VNC server with TLS and x509 client verification", Config: []ConfigLine{
		{File: "/etc/libvirt/qemu.conf", Line: `vnc_tls = 1`, Hosts: Compute},
		{File: "/etc/libvirt/qemu.conf", Line: `vnc_tls_x509_cert_dir = "{dir vnc-server-cert}"`, Hosts: Compute},
		{File: "/etc/libvirt/qemu.conf", Line: `vnc_tls_x509_verify = 1`, Hosts: Compute},
	}},
	{Name: "spice", Doc: "QEMU's SPICE server with TLS", Config: []ConfigLine{
		{File: "/etc/libvirt/qemu.conf", Line: `spice_tls = 1`, Hosts: Compute},
		{File: "/etc/libvirt/qemu.conf", Line: `spice_tls_x509_cert_dir = "{dir spice-server-cert}"`, Hosts: Compute},
		{File: "/etc/nova/nova.conf", Section: "spice", Line: `require_secure = true`, Hosts: Compute},
	}},
	{Name: "novncproxy", Doc: "nova-novncproxy's VeNCrypt client pair for the VNC servers", Config: []ConfigLine{
		{File: "/etc/nova/nova.conf", Section: "vnc", Line: `auth_schemes = vencrypt`, Hosts: Proxy},
		{File: "/etc/nova/nova.conf", Section: "vnc", Line: `vencrypt_client_key = {path novncproxy-client-key}`, Hosts: Proxy},
		{File: "/etc/nova/nova.conf", Section: "vnc", Line: `vencrypt_client_cert = {path novncproxy-client-cert}`, Hosts: Proxy},
		{File: "/etc/nova/nova.conf", Section: "vnc", Line: `vencrypt_ca_certs = {path novncproxy-ca-cert}`, Hosts: Proxy},
	}},
}

// SetNames lists the sets' names.
func SetNames() []string {
	var out []string
	for _, s := range Sets {
		out = append(out, s.Name)
	}
	return out
}

// ParseSets reads a --sets list ("libvirt,qemu,vnc"): every name must be
// a set, none twice. The result is in the order of Sets.
func ParseSets(list string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(SetNames(), n) {
			return nil, fmt.Errorf("--sets: unknown set %q (want a comma list of %s)", n, strings.Join(SetNames(), ", "))
		}
		if slices.Contains(names, n) {
			return nil, fmt.Errorf("--sets: %q given twice", n)
		}
		names = append(names, n)
	}
	return Ordered(names), nil
}

// Ordered returns the set names in the order of Sets, once each.
func Ordered(names []string) []string {
	var out []string
	for _, s := range Sets {
		if slices.Contains(names, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// CheckLayout refuses sets the layout cannot hold: a layout holds a set
// when its consumer finds a file (its own, or one it reuses) for some
// leaf of the set (pkipath holds libvirt's client pair alone).
func CheckLayout(l layout.Layout, sets []string) error {
	for _, name := range sets {
		if !slices.ContainsFunc(Kinds, func(k Kind) bool { return k.Set == name && k.PerHost && l.Holds(k.Cert) && l.Holds(k.Key) }) {
			return fmt.Errorf("--sets %s: the %s layout cannot hold set %q: %s", strings.Join(sets, ","), l.Name, name, l.CannotHold)
		}
	}
	return nil
}

// Selected returns the kinds of sets for hosts of class that the layout
// has files for, CA copies included, in the order of Kinds. A kind whose
// files the layout reuses from another kind's is left out: that kind is
// issued instead.
func Selected(l layout.Layout, sets []string, class HostClass) []Kind {
	var out []Kind
	for _, k := range Kinds {
		if slices.Contains(sets, k.Set) && k.Hosts == class && l.Has(k.Cert) {
			out = append(out, k)
		}
	}
	return out
}

// Reused reports whether any kind of sets is served by another kind's
// files in the layout (Layout.Reuse).
func Reused(l layout.Layout, sets []string) bool {
	for _, k := range Kinds {
		if slices.Contains(sets, k.Set) && !l.Has(k.Cert) && l.Holds(k.Cert) {
			return true
		}
	}
	return false
}

// Text is the line with its placeholders filled in from the layout's
// table: the file of a role as it lies on the host ("/" + its path in
// the host directory).
func (c ConfigLine) Text(l layout.Layout) string {
	out := c.Line
	for _, f := range l.Files {
		out = strings.ReplaceAll(out, "{path "+string(f.Role)+"}", "/"+f.Rel)
		out = strings.ReplaceAll(out, "{dir "+string(f.Role)+"}", "/"+path.Dir(f.Rel))
	}
	return out
}

// ConfigFor lists the configuration lines hosts of class need for sets,
// in the order of Sets.
func ConfigFor(sets []string, class HostClass) []ConfigLine {
	var out []ConfigLine
	for _, s := range Sets {
		if !slices.Contains(sets, s.Name) {
			continue
		}
		for _, c := range s.Config {
			if c.Hosts == class {
				out = append(out, c)
			}
		}
	}
	return out
}
