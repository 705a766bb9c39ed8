package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// Tree is one layout on disk: the layout's table, its root (Kolla's
// nova-libvirt directory, or the --out directory) and the CA directory.
// Every command reads and writes credential files through it, so where a
// file lives is decided in one place.
type Tree struct {
	Layout Layout
	Root   string
	// CADir keeps the CA made by libvirt-pki ("" when unknown: for the
	// --out layouts the reserved <root>/ca is then skipped).
	CADir string
	// Files reads the tree's files; nil reads from disk every time, a
	// shared one once per run (fsutil.Files).
	Files *fsutil.Files
}

// Unit is a directory that holds credentials: a host's, or the layout's
// shared one.
type Unit struct {
	Name string // the host name, or SharedUnit
	Host string // "" for the shared directory
	Dir  string
}

// Shared reports whether u is the shared directory.
func (u Unit) Shared() bool { return u.Host == "" }

// HostUnit is the unit of a host, whether or not it exists on disk.
func (t Tree) HostUnit(host string) Unit {
	return Unit{Name: host, Host: host, Dir: filepath.Join(t.Root, host)}
}

// SharedDir is the unit of the shared directory.
func (t Tree) SharedDir() Unit { return Unit{Name: SharedUnit, Dir: t.Root} }

// HasSharedDir reports whether the layout has a shared directory at all.
func (t Tree) HasSharedDir() bool { return t.Layout.SharedLookup || t.Layout.SharedDirAll }

// Units lists the units on disk: the shared directory first (for layouts
// that have one), then every host directory, sorted. A host directory that
// is a symlink is refused rather than skipped, so that no command works on
// part of a tree without saying so.
func (t Tree) Units() ([]Unit, error) {
	hosts, err := t.HostDirs()
	if err != nil {
		return nil, err
	}
	var units []Unit
	if t.HasSharedDir() {
		units = append(units, t.SharedDir())
	}
	for _, h := range hosts {
		units = append(units, t.HostUnit(h))
	}
	return units, nil
}

// HostDirs lists, sorted, the host directories under the root: every
// directory named like a host, except the CA directory.
func (t Tree) HostDirs() ([]string, error) {
	entries, err := os.ReadDir(t.Root)
	if err != nil {
		return nil, err
	}
	caAbs := ""
	if caDir := t.caDirOrReserved(); caDir != "" {
		caAbs, _ = filepath.Abs(caDir)
	}
	var hosts []string
	for _, e := range entries {
		if ValidateHostName(e.Name()) != nil {
			continue
		}
		full := filepath.Join(t.Root, e.Name())
		if abs, _ := filepath.Abs(full); abs == caAbs {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(full); err == nil && fi.IsDir() {
				return nil, fmt.Errorf("%s: host directory is a symlink; libvirt-pki does not follow symlinked host directories (replace it with the directory itself)", full)
			}
			continue
		}
		if e.IsDir() {
			hosts = append(hosts, e.Name())
		}
	}
	sort.Strings(hosts)
	return hosts, nil
}

func (t Tree) caDirOrReserved() string {
	if t.CADir == "" && !t.Layout.ConfigRooted {
		return OutCADir(t.Root)
	}
	return t.CADir
}

// In is where role's file lies inside unit u's own directory (a host
// directory may hold its own copy of a shared file); the SASL roles
// resolve through the layout's SASL rows.
func (t Tree) In(u Unit, role Role) string {
	spec, ok := t.Layout.Spec(role)
	if !ok {
		spec, ok = t.Layout.SASLSpec(role)
	}
	if !ok {
		return ""
	}
	return filepath.Join(u.Dir, filepath.FromSlash(spec.Rel))
}

// WriteUnit is the unit a certificates run writes host's files to: the
// shared directory for a shared run of a layout that keeps everything
// there, else the host's own directory.
func (t Tree) WriteUnit(host string, sharedRun bool) Unit {
	if host == "" || (sharedRun && t.Layout.SharedDirAll) {
		return t.SharedDir()
	}
	return t.HostUnit(host)
}

