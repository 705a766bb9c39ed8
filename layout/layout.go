package layout

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Role is what a credential file is.
type Role string

// The five files libvirt's TLS uses.
const (
	CACert     Role = "cacert"
	ServerCert Role = "servercert"
	ServerKey  Role = "serverkey"
	ClientCert Role = "clientcert"
	ClientKey  Role = "clientkey"
)

// Roles lists every role in the order reports show them.
var Roles = []Role{CACert, ServerCert, ServerKey, ClientCert, ClientKey}

// IsKey reports whether the role is a private key.
func (r Role) IsKey() bool { return r == ServerKey || r == ClientKey }

// FileSpec places one role: its path relative to the host's (or the
// shared) directory and its mode.
type FileSpec struct {
	Role Role
	Rel  string
	Mode fs.FileMode
	// Forbid holds the mode bits a private key must never have in this
	// layout: verify reports them as an exposed key.
	Forbid fs.FileMode
	// Shared files are written once in the layout's shared directory,
	// never per host (Kolla's cacert.pem); a host directory may still
	// hold its own, which the consumer's lookup prefers.
	Shared bool
}

// Layout is a named way of placing credential files on disk. Every fact
// about placement lives in these fields, so code that reads or writes a
// tree asks the table instead of testing which layout it has.
type Layout struct {
	Name string
	// Files lists what the layout holds, in write order.
	Files []FileSpec
	// DirMode is the mode of the directories the layout creates.
	DirMode fs.FileMode
	// SharedLookup means the consumer looks a host's file up in the
	// host's directory first, then in the shared directory (Kolla's
	// first-found lookup); without it only the host directory counts.
	SharedLookup bool
	// SharedDirAll means a shared-mode run puts every file in the
	// shared directory (Kolla's "wildcard" layout) instead of copying the
	// shared pair into each host's directory.
	SharedDirAll bool
	// ConfigRooted layouts live under a Kolla config root (their root
	// and CA directory come from package kolla); the others under --out,
	// their CA in <out>/ca, a name no host may take.
	ConfigRooted bool
	// Perms names the permission profile verify applies by default, and
	// ExactModes says whether that profile demands each file's mode
	// exactly (libvirt's validator does) or only forbids exposed keys.
	Perms      string
	ExactModes bool
}

// SharedUnit names a layout's shared directory in reports. Host names
// cannot hold parentheses, so it never collides with one.
const SharedUnit = "(shared)"

// CRLFile is the CRL's name, beside each cacert.pem: libvirtd's default
// crl_file is /etc/pki/CA/cacrl.pem and pkipath clients read cacrl.pem.
const CRLFile = "cacrl.pem"

// libvirt reads at most CAFileMaxCerts certificates and CAFileMaxBytes
// bytes from its CA file.
const (
	CAFileMaxCerts = 16
	CAFileMaxBytes = 64 * 1024
)

