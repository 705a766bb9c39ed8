// Package install puts a host bundle (made by `libvirt-pki certificates
// --layout libvirt --bundle`) in place on a compute host: it reads the
// bundle (a directory or <host>.tar) refusing anything hostile, checks
// it the way libvirtd, QEMU and their peers will (verify's offline
// checks on a private copy, this host's names, the manifest's modes and
// owners, CA continuity with what is installed), then installs it so
// that a kill at any instant leaves the old set or the new one.
package install

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Limits on what a bundle may hold: every file is read through these
// bounds, so a huge (or sparse) entry is refused from its header.
const (
	// LimitTar bounds a whole <host>.tar: a host bundle holds a few
	// dozen small files and a sasldb.
	LimitTar = 128 << 20
	// maxEntries bounds the entries of a tar.
	maxEntries = 256
)

// File is one file of a bundle, as it will lie under the root.
type File struct {
	Rel          string // below the root, slash-separated
	Data         []byte
	Mode         fs.FileMode
	Owner, Group string
}

// Bundle is a host bundle read into memory and checked for shape: every
// file is a regular file listed in its MANIFEST.tsv, with the manifest's
// mode.
type Bundle struct {
	// Source is the path it was read from; Host the host it was made
	// for (the directory's or the tar's name).
	Source, Host string
	Layout       layout.Layout
	Files        []File
}

// manifestRel is where MANIFEST.tsv lies in a bundle of l.
func manifestRel(l layout.Layout) string { return path.Join(l.BundleDir, certs.ManifestFile) }

// Read reads the bundle at src (a host bundle directory or a <host>.tar)
// made for layout l. Every problem is bad input (errs.Input) naming src
// and the entry: nothing is written.
func Read(src string, l layout.Layout) (*Bundle, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, errs.Inputf("%s: %v", src, unwrapPath(err))
	}
	var raw map[string]rawFile
	host := filepath.Base(filepath.Clean(src))
	if fi.IsDir() {
		raw, err = readDir(src)
	} else {
		host = strings.TrimSuffix(host, ".tar")
		raw, err = readTar(src)
	}
	if err != nil {
		return nil, errs.WrapInput(err)
	}
	b := &Bundle{Source: src, Host: host, Layout: l}
	if err := b.fromManifest(raw); err != nil {
		return nil, errs.WrapInput(err)
	}
	return b, nil
}

// rawFile is an entry as found: its data and mode bits.
type rawFile struct {
	data []byte
	mode fs.FileMode
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// cleanRel checks an entry's name: relative, clean, never leaving the
// bundle.
func cleanRel(src, name string) (string, error) {
	rel := strings.TrimPrefix(name, "./")
	if rel == "" || strings.HasPrefix(rel, "/") || path.Clean(rel) != strings.TrimSuffix(rel, "/") ||
		rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
		return "", fmt.Errorf("%s: entry %q leaves the bundle (absolute or ..): refused, nothing written", src, name)
	}
	return strings.TrimSuffix(rel, "/"), nil
}

