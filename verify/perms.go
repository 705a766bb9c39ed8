package verify

import (
	"fmt"
	"io/fs"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// PermProfile is a set of file-mode rules.
type PermProfile struct {
	Name string
	// Modes are exact modes demanded per role (nil: none).
	Modes map[layout.Role]fs.FileMode
	// KeyForbidden are mode bits a private key must never have.
	KeyForbidden map[layout.Role]fs.FileMode
}

// The profiles. kolla: keys on the deploy host must not be readable by
// others (Kolla itself writes 0660 with group kolla, which is fair).
// libvirt-system and libvirt-user: what libvirt's own validator
// (virt-pki-validate) demands in system mode and in user / -p DIR mode.
var (
	PermsKolla = PermProfile{
		Name:         "kolla",
		KeyForbidden: map[layout.Role]fs.FileMode{layout.ServerKey: 0o007, layout.ClientKey: 0o007},
	}
	PermsLibvirtSystem = PermProfile{
		Name: "libvirt-system",
		Modes: map[layout.Role]fs.FileMode{
			layout.CACert: 0o644, layout.ServerCert: 0o644, layout.ServerKey: 0o600,
			layout.ClientCert: 0o644, layout.ClientKey: 0o644,
		},
		KeyForbidden: map[layout.Role]fs.FileMode{layout.ServerKey: 0o077, layout.ClientKey: 0o022},
	}
	PermsLibvirtUser = PermProfile{
		Name: "libvirt-user",
		Modes: map[layout.Role]fs.FileMode{
			layout.CACert: 0o600, layout.ServerCert: 0o600, layout.ServerKey: 0o600,
			layout.ClientCert: 0o600, layout.ClientKey: 0o600,
		},
		KeyForbidden: map[layout.Role]fs.FileMode{layout.ServerKey: 0o077, layout.ClientKey: 0o077},
	}
	PermProfiles = []PermProfile{PermsKolla, PermsLibvirtSystem, PermsLibvirtUser}
)

func permProfileFor(o Options) (PermProfile, error) {
	name := o.Perms
	if name == "" {
		switch o.Layout.Name {
		case layout.Libvirt.Name:
			name = PermsLibvirtSystem.Name
		case layout.PKIPath.Name:
			name = PermsLibvirtUser.Name
		default:
			name = PermsKolla.Name
		}
	}
	for _, p := range PermProfiles {
		if p.Name == name {
			return p, nil
		}
	}
	return PermProfile{}, fmt.Errorf("unknown permission profile %q (want kolla, libvirt-system or libvirt-user)", name)
}

func (p PermProfile) check(path string, role layout.Role, mode fs.FileMode, add func(Severity, Code, string)) {
	if bad := p.KeyForbidden[role] & mode; bad != 0 {
		fix, ok := p.Modes[role]
		if !ok {
			fix = 0o600
		}
		add(Error, CodeKeyExposed, fmt.Sprintf("%s is mode %04o: the private key is readable beyond what the %s profile allows; chmod %04o %s", path, mode, p.Name, fix, path))
		return
	}
	if want, ok := p.Modes[role]; ok && mode != want {
		add(Warning, CodePermissions, fmt.Sprintf("%s is mode %04o; the %s profile wants %04o: chmod %04o %s", path, mode, p.Name, want, want, path))
	}
}
