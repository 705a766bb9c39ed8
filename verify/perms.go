package verify

import (
	"fmt"
	"io/fs"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// PermProfile is a set of file-mode rules, derived from a layout's table:
// each layout names its profile (layout.Layout.Perms), so a file's
// expected mode is written once, where the file is placed.
type PermProfile struct {
	Name   string
	layout layout.Layout
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
	return PermProfile{Name: l.Perms, layout: l}, nil
}

func (p PermProfile) check(path string, role layout.Role, mode fs.FileMode, add func(Severity, Code, string)) {
	want, forbid := p.layout.ModeRule(role)
	if bad := forbid & mode; role.IsKey() && bad != 0 {
		fix := want
		if !p.layout.ExactModes {
			fix = 0o600
		}
		add(Error, CodeKeyExposed, fmt.Sprintf("%s is mode %04o: the private key is readable beyond what the %s profile allows; chmod %04o %s", path, mode, p.Name, fix, path))
		return
	}
	if p.layout.ExactModes && mode != want {
		add(Warning, CodePermissions, fmt.Sprintf("%s is mode %04o; the %s profile wants %04o: chmod %04o %s", path, mode, p.Name, want, want, path))
	}
}
