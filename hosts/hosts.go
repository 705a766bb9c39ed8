// Package hosts decides which compute hosts a command works on, and the
// names clients use for each: the hosts of an Ansible inventory group,
// those named with --host/--hosts (a --host naming an inventory host adds
// its extra names to it), NAME.DOMAIN for each with --domain, and, when
// nothing names a host, this machine (an all-in-one deployment).
//
// The names follow Kolla: nova connects with migration_hostname, whose
// default is the host's ansible_facts.nodename. kolla-ansible passes
// globals.yml, passwords.yml and globals.d/*.yml as extra vars, which win
// over every inventory source, so a migration_hostname (or ansible_host)
// there is every host's. When migration_hostname is set nowhere, the
// nodename cached in Ansible's jsonfile fact cache is added, if there is
// one; else the inventory name stands in for it, and Given says so once.
package hosts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/kolla"
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

	// Vault opens vaulted inventory files and !vault values (nil: none).
	Vault *vault.Keyring
	// Extra are Kolla's extra vars (kolla.Settings.ExtraVars of
	// migration_hostname and ansible_host): they win over the inventory.
	Extra map[string]kolla.Var
	// Facts is Ansible's jsonfile fact cache, nil when none is set up
	// (inventory.FindFactCache).
	Facts *inventory.FactCache
}

// ExtraKeys are the extra vars Given uses: the variables of
// inventory.Entry.SANNames.
var ExtraKeys = []string{"migration_hostname", "ansible_host"}

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
			// Kolla's extra vars are every host's, named here or not.
			names, warns := s.entry(inventory.Entry{Name: fh.Name, Vars: map[string]any{}, Origins: map[string]string{}}).SANNames()
			warnings = append(warnings, warns...)
			for _, n := range names {
				fh.Add(n)
			}
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
// name, which names its directory, with its SAN names. A group without
// hosts is bad input: certificates for no host, or for this machine,
// are never what an inventory meant.
func (s Selection) inventoryHosts() (hosts []layout.Host, warnings []string, err error) {
	inv, err := inventory.LoadVault(s.Vault, s.Inventories...)
	if err != nil {
		return nil, nil, errs.WrapInput(err)
	}
	warnings = inv.Warnings()
	entries, err := inv.Hosts(s.Group)
	if err != nil {
		return nil, warnings, errs.WrapInput(err)
	}
	if len(entries) == 0 {
		return nil, warnings, errs.Inputf("inventory group %q has no hosts (nor has any group under it) in %s", s.Group, strings.Join(s.Inventories, ", "))
	}
	var standIn []string
	for _, e := range entries {
		// The name names the host's directory: it must be a host name.
		if err := layout.ValidateName(e.Name); err != nil {
			return nil, warnings, errs.Inputf("%s: inventory host %q (group %s): %v", e.From, e.Name, s.Group, err)
		}
		e = s.entry(e)
		names, warns := e.SANNames()
		warnings = append(warnings, warns...)
		h := layout.Host{Name: e.Name}
		for _, n := range names {
			h.Add(n)
		}
		if _, set := e.Vars["migration_hostname"]; !set {
			ok, warns, err := s.addNodename(&h)
			if err != nil {
				return nil, warnings, err
			}
			warnings = append(warnings, warns...)
			if !ok {
				standIn = append(standIn, e.Name)
			}
		}
		hosts = append(hosts, h)
	}
	if len(standIn) > 0 {
		warnings = append(warnings, s.standInNote(standIn))
	}
	return hosts, warnings, nil
}

// entry lays Kolla's extra vars over an inventory host's variables.
func (s Selection) entry(e inventory.Entry) inventory.Entry {
	for k, v := range s.Extra {
		e.Vars[k], e.Origins[k] = v.Value, v.From
	}
	return e
}

// addNodename adds the nodename the fact cache holds for h (Kolla's
// default migration_hostname); ok is false when there is none.
func (s Selection) addNodename(h *layout.Host) (ok bool, warnings []string, err error) {
	if s.Facts == nil {
		return false, nil, nil
	}
	n, err := s.Facts.Nodename(h.Name, time.Now())
	if err != nil {
		return false, nil, errs.WrapInput(err)
	}
	if n == "" {
		return false, nil, nil
	}
	if err := layout.ValidateName(n); err != nil {
		return false, []string{fmt.Sprintf("host %s: the nodename %q in the fact cache %s is not a host name (%v); left out of the certificate names", h.Name, n, s.Facts.Dir, err)}, nil
	}
	h.Add(n)
	return true, nil, nil
}

// standInNote says, once, which hosts have no migration_hostname and no
// cached nodename, so their inventory name stands in for the nodename.
func (s Selection) standInNote(names []string) string {
	list := strings.Join(names, ", ")
	if len(names) > 5 {
		list = strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	why := "no jsonfile fact cache is configured (ansible.cfg fact_caching = jsonfile, fact_caching_connection = DIR)"
	if s.Facts != nil {
		why = "the fact cache " + s.Facts.Dir + " holds no nodename for them (run: ansible -m setup compute)"
	}
	return fmt.Sprintf("%s: no migration_hostname, so Kolla uses ansible_facts.nodename, and %s: the inventory name stands in for it", list, why)
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
