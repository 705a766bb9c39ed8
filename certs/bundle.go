package certs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// A host bundle (a layout with a BundleDir) is everything a host needs as
// it lies under /: the credential files of its kinds, the configuration
// lines each consumer needs (one file per configuration file, named
// <file>.add, in the BundleDir: no daemon reads them), and MANIFEST.tsv,
// the path, mode, owner and group of every file. With --bundle, the
// tarball <root>/<host>.tar holds the same files with their modes and
// owners, by name (numeric id 0 where the name is unknown to the host:
// GNU tar run as root uses the name when the host knows it), ready for
// tar -xpf <host>.tar -C /.

// ManifestFile is the manifest's name in a bundle's BundleDir.
const ManifestFile = "MANIFEST.tsv"

// bundleFile is one file of a host bundle.
type bundleFile struct {
	rel          string // below the host directory, slash-separated
	mode         os.FileMode
	owner, group string
}

// unitClasses are the host classes of a plan unit, from its kinds.
func unitClasses(kinds []credential.Kind) []credential.HostClass {
	var out []credential.HostClass
	for _, k := range kinds {
		if !slices.Contains(out, k.Hosts) {
			out = append(out, k.Hosts)
		}
	}
	return out
}

// bundleContents returns the files of the host bundle at dir whose hosts
// are of classes (with the SASL files `libvirt-pki sasl` put there), and
// the extra files (configuration lines, manifest) to write with their
// contents.
func bundleContents(l layout.Layout, dir string, sets []string, classes []credential.HostClass) (files []bundleFile, extra map[string][]byte) {
	extra = map[string][]byte{}
	for _, class := range classes {
		for _, k := range credential.Selected(l, sets, class) {
			for _, role := range []layout.Role{k.Cert, k.Key} {
				if spec, ok := l.Spec(role); ok {
					files = append(files, bundleFile{spec.Rel, spec.Mode, spec.OwnerName(), spec.GroupName()})
				}
			}
		}
	}
	var lines []credential.ConfigLine
	for _, class := range classes {
		lines = append(lines, credential.ConfigFor(sets, class)...)
	}
	for _, file := range configFiles(lines) {
		rel := path.Join(l.BundleDir, path.Base(file)+".add")
		extra[rel] = configText(l, sets, file, lines)
		files = append(files, bundleFile{rel, 0o644, "root", "root"})
	}
	files = append(files, saslFilesIn(l, dir)...)
	files = append(files, crlFilesIn(l, dir, nil)...)
	manifest := path.Join(l.BundleDir, ManifestFile)
	files = append(files, bundleFile{manifest, 0o644, "root", "root"})
	extra[manifest] = manifestText(files)
	return files, extra
}

// saslFilesIn lists the SASL files of the layout (layout.Layout.SASL)
// that the host bundle at dir holds.
func saslFilesIn(l layout.Layout, dir string) []bundleFile {
	var out []bundleFile
	for _, spec := range l.SASL {
		if fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(spec.Rel))); err == nil && fi.Mode().IsRegular() {
			out = append(out, bundleFile{spec.Rel, spec.Mode, spec.OwnerName(), spec.GroupName()})
		}
	}
	return out
}

// manifestText is MANIFEST.tsv for files.
func manifestText(files []bundleFile) []byte {
	var b strings.Builder
	b.WriteString("# path\tmode\towner\tgroup (libvirt-pki host bundle; tar -xpf HOST.tar -C / sets them)\n")
	for _, f := range files {
		fmt.Fprintf(&b, "/%s\t%04o\t%s\t%s\n", f.rel, f.mode, f.owner, f.group)
	}
	return []byte(b.String())
}

// configFiles lists the configuration files lines touch, in order.
func configFiles(lines []credential.ConfigLine) []string {
	var out []string
	for _, c := range lines {
		if !slices.Contains(out, c.File) {
			out = append(out, c.File)
		}
	}
	return out
}

// configText is the <file>.add of a bundle: the lines to add to file,
// under their INI sections.
func configText(l layout.Layout, sets []string, file string, lines []credential.ConfigLine) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Add these lines to %s (libvirt-pki, sets %s).\n# This file is not read by any program.\n", file, strings.Join(sets, ","))
	section := ""
	for _, c := range lines {
		if c.File != file {
			continue
		}
		if c.Section != section && c.Section != "" {
			fmt.Fprintf(&b, "[%s]\n", c.Section)
		}
		section = c.Section
		b.WriteString(c.Text(l) + "\n")
	}
	return []byte(b.String())
}

