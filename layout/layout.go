package layout

import (
	"fmt"
	"io/fs"
	"path"
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

// QEMU's TLS files (tls-creds-x509 dir=: ca-cert.pem, server-cert.pem,
// server-key.pem, client-cert.pem, client-key.pem): migration and NBD
// (/etc/pki/qemu), the VNC and SPICE servers, and the console proxy's
// VeNCrypt client pair.
const (
	QemuCACert      Role = "qemu-ca-cert"
	QemuServerCert  Role = "qemu-server-cert"
	QemuServerKey   Role = "qemu-server-key"
	QemuClientCert  Role = "qemu-client-cert"
	QemuClientKey   Role = "qemu-client-key"
	VNCCACert       Role = "vnc-ca-cert"
	VNCServerCert   Role = "vnc-server-cert"
	VNCServerKey    Role = "vnc-server-key"
	SpiceCACert     Role = "spice-ca-cert"
	SpiceServerCert Role = "spice-server-cert"
	SpiceServerKey  Role = "spice-server-key"
	ProxyCACert     Role = "novncproxy-ca-cert"
	ProxyClientCert Role = "novncproxy-client-cert"
	ProxyClientKey  Role = "novncproxy-client-key"
)

// The files of libvirt's SASL login on a host whose libvirtd is not
// Kolla's container (Kolla templates its own there): the sasldb, Cyrus's
// configuration for libvirt, and the client credentials of root (virsh)
// and of nova-compute.
const (
	SASLDB       Role = "sasldb"
	SASLConf     Role = "sasl-conf"
	AuthConfRoot Role = "auth-conf-root"
	AuthConfNova Role = "auth-conf-nova"
)

// roleInfo says what each role's file is: a private key, a CA bundle.
var roleInfo = map[Role]struct{ key, ca bool }{
	CACert: {ca: true}, QemuCACert: {ca: true}, VNCCACert: {ca: true}, SpiceCACert: {ca: true}, ProxyCACert: {ca: true},
	ServerKey: {key: true}, ClientKey: {key: true}, QemuServerKey: {key: true}, QemuClientKey: {key: true},
	VNCServerKey: {key: true}, SpiceServerKey: {key: true}, ProxyClientKey: {key: true},
}

// Roles lists every role in the order reports show them.
var Roles = []Role{CACert, ServerCert, ServerKey, ClientCert, ClientKey,
	QemuCACert, QemuServerCert, QemuServerKey, QemuClientCert, QemuClientKey,
	VNCCACert, VNCServerCert, VNCServerKey, SpiceCACert, SpiceServerCert, SpiceServerKey,
	ProxyCACert, ProxyClientCert, ProxyClientKey}

// IsKey reports whether the role is a private key.
func (r Role) IsKey() bool { return roleInfo[r].key }

// IsCA reports whether the role is a copy of the CA bundle.
func (r Role) IsCA() bool { return roleInfo[r].ca }

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
	// Owner and Group own the file on the host ("" is root): a key QEMU
	// reads as its own user is root:qemu 0640. They go into a bundle's
	// manifest and tarball.
	Owner, Group string
	// CRL names the CRL its consumer reads beside a CA file ("" when it
	// reads none): libvirt's cacrl.pem, QEMU's ca-crl.pem.
	CRL string
}

// OwnerName and GroupName are the file's owner and group ("root" unless
// the table says otherwise).
func (f FileSpec) OwnerName() string { return orRoot(f.Owner) }

// GroupName: see OwnerName.
func (f FileSpec) GroupName() string { return orRoot(f.Group) }

