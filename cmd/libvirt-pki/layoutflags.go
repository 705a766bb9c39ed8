package main

import (
	"path/filepath"

	"github.com/spf13/pflag"

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
}

// Which optional layout flags a command takes.
const (
	withCADir      = 1 << iota // --ca-dir
	withExternalCA             // --ca-cert and --ca-key
)

func (f *layoutFlags) register(fl *pflag.FlagSet, with int) {
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
}

// roots returns the layout's root and CA directory, made absolute, and for
// the kolla layout the settings of globals.yml (node_custom_config moves
// the root).
func (f *layoutFlags) roots(l layout.Layout) (root, caDir string, k kollaSettings, err error) {
	if l.ConfigRooted {
		if f.Out != "" {
			return "", "", k, usageErrorf("--out is for --layout libvirt and pkipath; the kolla layout lives under --config-dir")
		}
		if k, err = readKolla(f.ConfigDir); err != nil {
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
