package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
)

// hostFlags are the host-selection flags every command that takes hosts
// shares.
type hostFlags struct {
	Specs       []string // --host NAME[=EXTRA,...]
	Lists       []string // --hosts a,b,c
	Domain      string
	Inventories []string // --inventory FILE, like ansible's -i
	Group       string

	// warnings from the inventory (Jinja values left out, ...).
	warnings []string
}

func (f *hostFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	// StringArray, not StringSlice: a --host value's commas separate its
	// extra names and must not split the flag.
	fl.StringArrayVar(&f.Specs, "host", nil, "compute host `NAME[=EXTRA,...]`: inventory name, then extra DNS names or IPs clients use for it (repeatable)")
	fl.StringArrayVar(&f.Lists, "hosts", nil, "comma-separated compute host `NAMES`")
	fl.StringVar(&f.Domain, "domain", "", "add NAME.`DOMAIN` to each host's names")
	fl.StringArrayVarP(&f.Inventories, "inventory", "i", nil, "Ansible inventory `FILE` or directory (repeatable): hosts of --group, with migration_hostname and ansible_host as extra names")
	fl.StringVar(&f.Group, "group", "compute", "inventory `GROUP` of the compute hosts")
}

// given returns the hosts of the inventories' group, then those named on
// the command line (possibly none). A --host naming an inventory host adds
// its extra names to that host.
func (f *hostFlags) given() ([]layout.Host, error) {
	var hosts []layout.Host
	if len(f.Inventories) > 0 {
		inv, err := inventory.Load(f.Inventories...)
		if err != nil {
			return nil, usageError{err}
		}
		f.warnings = append(f.warnings, inv.Warnings()...)
		ihosts, err := inv.Hosts(f.Group)
		if err != nil {
			return nil, usageError{err}
		}
		for _, ih := range ihosts {
			names, warnings := ih.SANNames()
			f.warnings = append(f.warnings, warnings...)
			h := layout.Host{Name: ih.Name}
			for _, n := range names {
				h.Add(n)
			}
			hosts = append(hosts, h)
		}
	}
	flagHosts, err := layout.ParseHosts(f.Specs, f.Lists, "")
	if err != nil {
		return nil, usageError{err}
	}
	for _, fh := range flagHosts {
		i := slices.IndexFunc(hosts, func(h layout.Host) bool { return strings.EqualFold(h.Name, fh.Name) })
		if i < 0 {
			hosts = append(hosts, fh)
			continue
		}
		for _, n := range fh.Names() {
			hosts[i].Add(n)
		}
	}
	for i := range hosts {
		if err := hosts[i].AddDomain(f.Domain); err != nil {
			return nil, usageError{err}
		}
	}
	return hosts, nil
}

// printWarnings writes the inventory's warnings.
func (f *hostFlags) printWarnings(w io.Writer) {
	for _, warn := range f.warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
}

// resolve returns the hosts given, or this machine (all-in-one) when none
// was. allInOne reports the latter.
func (f *hostFlags) resolve() (hosts []layout.Host, allInOne bool, err error) {
	if hosts, err = f.given(); err != nil {
		return nil, false, err
	}
	if len(hosts) > 0 {
		return hosts, false, nil
	}
	h, err := layout.ThisMachine()
	if err != nil {
		return nil, false, err
	}
	if err := h.AddDomain(f.Domain); err != nil {
		return nil, false, usageError{err}
	}
	return []layout.Host{h}, true, nil
}
