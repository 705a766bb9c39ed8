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
	from := map[string]string{} // where each inventory host is written
	if len(s.Inventories) > 0 {
		if hosts, from, warnings, err = s.inventoryHosts(); err != nil {
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
	var dirOnly []string
	for i, h := range hosts {
		if err := hosts[i].AddDomain(s.Domain); err != nil {
			return nil, warnings, errs.WrapInput(err)
		}
		if layout.ValidateName(h.Name) == nil {
			continue
		}
		if !hosts[i].Usable() {
			return nil, warnings, errs.Inputf("%s%s", where(from[h.Name], s.Group), unusable(h.Name))
		}
		dirOnly = append(dirOnly, h.Name)
	}
	if len(dirOnly) > 0 {
		warnings = append(warnings, dirOnlyNote(dirOnly))
	}
	return hosts, warnings, nil
}

// where names the inventory line of a host ("" for a --host).
func where(from, group string) string {
	if from == "" {
		return "host "
	}
	return fmt.Sprintf("%s: inventory host (group %s) ", from, group)
}

// unusable is why a host with a name that is no DNS name, and no other
// name, can have no certificate, and what gives it one.
func unusable(name string) string {
	return fmt.Sprintf("%q: %v, so it names the host's directory only, and the host has no other name for its certificates: set migration_hostname or ansible_host for it, or give its name with --host %s=NAME",
		name, layout.ValidateName(name), name)
}

// dirOnlyNote says, once, which hosts' inventory names are no DNS names:
// their directories carry them, their certificates their other names.
func dirOnlyNote(names []string) string {
	return fmt.Sprintf("%s: inventory name not a DNS name, so it names the host's directory but is left out of the certificate names, which are the host's migration_hostname, ansible_host, --host NAME=EXTRA names and --domain does not apply to it",
		abbreviate(names))
}

// abbreviate lists the first five names and counts the others.
func abbreviate(names []string) string {
	list := strings.Join(names, ", ")
	if len(names) > 5 {
		list = strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return list
}

// inventoryHosts reads the group's hosts: each named by its inventory
// name, which names its directory, with its SAN names. A group without
// hosts is bad input: certificates for no host, or for this machine,
// are never what an inventory meant.
func (s Selection) inventoryHosts() (hosts []layout.Host, from map[string]string, warnings []string, err error) {
	inv, err := inventory.LoadVault(s.Vault, s.Inventories...)
	if err != nil {
		return nil, nil, nil, errs.WrapInput(err)
	}
	warnings = inv.Warnings()
	entries, err := inv.Hosts(s.Group)
	if err != nil {
		return nil, nil, warnings, errs.WrapInput(err)
	}
	if len(entries) == 0 {
		return nil, nil, warnings, errs.Inputf("inventory group %q has no hosts (nor has any group under it) in %s", s.Group, strings.Join(s.Inventories, ", "))
	}
	var standIn []string
	from = map[string]string{}
	for _, e := range entries {
		// The name names the host's directory: it must be one a
		// directory can carry, a DNS name or not (compute_06).
		if err := layout.ValidateHostName(e.Name); err != nil {
			return nil, nil, warnings, errs.Inputf("%s: inventory host %q (group %s): %v", e.From, e.Name, s.Group, err)
		}
		from[e.Name] = e.From
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
				return nil, nil, warnings, err
			}
			warnings = append(warnings, warns...)
			if !ok && layout.ValidateName(e.Name) == nil {
				standIn = append(standIn, e.Name)
			}
		}
		hosts = append(hosts, h)
	}
	if len(standIn) > 0 {
		warnings = append(warnings, s.standInNote(standIn))
	}
	return hosts, from, warnings, nil
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
	list := abbreviate(names)
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