// stageBundles stages the extra files of every host bundle of the plan.
func (p *Plan) stageBundles(batch *stage) error {
	if p.Opts.Layout.BundleDir == "" {
		return nil
	}
	for _, u := range p.units {
		for _, dir := range u.units {
			_, extra := bundleContents(p.Opts.Layout, dir.Dir, p.Opts.Sets, unitClasses(u.kinds))
			for _, rel := range slices.Sorted(maps.Keys(extra)) {
				target := filepath.Join(dir.Dir, filepath.FromSlash(rel))
				if err := batch.mkdirsIn(p.tree, target); err != nil {
					return err
				}
				if err := stageIfChanged(batch, target, extra[rel], 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// writeTarballs writes <root>/<host>.tar for every host bundle of the
// plan from the files on disk, in one journalled batch; an unchanged
// tarball is left alone.
func (p *Plan) writeTarballs() (err error) {
	o := p.Opts
	batch := newStage(o.Layout, o.Top, o.Root, o.CADir, o.Shared)
	defer func() { err = batch.finish(err) }()
	for _, u := range p.units {
		for _, dir := range u.units {
			files, _ := bundleContents(o.Layout, dir.Dir, o.Sets, unitClasses(u.kinds))
			data, err := tarball(dir.Dir, files, nil)
			if err != nil {
				return err
			}
			// It holds private keys: only root reads it.
			if err := stageIfChanged(batch, dir.Dir+".tar", data, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// tarball is a tar of files read below dir (or, for a path in staged,
// the contents staged for it), each with its bundle mode, owner and group
// by name (numeric ids 0) and its modification time.
func tarball(dir string, files []bundleFile, staged map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		full := filepath.Join(dir, filepath.FromSlash(f.rel))
		data, mtime, err := bundleFileData(full, staged)
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.rel, Mode: int64(f.mode), Size: int64(len(data)),
			Uname: f.owner, Gname: f.group, ModTime: mtime.Truncate(1e9), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UpdateBundleSASL brings the host bundles of hosts under root (a tree
// of layout l, locked by the caller) up to date with the SASL files
// `libvirt-pki sasl` wrote there: each MANIFEST.tsv keeps its other rows
// and lists the SASL files with their modes and owners, and <host>.tar,
// when it exists or tarball is set, is made again from the manifest. It
// returns the files written, all committed as one journalled unit.
func UpdateBundleSASL(l layout.Layout, root string, hosts []string, tarball bool) (written []string, err error) {
	if l.BundleDir == "" {
		return nil, nil
	}
	batch := newStage(l, root, root, "", false)
	defer func() {
		if err = batch.finish(err); err == nil {
			written = batch.Written()
		}
	}()
	for _, h := range hosts {
		if _, err := restageBundle(batch, l, filepath.Join(root, h), tarball); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// restageBundle stages the host bundle at dir again from what its
// manifest lists, the SASL and CRL files now there and what batch holds
// staged for it: its MANIFEST.tsv and, when it exists or always is set,
// <dir>.tar. It says whether the tarball changed.
func restageBundle(batch *stage, l layout.Layout, dir string, always bool) (bool, error) {
	staged := batch.stagedContents()
	manifest := filepath.Join(dir, filepath.FromSlash(path.Join(l.BundleDir, ManifestFile)))
	files, err := manifestRows(manifest, l)
	if err != nil {
		return false, err
	}
	files = append(files, saslFilesIn(l, dir)...)
	files = append(files, crlFilesIn(l, dir, staged)...)
	files = append(files, bundleFile{path.Join(l.BundleDir, ManifestFile), 0o644, "root", "root"})
	if err := fsutil.MkdirAll(filepath.Dir(manifest), 0o755); err != nil {
		return false, err
	}
	text := manifestText(files)
	if err := stageIfChanged(batch, manifest, text, 0o644); err != nil {
		return false, err
	}
	if !always && !exists(dir+".tar") {
		return false, nil
	}
	if staged == nil {
		staged = map[string][]byte{}
	}
	staged[manifest] = text
	data, err := tarball(dir, files, staged)
	if err != nil {
		return false, err
	}
	changed := !sameFile(dir+".tar", data)
	return changed, stageIfChanged(batch, dir+".tar", data, 0o600)
}

// keepContents makes s remember, from now on, what it stages (for the
// tarballs made in the same unit: withTarballs).
func (s *stage) keepContents() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contents == nil {
		s.contents = map[string][]byte{}
	}
}

// stagedContents is a copy of what s remembers having staged.
func (s *stage) stagedContents() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.contents)
}

// withTarballs runs stageFiles, then stages every <host>.tar that exists
// under root (a tree of layout l) made again with what stageFiles
// staged, so that each tarball changes in the same journalled unit as
// the files it holds: a renewed certificate, a CRL, a CA bundle never
// stays behind in the tarball an operator installs. It returns the
// tarballs that change.
func withTarballs(batch *stage, l layout.Layout, root string, stageFiles func() error) ([]string, error) {
	dirs, err := tarballDirs(l, root)
	if err != nil {
		return nil, err
	}
	if len(dirs) > 0 {
		batch.keepContents()
	}
	if err := stageFiles(); err != nil {
		return nil, err
	}
	var changed []string
	for _, dir := range dirs {
		ok, err := restageBundle(batch, l, dir, false)
		if err != nil {
			return nil, err
		}
		if ok {
			changed = append(changed, dir+".tar")
		}
	}
	return changed, nil
}

// tarballDirs lists the host bundles under root that have a <host>.tar
// beside them (a regular file, and a directory holding a manifest).
func tarballDirs(l layout.Layout, root string) ([]string, error) {
	if l.BundleDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(root)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, readErr(err)
	}
	var out []string
	for _, e := range entries {
		host, ok := strings.CutSuffix(e.Name(), ".tar")
		if !ok || !e.Type().IsRegular() || host == "" {
			continue
		}
		dir := filepath.Join(root, host)
		manifest := filepath.Join(dir, filepath.FromSlash(path.Join(l.BundleDir, ManifestFile)))
		if fi, err := os.Lstat(manifest); err == nil && fi.Mode().IsRegular() {
			out = append(out, dir)
		}
	}
	return out, nil
}

// crlFiles are the CRLs a host bundle of l can hold: one beside each CA
// file whose consumer reads one, readable by all (a CRL is public).
func crlFiles(l layout.Layout) []bundleFile {
	var out []bundleFile
	for _, spec := range l.Files {
		if spec.CRL != "" {
			out = append(out, bundleFile{path.Join(path.Dir(spec.Rel), spec.CRL), 0o644, spec.OwnerName(), spec.GroupName()})
		}
	}
	return out
}

// crlFilesIn lists the CRLs (crlFiles) the host bundle at dir holds, on
// disk or staged (a first revoke stages them).
func crlFilesIn(l layout.Layout, dir string, staged map[string][]byte) []bundleFile {
	var out []bundleFile
	for _, f := range crlFiles(l) {
		full := filepath.Join(dir, filepath.FromSlash(f.rel))
		if _, ok := staged[full]; ok {
			out = append(out, f)
		} else if fi, err := os.Lstat(full); err == nil && fi.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

// manifestRows reads a bundle's MANIFEST.tsv, without its SASL files'
// and CRLs' rows and its own: those are listed again from the disk.
func manifestRows(manifest string, l layout.Layout) ([]bundleFile, error) {
	data, err := readIfExists(manifest, fsutil.LimitConfig)
	if err != nil {
		return nil, err
	}
	rows, err := ParseManifest(manifest, data)
	if err != nil {
		return nil, err
	}
	var out []bundleFile
	for _, r := range rows {
		if _, sasl := l.SASLSpecAt(r.Rel); sasl || path.Base(r.Rel) == ManifestFile || isCRL(l, r.Rel) {
			continue
		}
		out = append(out, bundleFile{r.Rel, r.Mode, r.Owner, r.Group})
	}
	return out, nil
}

// ManifestRow is one row of a host bundle's MANIFEST.tsv: a file's path
// below / (slash-separated, without the leading slash), its mode, owner
// and group.
type ManifestRow struct {
	Rel          string
	Mode         os.FileMode
	Owner, Group string
}

// ParseManifest parses the MANIFEST.tsv text data read from name (named
// in errors). Rows must be absolute, clean paths with an octal mode; a
// path given twice is refused.
func ParseManifest(name string, data []byte) ([]ManifestRow, error) {
	var out []ManifestRow
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		mode, perr := strconv.ParseUint(f[min(1, len(f)-1)], 8, 32)
		if len(f) != 4 || !strings.HasPrefix(f[0], "/") || perr != nil || f[2] == "" || f[3] == "" {
			return nil, inputErr("%s:%d: not a manifest row (path, mode, owner, group)", name, i+1)
		}
		rel := strings.TrimPrefix(f[0], "/")
		if rel == "" || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, inputErr("%s:%d: %q is not a clean absolute path", name, i+1, f[0])
		}
		if seen[rel] {
			return nil, inputErr("%s:%d: %s listed twice", name, i+1, f[0])
		}
		seen[rel] = true
		out = append(out, ManifestRow{rel, os.FileMode(mode), f[2], f[3]})
	}
	return out, nil
}

// isCRL says whether rel is where a host bundle of l keeps a CRL.
func isCRL(l layout.Layout, rel string) bool {
	return slices.ContainsFunc(crlFiles(l), func(f bundleFile) bool { return f.rel == rel })
}

// bundleFileData is the contents and modification time of the bundle file
// at full: the file's, or the contents staged for it when they differ
// (with the time now).
func bundleFileData(full string, staged map[string][]byte) ([]byte, time.Time, error) {
	data, err := fsutil.ReadFile(full, fsutil.LimitConfig)
	if want, ok := staged[full]; ok && (err != nil || !bytes.Equal(data, want)) {
		return want, time.Now(), nil
	}
	if err != nil {
		return nil, time.Time{}, readErr(err)
	}
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, time.Time{}, readErr(err)
	}
	return data, fi.ModTime(), nil
}
