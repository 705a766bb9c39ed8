package certs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// How a writing run keeps the tree whole (issue 11):
//
//   - It locks every tree it writes (LockTrees) before reading anything,
//     so two runs never interleave; then it completes the write a killed
//     run left behind (fsutil.Recover) and sweeps that run's temporary
//     files (fsutil.SweepTemp).
//   - It stages every file it writes in a journalled fsutil.Batch rooted at
//     the tree (a stage): after a kill at any instant, the next run's
//     Recover rolls the unit forward, so every pair on disk is the old one
//     or the new one, never one of each.
//   - A tree is the top the command was given (Kolla's --config-dir, which
//     holds both nova-libvirt/ and certificates/libvirt/, or the --out
//     directory, which holds ca/). A CA directory or layout root given
//     elsewhere (--ca-dir, an absolute node_custom_config) is a tree of its
//     own, with its own lock and journal. The CA directory's batch always
//     commits first: a kill between two batches then leaves a CA that the
//     re-run signs with (never leaves signed by a CA that was not written),
//     and every step re-run from there completes the rest.

// Roots lists the trees a run on layout root and CA directory caDir writes,
// each locked and journalled on its own: top (Root when empty), and root
// and caDir wherever they lie outside it. The tree holding caDir comes
// first, the order in which a stage commits.
func Roots(top, root, caDir string) []string {
	if top == "" {
		top = root
	}
	var out []string
	for _, dir := range []string{top, root, caDir} {
		if dir == "" {
			continue
		}
		dir = filepath.Clean(dir)
		if slices.ContainsFunc(out, func(r string) bool { return within(r, dir) }) {
			continue
		}
		out = slices.DeleteFunc(out, func(r string) bool { return within(dir, r) })
		out = append(out, dir)
	}
	if caDir != "" {
		i := slices.IndexFunc(out, func(r string) bool { return within(r, filepath.Clean(caDir)) })
		out[0], out[i] = out[i], out[0]
	}
	return out
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkTrees refuses, as bad input, a layout root or CA directory reached
// through a symlink below the tree that holds it: every write would be
// refused there, after the work of planning.
func checkTrees(top, root, caDir string) error {
	for _, t := range Roots(top, root, caDir) {
		for _, dir := range []string{root, caDir} {
			if dir == "" || !within(t, dir) || filepath.Clean(dir) == t {
				continue
			}
			if err := fsutil.CheckNoSymlinks(t, dir); err != nil {
				return errs.WrapInput(err)
			}
		}
	}
	return nil
}

// Guard is a writing run's hold on its trees: their locks, and what
// opening them completed and swept.
type Guard struct {
	locks []*fsutil.Locked
	// Recovered lists the files a killed run's journal put in place;
	// Swept the temporary files of killed runs that were removed.
	Recovered, Swept []string
}

// LockTrees locks every tree of Roots(top, root, caDir), in path order so
// that two runs never wait for each other in a cycle, then completes each
// tree's interrupted write and sweeps its temporary files. opts says
// whether to wait for a holder (see fsutil.LockOptions). A top that is a
// symlink or a file is refused before anything is locked.
func LockTrees(ctx context.Context, l layout.Layout, top, root, caDir string, opts fsutil.LockOptions) (*Guard, error) {
	for _, dir := range []string{top, root} {
		if dir != "" {
			if err := checkOutputDir(dir); err != nil {
				return nil, err
			}
		}
	}
	roots := Roots(top, root, caDir)
	sorted := slices.Clone(roots)
	slices.Sort(sorted)
	g := &Guard{}
	for _, r := range sorted {
		// Two trees yet to be made may share their nearest existing
		// ancestor, whose lock then guards both (as fsutil.LockTree
		// guards a tree it will create).
		if slices.ContainsFunc(g.locks, func(lk *fsutil.Locked) bool { return lk.Path() == nearestDir(r) }) {
			continue
		}
		lk, err := fsutil.LockTree(ctx, r, opts)
		if err != nil {
			g.Unlock()
			return nil, err
		}
		g.locks = append(g.locks, lk)
	}
	for _, r := range roots {
		done, err := fsutil.Recover(r)
		g.Recovered = append(g.Recovered, done...)
		if err != nil {
			g.Unlock()
			return nil, errs.AfterWrites(err, done)
		}
		swept, err := fsutil.SweepTemp(r, sweepDepth(l, r, root, caDir))
		g.Swept = append(g.Swept, swept...)
		if err != nil {
			g.Unlock()
			return nil, err
		}
	}
	return g, nil
}

// nearestDir is dir, or its nearest ancestor that exists.
func nearestDir(dir string) string {
	dir, _ = filepath.Abs(dir)
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// Unlock releases every lock.
func (g *Guard) Unlock() {
	if g == nil {
		return
	}
	for _, lk := range g.locks {
		lk.Unlock()
	}
	g.locks = nil
}

// sweepDepth is how deep below tree the run writes: the deepest file of
// a host directory, and the CA directory's next/ and previous/.
func sweepDepth(l layout.Layout, tree, root, caDir string) int {
	depth := 0
	if within(tree, root) {
		deepest := 0
		for _, f := range l.Files {
			deepest = max(deepest, strings.Count(f.Rel, "/"))
		}
		depth = levels(tree, root) + 1 + deepest
	}
	if caDir != "" && within(tree, caDir) {
		depth = max(depth, levels(tree, caDir)+1)
	}
	return depth
}

// levels is how many directories path lies below tree.
func levels(tree, path string) int {
	rel, err := filepath.Rel(tree, path)
	if err != nil || rel == "." {
		return 0
	}
	return strings.Count(rel, string(filepath.Separator)) + 1
}

// stage is the set of journalled batches one run writes through: one per
// tree of Roots, each file going to the tree that holds it. Commit puts
// them in place in Roots order and names, on a failure, what was written.
//
// Files that must agree at every instant are swapped in whole
// (fsutil.Batch.WriteFileIn): the CA directory (the CA's certificate and
// key, next/ and previous/ during rotate-ca, the revocation records), and
// in each host directory the smallest directory holding all its leaf
// pairs, derived from the layout's rows (Kolla's host directory itself,
// the libvirt layout's etc/pki). A shared run of a layout that keeps its
// pairs in the shared directory swaps that directory. Anything else (the
// shared cacert.pem, tarballs) is a single file, renamed.
type stage struct {
	roots   []string
	batches []*fsutil.Batch
	swaps   swapRule

	dirs sync.Map // directories mkdirsIn made or found, for this run

	mu      sync.Mutex
	targets [][]string // staged targets, per batch
	written []string   // targets in place, in commit order
	// contents holds what was staged, by path, once keepContents was
	// called: host tarballs are made from it (bundle.go).
	contents map[string][]byte
}

// swapRule says which directory a file's replacement swaps.
type swapRule struct {
	caDir   string // "" when the CA directory is a tree's root
	root    string // the layout root, holding the host directories
	shared  bool   // swap root itself (its pairs are written there)
	pairDir string // below a host directory: the one holding every leaf pair
}

func newStage(l layout.Layout, top, root, caDir string, sharedRun bool) *stage {
	s := &stage{roots: Roots(top, root, caDir)}
	for _, r := range s.roots {
		s.batches = append(s.batches, &fsutil.Batch{Root: r, DirMode: l.DirMode})
	}
	s.targets = make([][]string, len(s.roots))
	s.swaps = swapRule{root: filepath.Clean(root), pairDir: pairDir(l)}
	if caDir != "" && !slices.Contains(s.roots, filepath.Clean(caDir)) {
		s.swaps.caDir = filepath.Clean(caDir)
	}
	s.swaps.shared = l.SharedDirAll && !slices.Contains(s.roots, s.swaps.root) &&
		(sharedRun || sharedPairOnDisk(l, root))
	return s
}

// pairDir is the directory (relative to a unit's) holding every leaf
// certificate and key of l.
func pairDir(l layout.Layout) string {
	var specs []layout.FileSpec
	for _, k := range credential.Leaves(l) {
		for _, role := range []layout.Role{k.Cert, k.Key} {
			if spec, ok := l.Spec(role); ok {
				specs = append(specs, spec)
			}
		}
	}
	return layout.CommonDir(specs)
}

// sharedPairOnDisk reports whether the shared directory root holds a leaf
// key already (a shared run's, which a renewal rewrites there).
func sharedPairOnDisk(l layout.Layout, root string) bool {
	for _, k := range credential.Leaves(l) {
		if spec, ok := l.Spec(k.Key); ok {
			if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(spec.Rel))); err == nil {
				return true
			}
		}
	}
	return false
}