// Target is where role's file of unit u is written: a shared file goes to
// the shared directory whatever the unit.
func (t Tree) Target(u Unit, role Role) string {
	spec, ok := t.Layout.Spec(role)
	if !ok {
		return ""
	}
	if spec.Shared {
		return t.In(t.SharedDir(), role)
	}
	return t.In(u, role)
}

// Resolved is the file a host's consumer picks for one role.
type Resolved struct {
	Role Role
	Path string // "" when no place has it
	// FromHostDir is true when the host's own directory supplied it.
	FromHostDir bool
}

// Resolve returns, for each role of the layout, the file the consumer
// picks for host: the host's directory, then (with SharedLookup) the
// shared one. host "" resolves in the shared directory alone.
func (t Tree) Resolve(host string) []Resolved { return t.ResolveRoles(host, nil) }

// ResolveRoles is Resolve for the layout's files of roles (all when nil),
// in the layout's order.
func (t Tree) ResolveRoles(host string, roles []Role) []Resolved {
	out := make([]Resolved, 0, len(t.Layout.Files))
	for _, f := range t.Layout.Files {
		if roles != nil && !slices.Contains(roles, f.Role) {
			continue
		}
		r := Resolved{Role: f.Role}
		for _, u := range t.lookup(host) {
			if p := t.In(u, f.Role); t.isFile(p) {
				r.Path, r.FromHostDir = p, !u.Shared()
				break
			}
		}
		out = append(out, r)
	}
	return out
}

// lookup is the order in which host's directories are searched.
func (t Tree) lookup(host string) []Unit {
	var units []Unit
	if host != "" {
		units = append(units, t.HostUnit(host))
	}
	if t.Layout.SharedLookup || host == "" {
		units = append(units, t.SharedDir())
	}
	return units
}

// WhereLooked says where Resolve looked for role, for messages.
func (t Tree) WhereLooked(host string, role Role) string {
	units := t.lookup(host)
	if len(units) == 1 {
		return " at " + t.In(units[0], role)
	}
	return fmt.Sprintf(" in %s nor %s", units[0].Dir, t.In(units[1], role))
}

// CRLBeside is the CRL file that goes with the CA file at caPath.
func CRLBeside(caPath string) string { return filepath.Join(filepath.Dir(caPath), CRLFile) }

// CRLFor is the CRL host's consumer uses: beside the CA file it resolved
// to, unless (with SharedLookup) the host directory holds its own.
func (t Tree) CRLFor(host, caPath string) string {
	if host != "" && t.Layout.SharedLookup {
		if own := CRLBeside(t.In(t.HostUnit(host), CACert)); t.isFile(own) {
			return own
		}
	}
	return CRLBeside(caPath)
}

// CAFiles lists every CA file the tree holds (every copy of every CA
// role: cacert.pem, QEMU's ca-cert.pem, ...), shared directory first: a
// host directory's own copy counts, since its consumer deploys it.
func (t Tree) CAFiles() ([]string, error) {
	units, err := t.Units()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range units {
		for _, f := range t.Layout.Files {
			if !f.Role.IsCA() {
				continue
			}
			p := t.In(u, f.Role)
			if _, err := t.Files.Lstat(p); err == nil {
				out = append(out, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	return out, nil
}

// CRLFiles lists where a CRL goes: beside each CA file of the tree whose
// consumer reads one, under the name it reads.
func (t Tree) CRLFiles() ([]string, error) {
	cas, err := t.CAFiles()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range cas {
		if spec, ok := t.Layout.SpecAt(p); ok && spec.CRL != "" {
			out = append(out, filepath.Join(filepath.Dir(p), spec.CRL))
		}
	}
	return out, nil
}

func (t Tree) isFile(p string) bool {
	fi, err := t.Files.Stat(p)
	return err == nil && !fi.IsDir()
}
