package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/hosts"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// hostFlags are the host-selection flags every command that takes hosts
// shares; package hosts does the selecting.
type hostFlags struct {
	hosts.Selection

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
	fl.StringVar(&f.Group, "group", hosts.DefaultGroup, "inventory `GROUP` of the compute hosts")
}

// given returns the hosts of the inventories' group, then those named on
// the command line (possibly none).
func (f *hostFlags) given() ([]layout.Host, error) {
	hs, warnings, err := f.Given()
	f.warnings = append(f.warnings, warnings...)
	return hs, err
}

// resolve returns the hosts given, or this machine (all-in-one) when none
// was. allInOne reports the latter.
func (f *hostFlags) resolve() (hs []layout.Host, allInOne bool, err error) {
	hs, allInOne, warnings, err := f.Resolve()
	f.warnings = append(f.warnings, warnings...)
	return hs, allInOne, err
}

// printWarnings writes the inventory's warnings.
func (f *hostFlags) printWarnings(w io.Writer) {
	for _, warn := range f.warnings {
		io.WriteString(w, "warning: "+warn+"\n")
	}
}