// The layouts, as tables. Kolla's modes are those the deploy host keeps
// (Kolla sets the in-container modes itself), and its keys must only not
// be readable by others (Kolla itself writes 0660 with group kolla). The
// libvirt layout uses the modes libvirt's own validator
// (virt-pki-validate, system mode) demands: the client key is 0644 there
// because unprivileged clients on the host, nova-compute among them, must
// read it. pkipath follows the validator's custom-path rules: directory
// 0700, every file 0600.
var (
	Kolla = Layout{
		Name: "kolla",
		Files: []FileSpec{
			{Role: CACert, Rel: "cacert.pem", Mode: 0o644, Shared: true},
			{Role: ServerCert, Rel: "servercert.pem", Mode: 0o644},
			{Role: ServerKey, Rel: "serverkey.pem", Mode: 0o600, Forbid: 0o007},
			{Role: ClientCert, Rel: "clientcert.pem", Mode: 0o644},
			{Role: ClientKey, Rel: "clientkey.pem", Mode: 0o600, Forbid: 0o007},
		},
		DirMode:      0o755,
		SharedLookup: true,
		SharedDirAll: true,
		ConfigRooted: true,
		Perms:        "kolla",
	}
	Libvirt = Layout{
		Name: "libvirt",
		Files: []FileSpec{
			{Role: CACert, Rel: "etc/pki/CA/cacert.pem", Mode: 0o644},
			{Role: ServerCert, Rel: "etc/pki/libvirt/servercert.pem", Mode: 0o644},
			{Role: ServerKey, Rel: "etc/pki/libvirt/private/serverkey.pem", Mode: 0o600, Forbid: 0o077},
			{Role: ClientCert, Rel: "etc/pki/libvirt/clientcert.pem", Mode: 0o644},
			{Role: ClientKey, Rel: "etc/pki/libvirt/private/clientkey.pem", Mode: 0o644, Forbid: 0o022},
		},
		DirMode:    0o755,
		Perms:      "libvirt-system",
		ExactModes: true,
	}
	PKIPath = Layout{
		Name: "pkipath",
		Files: []FileSpec{
			{Role: CACert, Rel: "cacert.pem", Mode: 0o600},
			{Role: ClientCert, Rel: "clientcert.pem", Mode: 0o600},
			{Role: ClientKey, Rel: "clientkey.pem", Mode: 0o600, Forbid: 0o077},
		},
		DirMode:    0o700,
		Perms:      "libvirt-user",
		ExactModes: true,
	}
	// Layouts lists every layout, default first.
	Layouts = []Layout{Kolla, Libvirt, PKIPath}
)

// ByName finds a layout.
func ByName(name string) (Layout, error) {
	return find(name, "layout", func(l Layout) string { return l.Name })
}

// ByPerms finds the layout whose permission profile is named name.
func ByPerms(name string) (Layout, error) {
	return find(name, "permission profile", func(l Layout) string { return l.Perms })
}

func find(name, what string, key func(Layout) string) (Layout, error) {
	var names []string
	for _, l := range Layouts {
		if key(l) == name {
			return l, nil
		}
		names = append(names, key(l))
	}
	return Layout{}, fmt.Errorf("unknown %s %q (want %s)", what, name, strings.Join(names, ", "))
}

// Spec returns the layout's FileSpec for role, if it has one.
func (l Layout) Spec(role Role) (FileSpec, bool) {
	for _, f := range l.Files {
		if f.Role == role {
			return f, true
		}
	}
	return FileSpec{}, false
}

// Has reports whether the layout holds files of role.
func (l Layout) Has(role Role) bool {
	_, ok := l.Spec(role)
	return ok
}

// ModeRule returns the mode a file of role should have and the bits a key
// must never have. A role the layout does not hold (a server key checked
// against the client-only pkipath rules) follows the rule of the layout's
// file of the same sort, key or certificate.
func (l Layout) ModeRule(role Role) (mode, forbid fs.FileMode) {
	if spec, ok := l.Spec(role); ok {
		return spec.Mode, spec.Forbid
	}
	for _, f := range l.Files {
		if f.Role.IsKey() == role.IsKey() && f.Role != CACert {
			return f.Mode, f.Forbid
		}
	}
	return 0o644, 0
}

// outCADirName is the CA directory of the layouts under --out.
const outCADirName = "ca"

// OutCADir is where the CA is kept for the layouts under --out. Its name
// is reserved: no host may be named so (see CheckHostNames).
func OutCADir(out string) string { return filepath.Join(out, outCADirName) }

// CheckHostNames refuses host names that collide with the layout's own
// directories.
func CheckHostNames(l Layout, hosts []Host) error {
	if l.ConfigRooted {
		return nil
	}
	for _, h := range hosts {
		if strings.EqualFold(h.Name, outCADirName) {
			return fmt.Errorf("host name %q collides with the CA directory of the %s layout; use --ca-dir elsewhere or rename the host", h.Name, l.Name)
		}
	}
	return nil
}
