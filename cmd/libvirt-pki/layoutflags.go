package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// layoutFlags select a layout, its root and its CA: every command that
// reads or writes credential files embeds them, so the flags mean the
// same everywhere.
type layoutFlags struct {
	ConfigDir  string
	Out        string
	LayoutName string
	CADir      string
	CACert     string
	CAKey      string
	NoWait     bool

	flags *pflag.FlagSet // to tell a flag given empty from one not given
	vault *vaultFlags    // for vaulted Kolla files
}

// Which optional layout flags a command takes.
const (
	withCADir      = 1 << iota // --ca-dir
	withExternalCA             // --ca-cert and --ca-key
	withLock                   // --no-wait: the command writes, under the tree's lock
)

func (f *layoutFlags) register(fl *pflag.FlagSet, with int) {
	f.flags = fl
	f.vault = vaultFlagsOf(fl)
	fl.StringVar(&f.ConfigDir, "config-dir", kolla.DefaultConfigDir, "Kolla config root (node_config); the kolla layout lives in `DIR`/config/nova/nova-libvirt/")
	fl.StringVar(&f.Out, "out", "", "the `DIR` of a --layout libvirt or pkipath tree")
	fl.StringVar(&f.LayoutName, "layout", "kolla", "where files go: kolla, libvirt or pkipath")
	if with&withCADir != 0 {
		fl.StringVar(&f.CADir, "ca-dir", "", "`DIR` keeping the CA made by libvirt-pki (default <config-dir>/certificates/libvirt, or <out>/ca)")
	}
	if with&withExternalCA != 0 {
		fl.StringVar(&f.CACert, "ca-cert", "", "use this existing CA or intermediate certificate `FILE` (chain up to the root appended) instead of the CA directory")
		fl.StringVar(&f.CAKey, "ca-key", "", "private key `FILE` of --ca-cert")
	}
	if with&withLock != 0 {
		fl.BoolVar(&f.NoWait, "no-wait", false, "fail at once, naming its pid, if another run holds the tree's lock (default: wait for it)")
	}
}

// checkEmpty refuses a path flag given as "": it would silently mean the
// working directory (or the default).
func (f *layoutFlags) checkEmpty() error {
	for _, name := range []string{"config-dir", "out", "ca-dir", "ca-cert", "ca-key"} {
		if f.flags == nil || f.flags.Lookup(name) == nil || !f.flags.Changed(name) {
			continue
		}
		if f.flags.Lookup(name).Value.String() == "" {
			return usageErrorf("--%s: empty path", name)
		}
	}
	return nil
}

// top is the tree the command was given, which a writing run locks:
// the config directory for a layout under a Kolla config root, else --out.
func (f *layoutFlags) top(l layout.Layout) (string, error) {
	if l.ConfigRooted {
		return filepath.Abs(f.ConfigDir)
	}
	return filepath.Abs(f.Out)
}

// lockTrees takes the locks of a writing run on root and caDir before it
// reads anything (certs.LockTrees): it waits for another run, saying so
// once on stderr, or with --no-wait fails naming the holder's pid. It
// says what it completed of a killed run.
func (f *layoutFlags) lockTrees(ios *IOStreams, l layout.Layout, root, caDir string) (*certs.Guard, error) {
	top, err := f.top(l)
	if err != nil {
		return nil, err
	}
	opts := fsutil.LockOptions{NoWait: f.NoWait, Waiting: func(msg string) { fmt.Fprintln(ios.ErrOut, "libvirt-pki: "+msg) }}
	g, err := certs.LockTrees(context.Background(), l, top, root, caDir, opts)
	if err != nil {
		return nil, err
	}
	if n := len(g.Recovered); n > 0 {
		fmt.Fprintf(ios.ErrOut, "libvirt-pki: completed the write of an interrupted run (%s)\n", plural(n, "file"))
	}
	return g, nil
}

// roots returns the layout's root and CA directory, made absolute, and for
// the kolla layout the settings of globals.yml, passwords.yml and
// globals.d (node_custom_config and node_config move the root).
func (f *layoutFlags) roots(l layout.Layout) (root, caDir string, k kollaSettings, err error) {
	if err := f.checkEmpty(); err != nil {
		return "", "", k, err
	}
	if l.ConfigRooted { // --out was refused (flagRules)
		if k, err = readKolla(f.ConfigDir, f.vault); err != nil {
			return "", "", k, err
		}
		root, caDir = k.novaLibvirtDir(), kolla.CADir(f.ConfigDir)
	} else {
		if f.Out == "" {
			return "", "", k, usageErrorf("--layout %s needs --out DIR", l.Name)
		}
		root, caDir = f.Out, layout.OutCADir(f.Out)
	}
	if f.CADir != "" {
		caDir = f.CADir
	}
	if root, err = filepath.Abs(root); err != nil {
		return "", "", k, err
	}
	caDir, err = filepath.Abs(caDir)
	return root, caDir, k, err
}
