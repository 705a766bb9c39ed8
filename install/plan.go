package install

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Actions a plan takes on a file.
const (
	ActionCreate    = "create"
	ActionReplace   = "replace"
	ActionUnchanged = "unchanged"
)

// Change is what installing does to one file.
type Change struct {
	Path   string `json:"path"` // absolute, under the root
	Action string `json:"action"`
	// Why says what differs for a replace: contents, mode, owner.
	Why  string      `json:"why,omitempty"`
	Mode fs.FileMode `json:"-"`
	// Perm is Mode in octal, for JSON.
	Perm  string `json:"mode"`
	Unit  string `json:"unit"` // the directory swapped as one, or the file itself
	file  File
	uid   int
	gid   int
	isKey bool
}

// Unit is what is replaced as one: a pair's directory (the directory
// holding a certificate and its key, swapped whole so a kill never leaves
// a certificate beside another's key), or a single file.
type Unit struct {
	// Dir is the unit's directory below the root (slash-separated); ""
	// for a single file.
	Dir     string
	Changes []*Change
}

// Plan is an install worked out and checked, nothing written yet.
type Plan struct {
	Root    string
	Bundle  *Bundle
	Changes []*Change
	Units   []*Unit
}

// Changed reports whether installing would change anything.
func (p *Plan) Changed() bool {
	return slices.ContainsFunc(p.Changes, func(c *Change) bool { return c.Action != ActionUnchanged })
}

// pairDirs are the directories of the layout's pairs, each the nearest
// directory holding both a certificate and its key (libvirt's
// etc/pki/libvirt holds servercert.pem and private/serverkey.pem).
func pairDirs(l layout.Layout) []string {
	var out []string
	for _, k := range credential.Kinds {
		cert, okc := l.Spec(k.Cert)
		key, okk := l.Spec(k.Key)
		if !k.PerHost || !okc || !okk {
			continue
		}
		dir := filepath.ToSlash(layout.CommonDir([]layout.FileSpec{cert, key}))
		if dir != "" && !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	return out
}

// unitOf is the pair directory holding rel, or "".
func unitOf(dirs []string, rel string) string {
	for _, d := range dirs {
		if strings.HasPrefix(rel, d+"/") {
			return d
		}
	}
	return ""
}

// MakePlan compares the bundle with what lies under root. A target that
// is a symlink, or under one, or not a regular file is bad input: nothing
// is written.
func MakePlan(b *Bundle, root string) (*Plan, error) {
	p := &Plan{Root: root, Bundle: b}
	dirs := pairDirs(b.Layout)
	units := map[string]*Unit{}
	for _, f := range b.Files {
		c, err := planFile(root, f)
		if err != nil {
			return nil, errs.WrapInput(err)
		}
		if spec, ok := b.spec(f.Rel); ok {
			c.isKey = spec.Role.IsKey() || spec.Role == layout.SASLDB
		}
		key := unitOf(dirs, f.Rel)
		c.Unit = "/" + f.Rel
		if key != "" {
			c.Unit = "/" + key
			if err := checkDir(root, key); err != nil {
				return nil, errs.WrapInput(err)
			}
		} else {
			key = "file:" + f.Rel
		}
		u := units[key]
		if u == nil {
			u = &Unit{Dir: unitOf(dirs, f.Rel)}
			units[key] = u
			p.Units = append(p.Units, u)
		}
		u.Changes = append(u.Changes, c)
		p.Changes = append(p.Changes, c)
	}
	// CA files first: a new CA bundle must be in place before the leaves
	// it trusts are presented.
	slices.SortStableFunc(p.Units, func(a, b *Unit) int { return boolRank(a.Dir != "") - boolRank(b.Dir != "") })
	return p, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkDir refuses a pair directory that is a symlink or not a directory.
func checkDir(root, rel string) error {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if err := fsutil.CheckNoSymlinks(root, full); err != nil {
		return err
	}
	if fi, err := os.Lstat(full); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", full)
	}
	return nil
}

// planFile decides what to do with one file.
func planFile(root string, f File) (*Change, error) {
	full := filepath.Join(root, filepath.FromSlash(f.Rel))
	if err := fsutil.CheckNoSymlinks(root, full); err != nil {
		return nil, fmt.Errorf("%w: nothing written", err)
	}
	uid, gid := ids(f)
	c := &Change{Path: full, Mode: f.Mode, Perm: fmt.Sprintf("%04o", f.Mode), file: f, uid: uid, gid: gid}
	old, err := fsutil.ReadFile(full, limitFor(f.Rel))
	if errors.Is(err, fs.ErrNotExist) {
		c.Action = ActionCreate
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%v: nothing written", err)
	}
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, err
	}
	var why []string
	if !bytes.Equal(old, f.Data) {
		why = append(why, "contents")
	}
	if fi.Mode().Perm() != f.Mode {
		why = append(why, fmt.Sprintf("mode %04o -> %04o", fi.Mode().Perm(), f.Mode))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != uid || int(st.Gid) != gid) {
		why = append(why, fmt.Sprintf("owner %d:%d -> %d:%d", st.Uid, st.Gid, uid, gid))
	}
	c.Action = ActionUnchanged
	if len(why) > 0 {
		c.Action, c.Why = ActionReplace, strings.Join(why, ", ")
	}
	return c, nil
}
