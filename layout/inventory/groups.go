package inventory

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

func (inv *Inventory) ensureGroup(name string) *group {
	g, ok := inv.groups[name]
	if !ok {
		g = &group{name: name, vars: map[string]val{}, hostSet: map[string]bool{}, priority: 1}
		inv.groups[name] = g
		inv.groupList = append(inv.groupList, name)
	}
	return g
}

// addHost puts host name in a group; where is "file:line" of the entry.
func (inv *Inventory) addHost(name, groupName, where string) *host {
	h, ok := inv.hosts[name]
	if !ok {
		h = &host{name: name, vars: map[string]val{}, from: where}
		inv.hosts[name] = h
		inv.hostList = append(inv.hostList, name)
	}
	g := inv.ensureGroup(groupName)
	if !g.hostSet[name] {
		g.hostSet[name] = true
		g.hosts = append(g.hosts, name)
	}
	return h
}

// setGroupVar sets an inventory group variable; ansible_group_priority
// also sets the group's priority, as Ansible's Group.set_variable does.
func (inv *Inventory) setGroupVar(g *group, k string, v any, where string) error {
	if k == "ansible_group_priority" {
		p, err := toInt(v)
		if err != nil {
			return fmt.Errorf("%s: ansible_group_priority of group %q: %v", where, g.name, err)
		}
		g.priority = p
	}
	g.vars[k] = val{v, where}
	return nil
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case float64:
		return int(x), nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// ancestors returns every group above g (not g itself).
func (inv *Inventory) ancestors(name string) map[string]bool {
	seen := map[string]bool{}
	stack := slices.Clone(inv.groups[name].parents)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] {
			continue
		}
		seen[p] = true
		stack = append(stack, inv.groups[p].parents...)
	}
	return seen
}

// addChild makes child a child group of parent, refusing loops: Ansible
// refuses them too, and a loop would make "children expanded recursively"
// endless. where is "file:line" of the entry that asked for it.
func (inv *Inventory) addChild(parent, child, where string) error {
	if parent == child {
		return fmt.Errorf("%s: group %q lists itself as a child", where, parent)
	}
	p, c := inv.ensureGroup(parent), inv.ensureGroup(child)
	if slices.Contains(p.children, child) {
		return nil
	}
	if child == "all" || inv.ancestors(parent)[child] {
		return fmt.Errorf("%s: making %q a child of %q creates a cycle (%s)", where, child, parent, inv.cyclePath(parent, child))
	}
	p.children = append(p.children, child)
	c.parents = append(c.parents, parent)
	return nil
}

// cyclePath describes the loop child > ... > parent > child for messages.
func (inv *Inventory) cyclePath(parent, child string) string {
	// Find a path from child down to parent through children links.
	var path []string
	var walk func(g string, seen map[string]bool) bool
	walk = func(g string, seen map[string]bool) bool {
		path = append(path, g)
		if g == parent {
			return true
		}
		seen[g] = true
		for _, c := range inv.groups[g].children {
			if !seen[c] && walk(c, seen) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if child == "all" || !walk(child, map[string]bool{}) {
		return child + " is above " + parent
	}
	return strings.Join(append(path, child), " > ")
}

// reconcile applies Ansible's inventory rules once everything is parsed:
// every group without a parent is a child of "all", and a host in no group
// but "all" is in "ungrouped" (and only such hosts are).
func (inv *Inventory) reconcile() {
	for _, name := range inv.groupList {
		g := inv.groups[name]
		if name != "all" && len(g.parents) == 0 {
			inv.groups["all"].children = append(inv.groups["all"].children, name)
			g.parents = append(g.parents, "all")
		}
	}
	inGroup := map[string]bool{}
	for _, name := range inv.groupList {
		if name == "all" || name == "ungrouped" {
			continue
		}
		for _, h := range inv.groups[name].hosts {
			inGroup[h] = true
		}
	}
	ug := inv.groups["ungrouped"]
	ug.hosts, ug.hostSet = nil, map[string]bool{}
	for _, h := range inv.hostList {
		if !inGroup[h] {
			ug.hosts = append(ug.hosts, h)
			ug.hostSet[h] = true
		}
	}
	// The graph is final: index it for Hosts.
	inv.hostDirect = map[string][]string{}
	inv.ancCache = map[string]map[string]bool{}
	inv.depthMemo = map[string]int{}
	for _, name := range inv.groupList {
		for _, h := range inv.groups[name].hosts {
			inv.hostDirect[h] = append(inv.hostDirect[h], name)
		}
		inv.ancCache[name] = inv.ancestors(name)
	}
	// Depths too, so Hosts only reads and may run concurrently.
	for _, name := range inv.groupList {
		inv.depth(name, inv.depthMemo)
	}
}