// readTar reads a tar's regular files, refusing links, devices, FIFOs,
// set-id bits, unsafe names, duplicates, oversized entries (from their
// header, before reading) and a truncated archive.
func readTar(src string) (map[string]rawFile, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", src, unwrapPath(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > LimitTar {
		return nil, fmt.Errorf("%s: not a host bundle tar (a regular file of at most %d MiB)", src, LimitTar>>20)
	}
	out := map[string]rawFile{}
	tr := tar.NewReader(io.LimitReader(f, LimitTar))
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not a complete tar (%v): refused, nothing written; make it again with certificates --bundle", src, err)
		}
		if n >= maxEntries {
			return nil, fmt.Errorf("%s: more than %d entries: not a host bundle", src, maxEntries)
		}
		if err := tarEntry(src, hdr, tr, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tarEntry adds one tar entry to out (a directory is skipped).
func tarEntry(src string, hdr *tar.Header, tr *tar.Reader, out map[string]rawFile) error {
	if hdr.Typeflag == tar.TypeDir && (hdr.Name == "./" || hdr.Name == ".") {
		return nil // GNU tar -C DIR . names the top directory so
	}
	rel, err := cleanRel(src, hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return nil
	case tar.TypeReg:
	case tar.TypeSymlink, tar.TypeLink:
		return fmt.Errorf("%s: entry %s is a link (to %q): a bundle holds regular files only; refused, nothing written", src, rel, hdr.Linkname)
	default:
		return fmt.Errorf("%s: entry %s is not a regular file (tar type %q: a device, FIFO or other special file); refused, nothing written", src, rel, hdr.Typeflag)
	}
	mode := fs.FileMode(hdr.Mode)
	if hdr.Mode&^0o777 != 0 {
		return fmt.Errorf("%s: entry %s has mode %o (set-id or sticky bits): refused, nothing written", src, rel, hdr.Mode)
	}
	if _, dup := out[rel]; dup {
		return fmt.Errorf("%s: entry %s appears twice: refused", src, rel)
	}
	limit := limitFor(rel)
	if hdr.Size > limit {
		return fmt.Errorf("%s: entry %s holds %d bytes, more than the %d a bundle file may: refused unread", src, rel, hdr.Size, limit)
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(tr, data); err != nil {
		return fmt.Errorf("%s: entry %s is cut short (%v): the tar is truncated; refused, nothing written", src, rel, err)
	}
	out[rel] = rawFile{data, mode}
	return nil
}

// limitFor is the size bound of a bundle file: a sasldb may be larger
// than the PEM and text files.
func limitFor(rel string) int64 {
	if strings.HasSuffix(rel, ".db") {
		return fsutil.LimitSASLDB
	}
	return fsutil.LimitConfig
}

// readDir reads a bundle directory's regular files through
// fsutil.ReadFile (no symlink followed, bounded), refusing any other
// kind of entry.
func readDir(src string) (map[string]rawFile, error) {
	out := map[string]rawFile{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if len(out) >= maxEntries {
			return fmt.Errorf("%s: more than %d files: not a host bundle", src, maxEntries)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			return fmt.Errorf("%s: %s is not a plain regular file (%v): a bundle holds regular files only; refused, nothing written", src, rel, fi.Mode())
		}
		data, err := fsutil.ReadFile(p, limitFor(rel))
		if err != nil {
			return err
		}
		out[rel] = rawFile{data, fi.Mode().Perm()}
		return nil
	})
	return out, err
}

// fromManifest turns the entries into Files by the bundle's MANIFEST.tsv:
// every entry must be listed, every listed file present, with the
// manifest's mode.
func (b *Bundle) fromManifest(raw map[string]rawFile) error {
	mrel := manifestRel(b.Layout)
	m, ok := raw[mrel]
	if !ok {
		return fmt.Errorf("%s: no %s: a truncated tar, or not a host bundle of the %s layout (make one with certificates --layout %s --bundle); refused, nothing written", b.Source, mrel, b.Layout.Name, b.Layout.Name)
	}
	rows, err := certs.ParseManifest(b.Source+": "+mrel, m.data)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.Rel] = true
		f, ok := raw[r.Rel]
		switch {
		case !ok:
			return fmt.Errorf("%s: %s is listed in %s but missing: the bundle is incomplete; refused, nothing written", b.Source, r.Rel, mrel)
		case r.Mode&^0o777 != 0:
			return fmt.Errorf("%s: %s: mode %o in %s (set-id or sticky bits): refused", b.Source, r.Rel, r.Mode, mrel)
		case f.mode != r.Mode:
			return fmt.Errorf("%s: %s has mode %04o but %s says %04o: refused", b.Source, r.Rel, f.mode, mrel, r.Mode)
		}
		b.Files = append(b.Files, File{r.Rel, f.data, r.Mode, r.Owner, r.Group})
	}
	for _, rel := range slices.Sorted(maps.Keys(raw)) {
		if !listed[rel] {
			return fmt.Errorf("%s: %s is not listed in %s: refused, nothing written (a bundle holds only the files its manifest names)", b.Source, rel, mrel)
		}
	}
	return nil
}
