package verify

import (
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"syscall"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// PermProfile is a set of file-mode rules, derived from a layout's table:
// each layout names its profile (layout.Layout.Perms), so a file's
// expected mode is written once, where the file is placed.
type PermProfile struct {
	Name   string
	layout layout.Layout
	ids    *idNames
}

// PermProfiles lists the profiles, one per layout.
func PermProfiles() []PermProfile {
	var out []PermProfile
	for _, l := range layout.Layouts {
		out = append(out, PermProfile{Name: l.Perms, layout: l})
	}
	return out
}

func permProfileFor(o Options) (PermProfile, error) {
	l := o.Layout
	if o.Perms != "" {
		var err error
		if l, err = layout.ByPerms(o.Perms); err != nil {
			return PermProfile{}, err
		}
	}
	return PermProfile{Name: l.Perms, layout: l, ids: &idNames{}}, nil
}

func (p PermProfile) check(path string, role layout.Role, fi fs.FileInfo, add func(Severity, Code, string)) {
	mode := fi.Mode().Perm()
	want, forbid := p.layout.ModeRule(role)
	if bad := forbid & mode; role.IsKey() && bad != 0 {
		fix := want
		if !p.layout.ExactModes {
			fix = 0o600
		}
		add(Error, CodeKeyExposed, fmt.Sprintf("%s is mode %04o: the private key is readable beyond what the %s profile allows; chmod %04o %s%s", path, mode, p.Name, fix, path, p.groupNote(role)))
		return
	}
	if g, ok := p.foreignGroup(role, fi); ok {
		add(Error, CodeKeyExposed, fmt.Sprintf("%s is mode %04o with group %s: the private key is readable by a group the %s profile does not name for it%s", path, mode, g, p.Name, p.groupNote(role)))
		return
	}
	if p.layout.ExactModes && mode != want {
		add(Warning, CodePermissions, fmt.Sprintf("%s is mode %04o; the %s profile wants %04o: chmod %04o %s", path, mode, p.Name, want, want, path))
	}
}

// groupNote names the group a host bundle's key belongs to (its
// manifest and tarball give it), for the message's fix.
func (p PermProfile) groupNote(role layout.Role) string {
	if spec, ok := p.layout.Spec(role); ok && spec.Group != "" && p.layout.BundleDir != "" {
		return fmt.Sprintf(" (on the host: chown %s:%s)", spec.OwnerName(), spec.GroupName())
	}
	return ""
}

// foreignGroup reports the group of a host bundle's group-readable key
// when that group is neither the one the layout names for it (nova,
// qemu), nor root's, nor its owner's own primary group (the group a key
// written on the deploy host by the operator gets; the manifest and the
// tarball carry the named group to the host).
func (p PermProfile) foreignGroup(role layout.Role, fi fs.FileInfo) (string, bool) {
	spec, ok := p.layout.Spec(role)
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !ok || !role.IsKey() || p.layout.BundleDir == "" || fi.Mode().Perm()&0o040 == 0 || !isStat || p.ids == nil {
		return "", false
	}
	if st.Gid == 0 || st.Gid == p.ids.primaryGID(st.Uid) {
		return "", false
	}
	name := p.ids.groupName(st.Gid)
	return name, name != spec.GroupName()
}

// idNames caches the user and group look-ups of one verify run.
type idNames struct {
	primary map[uint32]uint32 // uid -> primary gid
	groups  map[uint32]string // gid -> name (the number when unknown)
}

func (n *idNames) primaryGID(uid uint32) uint32 {
	if gid, ok := n.primary[uid]; ok {
		return gid
	}
	if n.primary == nil {
		n.primary = map[uint32]uint32{}
	}
	gid := ^uint32(0)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		if g, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			gid = uint32(g)
		}
	}
	n.primary[uid] = gid
	return gid
}

func (n *idNames) groupName(gid uint32) string {
	if name, ok := n.groups[gid]; ok {
		return name
	}
	if n.groups == nil {
		n.groups = map[uint32]string{}
	}
	name := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(name); err == nil {
		name = g.Name
	}
	n.groups[gid] = name
	return name
}
