// Package credential is the table of credential kinds: every certificate
// libvirt-pki makes is a row (its profile, the layout roles of its files,
// how a host's subject and names are derived), and the engine, verify and
// audit walk the rows instead of naming kinds in code. A new kind is a new
// row here, roles for its files in the layout tables, and nothing else
// (docs/architecture.md has the recipe).
package credential

import (
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// SharedCommonName is the CN of a pair shared by every host.
const SharedCommonName = "nova-libvirt"

// Kind is one sort of certificate with its key.
type Kind struct {
	// Name is the kind as reports show it ("server", "client", "ca").
	Name string
	// Set groups the kinds one consumer needs ("libvirt").
	Set string
	// Profile holds the usages the kind is issued with (its keyUsage per
	// key family: the key-usage policy, docs/key-usage.md) and checked
	// against.
	Profile pki.Profile
	// Cert and Key are the layout roles of its files (Key is "" for the
	// CA, whose key never goes into a layout).
	Cert, Key layout.Role
	// PerHost kinds are issued for each host (or once, shared); the CA
	// is issued once per tree.
	PerHost bool
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
// name and address clients use for the host.
func (k Kind) SANs(h layout.Host) pki.SANs { return h.SANs }

// The kinds. libvirt's server and client pairs; the CA signs them.
var (
	CA            = Kind{Name: "ca", Set: "libvirt", Profile: pki.CAProfile, Cert: layout.CACert}
	LibvirtServer = Kind{Name: "server", Set: "libvirt", Profile: pki.ServerProfile, Cert: layout.ServerCert, Key: layout.ServerKey, PerHost: true}
	LibvirtClient = Kind{Name: "client", Set: "libvirt", Profile: pki.ClientProfile, Cert: layout.ClientCert, Key: layout.ClientKey, PerHost: true}

	// Kinds lists every kind, the CA first, then in the order reports
	// show leaves.
	Kinds = []Kind{CA, LibvirtServer, LibvirtClient}
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

// ByName finds a leaf kind by its report name.
func ByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}
