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
	"strings"

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

// bundleContents returns the files of a host bundle whose hosts are of
// classes, and the extra files (configuration lines, manifest) to write
// with their contents.
func bundleContents(l layout.Layout, sets []string, classes []credential.HostClass) (files []bundleFile, extra map[string][]byte) {
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
	manifest := path.Join(l.BundleDir, ManifestFile)
	files = append(files, bundleFile{manifest, 0o644, "root", "root"})
	var b strings.Builder
	b.WriteString("# path\tmode\towner\tgroup (libvirt-pki host bundle; tar -xpf HOST.tar -C / sets them)\n")
	for _, f := range files {
		fmt.Fprintf(&b, "/%s\t%04o\t%s\t%s\n", f.rel, f.mode, f.owner, f.group)
	}
	extra[manifest] = []byte(b.String())
	return files, extra
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
		_, extra := bundleContents(p.Opts.Layout, p.Opts.Sets, unitClasses(u.kinds))
		for _, dir := range u.units {
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
	batch := newStage(o.Top, o.Root, o.CADir)
	defer func() { err = batch.finish(err) }()
	for _, u := range p.units {
		files, _ := bundleContents(o.Layout, o.Sets, unitClasses(u.kinds))
		for _, dir := range u.units {
			data, err := tarball(dir.Dir, files)
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

// tarball is a tar of files read below dir, each with its bundle mode,
// owner and group by name (numeric ids 0) and its modification time.
func tarball(dir string, files []bundleFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		full := filepath.Join(dir, filepath.FromSlash(f.rel))
		data, err := fsutil.ReadFile(full, fsutil.LimitConfig)
		if err != nil {
			return nil, readErr(err)
		}
		fi, err := os.Lstat(full)
		if err != nil {
			return nil, readErr(err)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.rel, Mode: int64(f.mode), Size: int64(len(data)),
			Uname: f.owner, Gname: f.group, ModTime: fi.ModTime().Truncate(1e9), Format: tar.FormatUSTAR}
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