func orRoot(s string) string {
	if s == "" {
		return "root"
	}
	return s
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
	// Reuse maps a role the layout has no file for to the file its
	// consumer reads instead (Kolla copies the libvirt server pair and
	// cacert.pem to /etc/pki/libvirt-spice); ReuseNote says so in the
	// output of a run that selects such a role.
	Reuse     map[Role]Role
	ReuseNote string
	// BundleDir, when set, makes each host directory a complete host
	// bundle: the configuration lines each consumer needs and a manifest
	// of every file's mode, owner and group go there (relative to the
	// host directory), and --bundle also writes <root>/<host>.tar.
	BundleDir string
	// CannotHold says, after "the LAYOUT layout cannot hold set X", what
	// to do instead.
	CannotHold string
	// SASL places the SASL files (SASLDB, SASLConf, AuthConfRoot,
	// AuthConfNova) in a host directory, for libvirtd on the host; a
	// layout without them holds none (Kolla's container makes its own).
	SASL []FileSpec
}

// SASLSpecAt returns the FileSpec of the SASL file at rel, a path in a
// host directory.
func (l Layout) SASLSpecAt(rel string) (FileSpec, bool) {
	for _, f := range l.SASL {
		if filepath.ToSlash(rel) == f.Rel {
			return f, true
		}
	}
	return FileSpec{}, false
}

// SASLSpec returns the layout's FileSpec for a SASL role, if it has one.
func (l Layout) SASLSpec(role Role) (FileSpec, bool) {
	for _, f := range l.SASL {
		if f.Role == role {
			return f, true
		}
	}
	return FileSpec{}, false
}

// SharedUnit names a layout's shared directory in reports. Host names
// cannot hold parentheses, so it never collides with one.
const SharedUnit = "(shared)"

