// Package hosts decides which compute hosts a command works on, and the
// names clients use for each: the hosts of an Ansible inventory group,
// those named with --host/--hosts (a --host naming an inventory host adds
// its extra names to it), NAME.DOMAIN for each with --domain, and, when
// nothing names a host, this machine (an all-in-one deployment).
package hosts

import (
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
)

// DefaultGroup is Kolla's inventory group of the compute hosts.
const DefaultGroup = "compute"

// Selection is how the user names the hosts.
type Selection struct {
	Specs       []string // --host NAME[=EXTRA,...]
	Lists       []string // --hosts a,b,c
	Domain      string   // --domain: add NAME.DOMAIN to each host's names
	Inventories []string // --inventory FILE or directory, like ansible's -i
	Group       string   // the inventory group of the compute hosts
}

// Given returns the hosts of the inventories' group, then those named on
// the command line (possibly none), and the inventories' warnings (Jinja
// values left out, ...). Bad input is an errs.Input.
func (s Selection) Given() (hosts []layout.Host, warnings []string, err error) {
	if len(s.Inventories) > 0 {
		if hosts, warnings, err = s.inventoryHosts(); err != nil {
			return nil, warnings, err
		}
	}
	flagHosts, err := layout.ParseHosts(s.Specs, s.Lists, "")
	if err != nil {
		return nil, warnings, errs.WrapInput(err)
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
		if err := hosts[i].AddDomain(s.Domain); err != nil {
			return nil, warnings, errs.WrapInput(err)
		}
	}
	return hosts, warnings, nil
}

// inventoryHosts reads the group's hosts: each named by its inventory
// name, which names its directory, with its SAN names.
func (s Selection) inventoryHosts() (hosts []layout.Host, warnings []string, err error) {
	inv, err := inventory.Load(s.Inventories...)
	if err != nil {
		return nil, nil, errs.WrapInput(err)
	}
	warnings = inv.Warnings()
	entries, err := inv.Hosts(s.Group)
	if err != nil {
		return nil, warnings, errs.WrapInput(err)
	}
	for _, e := range entries {
		// The name names the host's directory: it must be a host name.
		if err := layout.ValidateName(e.Name); err != nil {
			return nil, warnings, errs.Inputf("%s: inventory host %q (group %s): %v", e.From, e.Name, s.Group, err)
		}
		names, warns := e.SANNames()
		warnings = append(warnings, warns...)
		h := layout.Host{Name: e.Name}
		for _, n := range names {
			h.Add(n)
		}
		hosts = append(hosts, h)
	}
	return hosts, warnings, nil
}

// Resolve returns the hosts given, or this machine when none is; allInOne
// reports the latter.
func (s Selection) Resolve() (hosts []layout.Host, allInOne bool, warnings []string, err error) {
	if hosts, warnings, err = s.Given(); err != nil || len(hosts) > 0 {
		return hosts, false, warnings, err
	}
	h, err := layout.ThisMachine()
	if err != nil {
		return nil, false, warnings, err
	}
	if err := h.AddDomain(s.Domain); err != nil {
		return nil, false, warnings, errs.WrapInput(err)
	}
	return []layout.Host{h}, true, warnings, nil
}
