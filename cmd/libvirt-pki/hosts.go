package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/hosts"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
)

// hostFlags are the host-selection flags every command that takes hosts
// shares; package hosts does the selecting, with the vault passwords, the
// extra vars of Kolla's config root and Ansible's fact cache.
type hostFlags struct {
	hosts.Selection

	// warnings from the inventory (Jinja values left out, ...).
	warnings []string
	flags    *pflag.FlagSet // the command's, for --config-dir and --layout
	vault    *vaultFlags
}

func (f *hostFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.flags, f.vault = fl, vaultFlagsOf(fl)
	// StringArray, not StringSlice: a --host value's commas separate its
	// extra names and must not split the flag.
	fl.StringArrayVar(&f.Specs, "host", nil, "compute host `NAME[=EXTRA,...]`: inventory name, then extra DNS names or IPs clients use for it (repeatable)")
	fl.StringArrayVar(&f.Lists, "hosts", nil, "comma-separated compute host `NAMES`")
	fl.StringVar(&f.Domain, "domain", "", "add NAME.`DOMAIN` to each host's names")
	fl.StringArrayVarP(&f.Inventories, "inventory", "i", nil, "Ansible inventory `FILE` or directory (repeatable): hosts of --group, with migration_hostname and ansible_host as extra names")
	fl.StringVar(&f.Group, "group", hosts.DefaultGroup, "inventory `GROUP` of the compute hosts")
}

// given returns the hosts of the inventories' group, then those named on
// the command line (possibly none).
func (f *hostFlags) given() ([]layout.Host, error) {
	if err := f.prepare(); err != nil {
		return nil, err
	}
	hs, warnings, err := f.Given()
	f.warnings = append(f.warnings, warnings...)
	return hs, err
}

// resolve returns the hosts given, or this machine (all-in-one) when none
// was. allInOne reports the latter.
func (f *hostFlags) resolve() (hs []layout.Host, allInOne bool, err error) {
	if err := f.prepare(); err != nil {
		return nil, false, err
	}
	hs, allInOne, warnings, err := f.Resolve()
	f.warnings = append(f.warnings, warnings...)
	return hs, allInOne, err
}

// prepare gives the selection what Kolla's names depend on: the vault
// passwords, Kolla's extra vars (for a Kolla layout, or when
// --config-dir is given) and, with an inventory, Ansible's fact cache.
func (f *hostFlags) prepare() error {
	if f.flags == nil { // a runX called directly: the selection as set
		return nil
	}
	ring, err := f.vault.keyring()
	if err != nil {
		return err
	}
	f.Vault = ring
	for _, w := range ring.Warnings {
		f.warnings = append(f.warnings, w.Error())
	}
	if dir, ok := f.kollaDir(); ok {
		k, err := kolla.ReadVault(dir, ring)
		if err != nil {
			return err
		}
		if f.Extra, err = k.ExtraVars(hosts.ExtraKeys...); err != nil {
			return err
		}
	}
	if len(f.Inventories) > 0 {
		if f.Facts, err = inventory.FindFactCache(nil); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// kollaDir is the Kolla config root whose extra vars apply to the hosts:
// --config-dir, when the layout is Kolla's (or the command has no
// --layout, as sasl) or --config-dir was given.
func (f *hostFlags) kollaDir() (string, bool) {
	cd := f.flags.Lookup("config-dir")
	if cd == nil {
		return "", false
	}
	if lf := f.flags.Lookup("layout"); lf != nil && !cd.Changed {
		if l, err := layout.ByName(lf.Value.String()); err != nil || !l.ConfigRooted {
			return "", false
		}
	}
	return cd.Value.String(), cd.Value.String() != ""
}

// printWarnings writes the inventory's warnings.
func (f *hostFlags) printWarnings(w io.Writer) {
	for _, warn := range f.warnings {
		io.WriteString(w, "warning: "+warn+"\n")
	}
}
