package layout

import (
	"fmt"
	"io/fs"
	"os"
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
	// Shared files live once in the layout's shared directory, never per
	// host (Kolla's cacert.pem).
	Shared bool
}

// Layout is a named way of placing credential files on disk.
type Layout struct {
	Name string
	// Files lists what the layout holds, in write order.
	Files []FileSpec
	// DirMode is the mode of the directories the layout creates.
	DirMode fs.FileMode
	// SharedDirAll means a shared-mode run puts every file in the
	// shared directory (Kolla's "wildcard" layout) instead of copying the
	// shared pair into each host's directory.
	SharedDirAll bool
	// HasServer is false for layouts that only carry client credentials.
	HasServer bool
}

// The layouts, as tables. Kolla's modes are those the deploy host keeps
// (Kolla sets the in-container modes itself). The libvirt layout uses the
// modes libvirt's own validator (virt-pki-validate, system mode) demands:
// the client key is 0644 there because unprivileged clients on the host,
// nova-compute among them, must read it. pkipath follows the validator's
// custom-path rules: directory 0700, every file 0600.
var (
	Kolla = Layout{
		Name: "kolla",
		Files: []FileSpec{
			{CACert, "cacert.pem", 0o644, true},
			{ServerCert, "servercert.pem", 0o644, false},
			{ServerKey, "serverkey.pem", 0o600, false},
			{ClientCert, "clientcert.pem", 0o644, false},
			{ClientKey, "clientkey.pem", 0o600, false},
		},
		DirMode:      0o755,
		SharedDirAll: true,
		HasServer:    true,
	}
	Libvirt = Layout{
		Name: "libvirt",
		Files: []FileSpec{
			{CACert, "etc/pki/CA/cacert.pem", 0o644, false},
			{ServerCert, "etc/pki/libvirt/servercert.pem", 0o644, false},
			{ServerKey, "etc/pki/libvirt/private/serverkey.pem", 0o600, false},
			{ClientCert, "etc/pki/libvirt/clientcert.pem", 0o644, false},
			{ClientKey, "etc/pki/libvirt/private/clientkey.pem", 0o644, false},
		},
		DirMode:   0o755,
		HasServer: true,
	}
	PKIPath = Layout{
		Name: "pkipath",
		Files: []FileSpec{
			{CACert, "cacert.pem", 0o600, false},
			{ClientCert, "clientcert.pem", 0o600, false},
			{ClientKey, "clientkey.pem", 0o600, false},
		},
		DirMode: 0o700,
	}
	// Layouts lists every layout, default first.
	Layouts = []Layout{Kolla, Libvirt, PKIPath}
)

// ByName finds a layout.
func ByName(name string) (Layout, error) {
	for _, l := range Layouts {
		if l.Name == name {
			return l, nil
		}
	}
	return Layout{}, fmt.Errorf("unknown layout %q (want kolla, libvirt or pkipath)", name)
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

// Path is where role goes for host under root. With shared true (a
// shared-mode run) a layout with SharedDirAll puts it in root itself.
func (l Layout) Path(root, host string, role Role, shared bool) string {
	spec, ok := l.Spec(role)
	if !ok {
		return ""
	}
	if spec.Shared || (shared && l.SharedDirAll) {
		return filepath.Join(root, filepath.FromSlash(spec.Rel))
	}
	return filepath.Join(root, host, filepath.FromSlash(spec.Rel))
}

// Kolla's directories, relative to its config root (node_config,
// /etc/kolla by default). Kolla looks up each file in
// <custom>/nova/nova-libvirt/<inventory_hostname>/ first, then in
// <custom>/nova/nova-libvirt/.
const (
	DefaultConfigDir    = "/etc/kolla"
	DefaultCustomConfig = "config"
	novaLibvirtRel      = "nova/nova-libvirt"
	kollaCADirRel       = "certificates/libvirt"
)

// NovaLibvirtDir is Kolla's nova-libvirt directory for a config root.
// customConfig is node_custom_config: relative to configDir unless absolute.
func NovaLibvirtDir(configDir, customConfig string) string {
	if customConfig == "" {
		customConfig = DefaultCustomConfig
	}
	if !filepath.IsAbs(customConfig) {
		customConfig = filepath.Join(configDir, customConfig)
	}
	return filepath.Join(customConfig, filepath.FromSlash(novaLibvirtRel))
}

// KollaCADir is where the CA and its key are kept in a Kolla config root:
// outside node_custom_config, so no Kolla role ever copies the CA key to a
// host.
func KollaCADir(configDir string) string {
	return filepath.Join(configDir, filepath.FromSlash(kollaCADirRel))
}

// OutCADir is where the CA is kept for the libvirt and pkipath layouts.
// "ca" is reserved: no host may be named so (see CheckHostNames).
func OutCADir(out string) string { return filepath.Join(out, "ca") }

// CheckHostNames refuses host names that collide with the layout's own
// directories.
func CheckHostNames(l Layout, hosts []Host) error {
	if l.Name == Kolla.Name {
		return nil
	}
	for _, h := range hosts {
		if strings.EqualFold(h.Name, "ca") {
			return fmt.Errorf("host name %q collides with the CA directory of the %s layout; use --ca-dir elsewhere or rename the host", h.Name, l.Name)
		}
	}
	return nil
}

// Resolved is the file Kolla picks for one role of one host.
type Resolved struct {
	Role Role
	Path string // "" when neither place has it
	// FromHostDir is true when the per-host directory supplied it.
	FromHostDir bool
}

// KollaResolve returns, for each role, the file Kolla's first-found lookup
// picks for host: the per-host directory, then the shared one. stat is
// os.Stat or a test double.
func KollaResolve(novaLibvirt, host string, stat func(string) (fs.FileInfo, error)) []Resolved {
	out := make([]Resolved, 0, len(Kolla.Files))
	for _, f := range Kolla.Files {
		r := Resolved{Role: f.Role}
		hostPath := filepath.Join(novaLibvirt, host, f.Rel)
		sharedPath := filepath.Join(novaLibvirt, f.Rel)
		if fi, err := stat(hostPath); err == nil && !fi.IsDir() {
			r.Path, r.FromHostDir = hostPath, true
		} else if fi, err := stat(sharedPath); err == nil && !fi.IsDir() {
			r.Path = sharedPath
		}
		out = append(out, r)
	}
	return out
}

// HostDirs lists, sorted, the host directories under a layout's root:
// every directory named like a host, except the CA directory (caDir, or
// <root>/ca for the libvirt and pkipath layouts when caDir is "").
func HostDirs(l Layout, root, caDir string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	if caDir == "" && l.Name != Kolla.Name {
		caDir = OutCADir(root)
	}
	caAbs := ""
	if caDir != "" {
		caAbs, _ = filepath.Abs(caDir)
	}
	var hosts []string
	for _, e := range entries {
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		if abs, _ := filepath.Abs(filepath.Join(root, e.Name())); abs == caAbs {
			continue
		}
		hosts = append(hosts, e.Name())
	}
	return hosts, nil
}
