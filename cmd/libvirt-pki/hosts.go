package main

import (
	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// hostFlags are the host-selection flags every command that takes hosts
// shares.
type hostFlags struct {
	Specs  []string // --host NAME[=EXTRA,...]
	Lists  []string // --hosts a,b,c
	Domain string
}

func (f *hostFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	// StringArray, not StringSlice: a --host value's commas separate its
	// extra names and must not split the flag.
	fl.StringArrayVar(&f.Specs, "host", nil, "compute host `NAME[=EXTRA,...]`: inventory name, then extra DNS names or IPs clients use for it (repeatable)")
	fl.StringArrayVar(&f.Lists, "hosts", nil, "comma-separated compute host `NAMES`")
	fl.StringVar(&f.Domain, "domain", "", "add NAME.`DOMAIN` to each host's names")
}

// given returns the hosts named on the command line (possibly none).
func (f *hostFlags) given() ([]layout.Host, error) {
	hosts, err := layout.ParseHosts(f.Specs, f.Lists, f.Domain)
	if err != nil {
		return nil, usageError{err}
	}
	return hosts, nil
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
