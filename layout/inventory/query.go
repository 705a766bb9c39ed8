package inventory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// depth is the longest path from "all" down to the group, as Ansible's
// Group.depth.
func (inv *Inventory) depth(name string, memo map[string]int) int {
	if name == "all" {
		return 0
	}
	if d, ok := memo[name]; ok {
		return d
	}
	memo[name] = 0 // loops are refused by addChild; this only guards recursion
	d := 0
	for _, p := range inv.groups[name].parents {
		d = max(d, inv.depth(p, memo)+1)
	}
	memo[name] = d
	return d
}

// hostGroups returns the groups holding h directly or through children,
// without "all", sorted as Ansible merges their variables.
func (inv *Inventory) hostGroups(h string) []string {
	set := map[string]bool{}
	var out []string
	add := func(g string) {
		if !set[g] && g != "all" {
			set[g] = true
			out = append(out, g)
		}
	}
	for _, name := range inv.hostDirect[h] {
		add(name)
		for a := range inv.ancCache[name] {
			add(a)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		ga, gb := inv.groups[a], inv.groups[b]
		if d := inv.depth(a, inv.depthMemo) - inv.depth(b, inv.depthMemo); d != 0 {
			return d
		}
		if d := ga.priority - gb.priority; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// Groups returns every group name, in order of first appearance ("all" and
// "ungrouped" first).
func (inv *Inventory) Groups() []string { return slices.Clone(inv.groupList) }

// Children returns the direct child groups of the named group, in the order the
// inventory lists them.
func (inv *Inventory) Children(name string) ([]string, error) {
	g, ok := inv.groups[name]
	if !ok {
		return nil, inv.noGroup(name)
	}
	return slices.Clone(g.children), nil
}

// Files returns the inventory files parsed, in the order read.
func (inv *Inventory) Files() []string { return slices.Clone(inv.files) }

// Warnings returns what Load skipped without failing (for example a
// vault-encrypted var file, or a var file hidden by another of the same
// name, as Ansible hides it).
func (inv *Inventory) Warnings() []string { return slices.Clone(inv.warnings) }

func (inv *Inventory) noGroup(name string) error {
	return fmt.Errorf("inventory: no group %q in %s", name, strings.Join(inv.sources, ", "))
}

// Hosts returns the hosts in the named group, child groups expanded recursively, in
// order of their first appearance in the inventory sources and each once,
// with their merged variables (see the package comment for the
// precedence). An unknown group is an error naming it and the sources.
// The inline !vault values of the variables SANNames reads are decrypted
// (an error names the file and line when no password opens one); other
// !vault values stay Vaulted.
func (inv *Inventory) Hosts(name string) ([]Entry, error) {
	g, ok := inv.groups[name]
	if !ok {
		return nil, inv.noGroup(name)
	}
	members := map[string]bool{}
	seen := map[string]bool{}
	var walk func(*group)
	walk = func(g *group) {
		if seen[g.name] {
			return
		}
		seen[g.name] = true
		for _, h := range g.hosts {
			members[h] = true
		}
		for _, c := range g.children {
			walk(inv.groups[c])
		}
	}
	walk(g)
	var out []Entry
	for _, name := range inv.hostList {
		if !members[name] {
			continue
		}
		e := inv.merge(name)
		if err := e.reveal(inv.ring, sanVars); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// reveal decrypts the inline !vault values of keys in h.Vars, which are
// needed; Ansible too decrypts a value only once it is used.
func (h *Entry) reveal(ring *vault.Keyring, keys []string) error {
	for _, k := range keys {
		v, err := Reveal(ring, h.Origins[k], h.Vars[k])
		if err != nil {
			return fmt.Errorf("host %s: %s: %w", h.Name, k, err)
		}
		if v != nil {
			h.Vars[k] = v
		}
	}
	return nil
}

// merge computes one host's variables; see the package comment.
func (inv *Inventory) merge(name string) Entry {
	h := Entry{Name: name, From: inv.hosts[name].from, Vars: map[string]any{}, Origins: map[string]string{}}
	put := func(vars map[string]val) {
		for k, v := range vars {
			h.Vars[k] = v.v
			h.Origins[k] = v.from
		}
	}
	groups := inv.hostGroups(name)
	h.Groups = append([]string{"all"}, groups...)
	put(inv.groups["all"].vars)
	for _, g := range groups {
		put(inv.groups[g].vars)
	}
	for _, dir := range inv.varDirs {
		for _, f := range inv.varCache[inv.cacheKey("group_vars", dir, "all")] {
			put(f.vars)
		}
	}
	for _, dir := range inv.varDirs {
		for _, g := range groups {
			for _, f := range inv.varCache[inv.cacheKey("group_vars", dir, g)] {
				put(f.vars)
			}
		}
	}
	put(inv.hosts[name].vars)
	for _, dir := range inv.varDirs {
		for _, f := range inv.varCache[inv.cacheKey("host_vars", dir, name)] {
			put(f.vars)
		}
	}
	return h
}
