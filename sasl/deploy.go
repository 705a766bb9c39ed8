package sasl

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Options says which SASL files to write for a set of hosts.
type Options struct {
	// Layout places the files in a host's directory (Layout.SASL): the
	// libvirt layout's host bundle, for libvirtd on the host.
	Layout layout.Layout
	// Root holds one directory per host (the --out of the libvirt layout).
	Root string
	// TreeRoot is the top of the tree the run writes into (Kolla's config
	// directory), which the caller has locked: Apply journals its one unit
	// there, and no path from it down to a written file may be a symlink.
	// Root must be TreeRoot or below it; "" means Root.
	TreeRoot string
	Hosts    []string
	// Realm is every host's one realm; "" gives each host the realms of
	// Realms, or else its own name, lowercased.
	Realm string
	// Realms lists, by host, every realm libvirtd there may compute for
	// itself (its host name or its canonical FQDN, lowercased: the
	// inventory name, migration_hostname, the FQDN); the user is written
	// in each (Cyrus ignores records of other realms).
	Realms     map[string][]string
	Authname   string
	Password   string
	Mechs      []string // any case (ParseMech)
	Format     string   // ParseDBFormat
	Iterations int
}

// Plan is every host's SASL files, decided and not yet written.
type Plan struct {
	Authname string
	Mechs    []string // canonical
	Format   DBFormat
	Hosts    []HostPlan

	treeRoot string
	pairDir  string      // below a host's directory, the one holding all its SASL files
	files    []hostFiles // per host, as Hosts
}

// HostPlan is what happens to one host's files.
type HostPlan struct {
	Host   string       `json:"host"`
	Realms []string     `json:"realms"`
	Files  []FileResult `json:"files"`
}

// NewPlan checks o and decides every host's files, reading what is there
// and writing nothing: bad input anywhere (options, a realm or password
// the files cannot carry, a symlink on the way to a file, an existing
// passwd.db of the wrong format) is an errs.Input before the first write.
func NewPlan(o Options) (*Plan, error) {
	mechs, format, err := o.check()
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(o.Password, "the password given"); err != nil {
		return nil, err
	}
	if len(o.Layout.SASL) == 0 {
		return nil, errs.Inputf("the %s layout holds no SASL files (Kolla's nova_libvirt container makes its own): use --layout libvirt for libvirtd on the hosts", cmp.Or(o.Layout.Name, "empty"))
	}
	p := &Plan{Authname: o.Authname, Mechs: mechs, Format: format, treeRoot: cmp.Or(o.TreeRoot, o.Root), pairDir: layout.CommonDir(o.Layout.SASL)}
	for _, h := range o.Hosts {
		if err := layout.ValidateName(h); err != nil {
			return nil, errs.Inputf("host %q: %v", h, err)
		}
		realms, err := o.realmsOf(h)
		if err != nil {
			return nil, err
		}
		ho := hostOptions{
			Dir: filepath.Join(o.Root, h), Files: o.Layout.SASL, Realms: realms, Authname: o.Authname, Password: o.Password,
			Mechs: p.Mechs, Format: p.Format, Iterations: o.Iterations,
		}
		if err := ho.checkTree(p.treeRoot); err != nil {
			return nil, err
		}
		files, err := planHost(ho)
		if err != nil {
			return nil, err
		}
		p.Hosts = append(p.Hosts, HostPlan{Host: h, Realms: realms, Files: files.results()})
		p.files = append(p.files, files)
	}
	return p, nil
}

