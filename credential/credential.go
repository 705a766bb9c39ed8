// Package credential is the table of credential kinds: every certificate
// libvirt-pki makes is a row (its profile, the layout roles of its files,
// which hosts it is for, how a host's subject and names are derived), and
// the engine, verify and audit walk the rows instead of naming kinds in
// code. Kinds come in sets, one per consumer (libvirt, QEMU migration,
// the VNC and SPICE servers, the console proxy), which the user selects.
// A new kind is a new row here, roles for its files in the layout tables,
// and nothing else (docs/architecture.md has the recipe).
package credential

import (
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// SharedCommonName is the CN of a pair shared by every host.
const SharedCommonName = "nova-libvirt"

// HostClass is which hosts a kind is issued for.
type HostClass string

// The host classes: the compute hosts (libvirtd, QEMU) and the console
// proxy hosts (nova-novncproxy).
const (
	Compute HostClass = "compute"
	Proxy   HostClass = "proxy"
)

// Kind is one sort of certificate with its key.
type Kind struct {
	// Name is the kind as reports show it ("server", "client", "ca",
	// "qemu-server", ...).
	Name string
	// Set groups the kinds one consumer needs ("libvirt", "qemu", ...).
	Set string
	// Profile holds the usages the kind is issued with (its keyUsage per
	// key family: the key-usage policy, docs/key-usage.md) and checked
	// against.
	Profile pki.Profile
	// Cert and Key are the layout roles of its files (Key is "" for the
	// CA, whose key never goes into a layout).
	Cert, Key layout.Role
	// PerHost kinds are issued for each host (or once, shared); a CA kind
	// is a copy of the CA bundle.
	PerHost bool
	// Hosts says which hosts the kind is for.
	Hosts HostClass
	// Console servers are reached by the console proxy at an address
	// the inventory may not know: a run says so when a host has no name
	// beyond its inventory name.
	Console bool
}

// CommonName is the subject CN of the kind's certificate for host, or of
// the shared pair when host is "".
func (k Kind) CommonName(host string) string {
	if host == "" {
		return SharedCommonName
	}
	return host
}

// SANs are the names a host's certificate of this kind carries: every
// name and address peers use for the host.
func (k Kind) SANs(h layout.Host) pki.SANs { return h.SANs }

// IsCA reports whether the kind is a copy of the CA bundle.
func (k Kind) IsCA() bool { return !k.PerHost }

// The kinds. libvirt's server and client pairs and the CA bundle each
// set's consumer reads; QEMU's migration (and NBD) pairs; the VNC and
// SPICE servers; the console proxy's VeNCrypt client pair.
var (
	CA            = Kind{Name: "ca", Set: "libvirt", Profile: pki.CAProfile, Cert: layout.CACert, Hosts: Compute}
	LibvirtServer = Kind{Name: "server", Set: "libvirt", Profile: pki.ServerProfile, Cert: layout.ServerCert, Key: layout.ServerKey, PerHost: true, Hosts: Compute}
	LibvirtClient = Kind{Name: "client", Set: "libvirt", Profile: pki.ClientProfile, Cert: layout.ClientCert, Key: layout.ClientKey, PerHost: true, Hosts: Compute}

	QemuCA     = Kind{Name: "ca", Set: "qemu", Profile: pki.CAProfile, Cert: layout.QemuCACert, Hosts: Compute}
	QemuServer = Kind{Name: "qemu-server", Set: "qemu", Profile: pki.ServerProfile, Cert: layout.QemuServerCert, Key: layout.QemuServerKey, PerHost: true, Hosts: Compute}
	QemuClient = Kind{Name: "qemu-client", Set: "qemu", Profile: pki.ClientProfile, Cert: layout.QemuClientCert, Key: layout.QemuClientKey, PerHost: true, Hosts: Compute}

	VNCCA     = Kind{Name: "ca", Set: "vnc", Profile: pki.CAProfile, Cert: layout.VNCCACert, Hosts: Compute}
	VNCServer = Kind{Name: "vnc-server", Set: "vnc", Profile: pki.ServerProfile, Cert: layout.VNCServerCert, Key: layout.VNCServerKey, PerHost: true, Hosts: Compute, Console: true}

	SpiceCA     = Kind{Name: "ca", Set: "spice", Profile: pki.CAProfile, Cert: layout.SpiceCACert, Hosts: Compute}
	SpiceServer = Kind{Name: "spice-server", Set: "spice", Profile: pki.ServerProfile, Cert: layout.SpiceServerCert, Key: layout.SpiceServerKey, PerHost: true, Hosts: Compute, Console: true}

	ProxyCA     = Kind{Name: "ca", Set: "novncproxy", Profile: pki.CAProfile, Cert: layout.ProxyCACert, Hosts: Proxy}
	ProxyClient = Kind{Name: "novncproxy-client", Set: "novncproxy", Profile: pki.ClientProfile, Cert: layout.ProxyClientCert, Key: layout.ProxyClientKey, PerHost: true, Hosts: Proxy}

	// Kinds lists every kind, the libvirt CA first, then in the order
	// reports show leaves.
	Kinds = []Kind{CA, LibvirtServer, LibvirtClient, QemuCA, QemuServer, QemuClient,
		VNCCA, VNCServer, SpiceCA, SpiceServer, ProxyCA, ProxyClient}
)

// Leaves returns the per-host kinds a layout holds files for.
func Leaves(l layout.Layout) []Kind {
	var out []Kind
	for _, k := range Kinds {
		if k.PerHost && l.Has(k.Cert) {
			out = append(out, k)
		}
	}
	return out
}

// ByCert finds the kind whose certificate plays role.
func ByCert(role layout.Role) (Kind, bool) {
	for _, k := range Kinds {
		if k.Cert == role {
			return k, true
		}
	}
	return Kind{}, false
}

// ByName finds a leaf kind by its report name (the libvirt CA for "ca").
func ByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}