// dirFor is the directory whose swap carries path, "" for a rename.
func (r swapRule) dirFor(p string) string {
	switch {
	case r.caDir != "" && within(r.caDir, p):
		return r.caDir
	case r.shared && within(r.root, p):
		return r.root
	}
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		return ""
	}
	host, _, ok := strings.Cut(rel, string(filepath.Separator))
	if !ok || host == ".." {
		return ""
	}
	dir := filepath.Join(r.root, host, r.pairDir)
	if !within(dir, p) || dir == p {
		return ""
	}
	return dir
}

// WriteFile stages data for path in the batch of the tree that holds it.
// Safe for concurrent use.
func (s *stage) WriteFile(path string, data []byte, mode fs.FileMode) error {
	i := slices.IndexFunc(s.roots, func(r string) bool { return within(r, path) })
	if i < 0 {
		return fmt.Errorf("%s: outside %s; refusing to write there", path, strings.Join(s.roots, " and "))
	}
	var err error
	if dir := s.swaps.dirFor(path); dir != "" {
		err = s.batches[i].WriteFileIn(dir, path, data, mode)
	} else {
		err = s.batches[i].WriteFile(path, data, mode)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.targets[i] = append(s.targets[i], path)
	if s.contents != nil {
		s.contents[path] = data
	}
	s.mu.Unlock()
	return nil
}

// Abort drops everything staged and not yet committed.
func (s *stage) Abort() {
	for _, b := range s.batches {
		b.Abort()
	}
}

// Commit commits every batch in order. On a failure it aborts the rest and
// returns an errs.Partial naming every file already in place: the earlier
// batches', and those the failing batch had put in place (the next run's
// Recover completes that batch).
func (s *stage) Commit() error {
	for i, b := range s.batches {
		if err := b.Commit(); err != nil {
			s.Abort()
			for _, t := range s.targets[i] {
				if b.Placed(t) {
					s.written = append(s.written, t)
				}
			}
			return errs.AfterWrites(err, s.written)
		}
		s.written = append(s.written, s.targets[i]...)
	}
	return nil
}

// Written lists the files Commit put in place, for errors in the steps
// that follow it.
func (s *stage) Written() []string { return slices.Clone(s.written) }

// finish commits s when err is nil, else drops what it staged.
func (s *stage) finish(err error) error {
	if err != nil {
		s.Abort()
		return err
	}
	return s.Commit()
}