// realmsOf is host h's realms: Realm as given, or else h and Realms[h],
// lowercased; each checked.
func (o Options) realmsOf(h string) ([]string, error) {
	if o.Realm != "" {
		if err := CheckRealm(o.Realm); err != nil {
			return nil, fmt.Errorf("host %s: %w", h, err)
		}
		return []string{o.Realm}, nil
	}
	var out []string
	for _, r := range append([]string{h}, o.Realms[h]...) {
		r = strings.ToLower(r)
		if slices.Contains(out, r) {
			continue
		}
		if err := CheckRealm(r); err != nil {
			return nil, fmt.Errorf("host %s: %w", h, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Check reports bad settings (authname, iterations, mechanisms, format)
// as an errs.Input; hosts and password are checked by NewPlan.
func (o Options) Check() error {
	_, _, err := o.check()
	return err
}

func (o Options) check() (mechs []string, format DBFormat, err error) {
	if err := CheckAuthname(o.Authname); err != nil {
		return nil, "", err
	}
	if o.Iterations < MinSCRAMIterations || o.Iterations > MaxSCRAMIterations {
		return nil, "", errs.Inputf("SCRAM iterations %d: want %d to %d", o.Iterations, MinSCRAMIterations, MaxSCRAMIterations)
	}
	for _, m := range o.Mechs {
		mech, err := ParseMech(m)
		if err != nil {
			return nil, "", errs.WrapInput(err)
		}
		mechs = append(mechs, mech)
	}
	if format, err = ParseDBFormat(o.Format); err != nil {
		return nil, "", errs.WrapInput(err)
	}
	return mechs, format, nil
}

// Changed counts the files Apply writes (or wrote).
func (p *Plan) Changed() int {
	n := 0
	for _, h := range p.Hosts {
		for _, f := range h.Files {
			if f.Action != "unchanged" {
				n++
			}
		}
	}
	return n
}

// Apply writes every host's changed files as one unit: each host's are
// staged into a copy of the smallest directory holding all of them
// (fsutil.Batch.WriteFileIn), which the commit swaps in whole, so on disk
// a host's passwd.db and both auth.conf files switch at the same instant:
// a reader, or a kill, never finds them disagreeing or one missing. All
// hosts are committed by one journalled fsutil.Batch rooted at the tree
// root, so after a kill the next run's fsutil.Recover completes the rest. A file whose bytes are right but whose mode is
// not is rewritten in the same unit. The caller holds the tree's lock and
// has run fsutil.Recover and fsutil.SweepTemp.
//
// written lists the files put in place. A failure before the first
// rename writes nothing and lists nothing (only missing host directories
// may have been made); a failure after it is an errs.Partial naming the
// files already in place, and the journal left behind lets the next run
// complete the unit.
func (p *Plan) Apply() (written []string, err error) {
	b := fsutil.NewBatch(p.treeRoot)
	var staged []plannedFile
	for _, h := range p.files {
		files := h.toWrite()
		if len(files) == 0 {
			continue
		}
		for _, f := range files {
			if err := fsutil.MkdirAll(filepath.Dir(f.res.Path), 0o755); err != nil {
				b.Abort()
				return nil, err
			}
			if err := p.stageFile(b, h.dir, f); err != nil {
				b.Abort()
				return nil, err
			}
			staged = append(staged, f)
		}
	}
	if err := b.Commit(); err != nil {
		written = inPlace(staged)
		return written, errs.AfterWrites(err, written)
	}
	for _, f := range staged {
		written = append(written, f.res.Path)
	}
	return written, nil
}

// stageFile stages f of the host directory hostDir into b: inside the
// swap of the host's SASL directory, or on its own when that directory
// is the batch's root (which is never swapped).
func (p *Plan) stageFile(b *fsutil.Batch, hostDir string, f plannedFile) error {
	dir := filepath.Join(hostDir, p.pairDir)
	if filepath.Clean(dir) == filepath.Clean(p.treeRoot) {
		return b.WriteFile(f.res.Path, f.data, f.mode)
	}
	return b.WriteFileIn(dir, f.res.Path, f.data, f.mode)
}

// inPlace lists the staged files that already hold their new bytes and
// mode: after a failed commit, those are what was written.
func inPlace(staged []plannedFile) []string {
	var out []string
	for _, f := range staged {
		fi, err := os.Lstat(f.res.Path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != f.mode {
			continue
		}
		if data, err := fsutil.ReadFile(f.res.Path, int64(len(f.data))); err == nil && bytes.Equal(data, f.data) {
			out = append(out, f.res.Path)
		}
	}
	return out
}