// CRLFile is the CRL's name, beside each cacert.pem: libvirtd's default
// crl_file is /etc/pki/CA/cacrl.pem and pkipath clients read cacrl.pem.
// QEMU's tls-creds-x509 reads ca-crl.pem from its directory.
const (
	CRLFile     = "cacrl.pem"
	QEMUCRLFile = "ca-crl.pem"
)

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
			{Role: CACert, Rel: "cacert.pem", Mode: 0o644, Shared: true, CRL: CRLFile},
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
		Reuse:        map[Role]Role{SpiceCACert: CACert, SpiceServerCert: ServerCert, SpiceServerKey: ServerKey},
		ReuseNote: "Kolla copies servercert.pem, serverkey.pem and cacert.pem to /etc/pki/libvirt-spice in nova_libvirt when nova_spice_require_secure is true: " +
			"the libvirt server certificate is the SPICE server's, and its SANs cover the console addresses too",
		CannotHold: "Kolla deploys no QEMU, VNC or console-proxy TLS files: make host bundles with --layout libvirt --bundle and mount their /etc/pki directories into the containers with nova_libvirt_extra_volumes (README: Secure live migration and consoles)",
	}
	Libvirt = Layout{
		Name: "libvirt",
		Files: []FileSpec{
			{Role: CACert, Rel: "etc/pki/CA/cacert.pem", Mode: 0o644, CRL: CRLFile},
			{Role: ServerCert, Rel: "etc/pki/libvirt/servercert.pem", Mode: 0o644},
			{Role: ServerKey, Rel: "etc/pki/libvirt/private/serverkey.pem", Mode: 0o600, Forbid: 0o077},
			{Role: ClientCert, Rel: "etc/pki/libvirt/clientcert.pem", Mode: 0o644},
			{Role: ClientKey, Rel: "etc/pki/libvirt/private/clientkey.pem", Mode: 0o644, Forbid: 0o022},
			{Role: QemuCACert, Rel: "etc/pki/qemu/ca-cert.pem", Mode: 0o644, CRL: QEMUCRLFile},
			{Role: QemuServerCert, Rel: "etc/pki/qemu/server-cert.pem", Mode: 0o644},
			{Role: QemuServerKey, Rel: "etc/pki/qemu/server-key.pem", Mode: 0o640, Forbid: 0o027, Group: "qemu"},
			{Role: QemuClientCert, Rel: "etc/pki/qemu/client-cert.pem", Mode: 0o644},
			{Role: QemuClientKey, Rel: "etc/pki/qemu/client-key.pem", Mode: 0o640, Forbid: 0o027, Group: "qemu"},
			{Role: VNCCACert, Rel: "etc/pki/libvirt-vnc/ca-cert.pem", Mode: 0o644, CRL: QEMUCRLFile},
			{Role: VNCServerCert, Rel: "etc/pki/libvirt-vnc/server-cert.pem", Mode: 0o644},
			{Role: VNCServerKey, Rel: "etc/pki/libvirt-vnc/server-key.pem", Mode: 0o640, Forbid: 0o027, Group: "qemu"},
			{Role: SpiceCACert, Rel: "etc/pki/libvirt-spice/ca-cert.pem", Mode: 0o644, CRL: QEMUCRLFile},
			{Role: SpiceServerCert, Rel: "etc/pki/libvirt-spice/server-cert.pem", Mode: 0o644},
			{Role: SpiceServerKey, Rel: "etc/pki/libvirt-spice/server-key.pem", Mode: 0o640, Forbid: 0o027, Group: "qemu"},
			{Role: ProxyCACert, Rel: "etc/pki/nova-novncproxy/ca-cert.pem", Mode: 0o644},
			{Role: ProxyClientCert, Rel: "etc/pki/nova-novncproxy/client-cert.pem", Mode: 0o644},
			{Role: ProxyClientKey, Rel: "etc/pki/nova-novncproxy/client-key.pem", Mode: 0o640, Forbid: 0o027, Group: "nova"},
		},
		DirMode:    0o755,
		Perms:      "libvirt-system",
		ExactModes: true,
		BundleDir:  "etc/libvirt-pki",
		// Where libvirtd, Cyrus and libvirt's clients look on a Debian
		// host; the sasldb and auth.conf files hold the password.
		SASL: []FileSpec{
			{Role: SASLDB, Rel: "etc/libvirt/passwd.db", Mode: 0o600},
			{Role: SASLConf, Rel: "etc/sasl2/libvirt.conf", Mode: 0o644},
			{Role: AuthConfRoot, Rel: "root/.config/libvirt/auth.conf", Mode: 0o600},
			{Role: AuthConfNova, Rel: "var/lib/nova/.config/libvirt/auth.conf", Mode: 0o600, Owner: "nova", Group: "nova"},
		},
	}
	PKIPath = Layout{
		Name: "pkipath",
		Files: []FileSpec{
			{Role: CACert, Rel: "cacert.pem", Mode: 0o600, CRL: CRLFile},
			{Role: ClientCert, Rel: "clientcert.pem", Mode: 0o600},
			{Role: ClientKey, Rel: "clientkey.pem", Mode: 0o600, Forbid: 0o077},
		},
		DirMode:    0o700,
		Perms:      "libvirt-user",
		ExactModes: true,
		CannotHold: "it holds only a libvirt client pair for virsh's ?pkipath=; use --layout libvirt for the other sets",
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

// Holds reports whether the layout's consumer finds a file for role:
// its own, or the one it reuses (Reuse).
func (l Layout) Holds(role Role) bool {
	_, reused := l.Reuse[role]
	return l.Has(role) || reused
}

// SpecAt returns the FileSpec of the file at path, a file of a unit of
// a tree of the layout.
func (l Layout) SpecAt(path string) (FileSpec, bool) {
	slash := filepath.ToSlash(path)
	for _, f := range l.Files {
		if slash == f.Rel || strings.HasSuffix(slash, "/"+f.Rel) {
			return f, true
		}
	}
	return FileSpec{}, false
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
		if f.Role.IsKey() == role.IsKey() && !f.Role.IsCA() {
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

// CommonDir is the deepest directory holding every file of specs,
// relative to the unit's directory ("" for the unit's directory itself):
// the smallest directory a writer replaces whole to switch those files
// together (fsutil.Batch.WriteFileIn).
func CommonDir(specs []FileSpec) string {
	common := ""
	for i, s := range specs {
		d := path.Dir(s.Rel)
		if i == 0 {
			common = d
			continue
		}
		for common != "." && d != common && !strings.HasPrefix(d, common+"/") {
			common = path.Dir(common)
		}
	}
	if common == "." {
		return ""
	}
	return filepath.FromSlash(common)
}
