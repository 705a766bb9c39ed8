package main

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/hosts"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// ProxyGroup is Kolla's inventory group of the console proxy hosts.
const ProxyGroup = "nova-novncproxy"

// setsFlags choose the credential sets and the console proxy hosts.
type setsFlags struct {
	List       string   // --sets
	ProxyHosts []string // --proxy-host NAME[=EXTRA,...]
	flags      *pflag.FlagSet
}

func (f *setsFlags) register(fl *pflag.FlagSet) {
	f.flags = fl
	fl.StringVar(&f.List, "sets", credential.DefaultSet, "credential `SETS` to make, a comma list of "+strings.Join(credential.SetNames(), ", ")+" (globals.yml adds spice with nova_spice_require_secure)")
	fl.StringArrayVar(&f.ProxyHosts, "proxy-host", nil, "console proxy host `NAME[=EXTRA,...]` for the novncproxy set (repeatable; default: the inventory's "+ProxyGroup+" group)")
}

// sets returns the sets chosen: --sets, or the default with what Kolla's
// settings add (fromKolla) when --sets is not given.
func (f *setsFlags) sets(fromKolla []string) ([]string, error) {
	sets, err := credential.ParseSets(f.List)
	if err != nil {
		return nil, usageError{err}
	}
	if f.flags == nil || !f.flags.Changed("sets") {
		sets = credential.Ordered(append(sets, fromKolla...))
	}
	return sets, nil
}

// checked returns the sets a checking command was asked for: --sets,
// or nil (what the tree holds) when it was not given.
func (f *setsFlags) checked() ([]string, error) {
	if f.flags == nil || !f.flags.Changed("sets") {
		return nil, nil
	}
	return f.sets(nil)
}

// proxies returns the console proxy hosts when a set is for them:
// --proxy-host (each in the inventory, when one is given), else the
// inventory's nova-novncproxy group.
func (f *setsFlags) proxies(sel hosts.Selection, sets []string) ([]layout.Host, error) {
	if !slices.Contains(sets, credential.ProxyClient.Set) {
		if len(f.ProxyHosts) > 0 {
			return nil, usageErrorf("--proxy-host: no selected set is for console proxy hosts (add %s to --sets)", credential.ProxyClient.Set)
		}
		return nil, nil
	}
	sel.Specs, sel.Lists = nil, nil
	if len(f.ProxyHosts) == 0 {
		if len(sel.Inventories) == 0 {
			return nil, nil // the engine says what is missing
		}
		sel.Group = ProxyGroup
		hs, _, err := sel.Given()
		return hs, err
	}
	given, err := layout.ParseHosts(f.ProxyHosts, nil, sel.Domain)
	if err != nil {
		return nil, errs.Inputf("--proxy-host: %v", err)
	}
	if len(sel.Inventories) == 0 {
		return given, usableProxies(given)
	}
	sel.Group = "all"
	known, _, err := sel.Given()
	if err != nil {
		return nil, err
	}
	for i, g := range given {
		j := slices.IndexFunc(known, func(h layout.Host) bool { return strings.EqualFold(h.Name, g.Name) })
		if j < 0 {
			return nil, errs.Inputf("--proxy-host %s: no such host in the inventory %s", g.Name, strings.Join(sel.Inventories, ", "))
		}
		for _, n := range known[j].Names() {
			given[i].Add(n)
		}
	}
	return given, usableProxies(given)
}

// usableProxies refuses a proxy host without a name its certificate can
// carry (an inventory name such as proxy_1, and no other).
func usableProxies(given []layout.Host) error {
	for _, h := range given {
		if !h.Usable() {
			return errs.Inputf("--proxy-host %s: not a DNS name, and the host has no other name for its certificate: give one with --proxy-host %s=NAME, or set ansible_host for it", h.Name, h.Name)
		}
	}
	return nil
}
