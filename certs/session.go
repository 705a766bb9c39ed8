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
		if slices.ContainsFunc(g.locks, func(lk *fsutil.Locked) bool { return filepath.Dir(lk.Path()) == nearestDir(r) }) {
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
type stage struct {
	roots   []string
	batches []*fsutil.Batch

	dirs sync.Map // directories mkdirsIn made or found, for this run

	mu      sync.Mutex
	targets [][]string // staged targets, per batch
	written []string   // targets in place, in commit order
	// contents holds what was staged, by path, once keepContents was
	// called: host tarballs are made from it (bundle.go).
	contents map[string][]byte
}

func newStage(top, root, caDir string) *stage {
	s := &stage{roots: Roots(top, root, caDir)}
	for _, r := range s.roots {
		s.batches = append(s.batches, fsutil.NewBatch(r))
	}
	s.targets = make([][]string, len(s.roots))
	return s
}

// WriteFile stages data for path in the batch of the tree that holds it.
// Safe for concurrent use.
func (s *stage) WriteFile(path string, data []byte, mode fs.FileMode) error {
	i := slices.IndexFunc(s.roots, func(r string) bool { return within(r, path) })
	if i < 0 {
		return fmt.Errorf("%s: outside %s; refusing to write there", path, strings.Join(s.roots, " and "))
	}
	if err := s.batches[i].WriteFile(path, data, mode); err != nil {
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
// batches', and those of the failing batch its journal had renamed (the
// next run's Recover completes that batch).
func (s *stage) Commit() error {
	for i, b := range s.batches {
		journal := filepath.Join(s.roots[i], fsutil.JournalFileName)
		_, before := os.Lstat(journal)
		if err := b.Commit(); err != nil {
			s.Abort()
			if before != nil { // the journal left, if any, is this batch's
				s.written = append(s.written, renamedSoFar(journal, s.targets[i])...)
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

// renamedSoFar lists the targets of a batch whose commit failed midway
// (its journal is kept) that are already in place: those with no staged
// temporary file left beside them. The lock makes every such file ours.
func renamedSoFar(journal string, targets []string) []string {
	if _, err := os.Lstat(journal); err != nil {
		return nil // failed before the first rename: nothing in place
	}
	var out []string
	for _, t := range targets {
		pending, _ := filepath.Glob(filepath.Join(filepath.Dir(t), "."+globEscape(filepath.Base(t))+".tmp-*"))
		if len(pending) == 0 {
			out = append(out, t)
		}
	}
	return out
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}
