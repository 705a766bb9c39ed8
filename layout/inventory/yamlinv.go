package inventory

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// parseYAMLInventory reads Ansible's YAML inventory form:
//
//	all:
//	  hosts: {h1: {var: value}, "compute[01:03]": null}
//	  vars: {...}
//	  children:
//	    compute: {hosts: ..., children: ..., vars: ...}
//
// Any top-level key is a group (usually only "all"). Where Ansible only
// warns about a malformed section and skips it, this refuses it: a
// silently skipped host would get no certificate.
func (inv *Inventory) parseYAMLInventory(path string, doc *yaml.Node) error {
	if doc == nil {
		return nil // empty file: no hosts, as Ansible
	}
	return eachPair(doc, 0, func(k string, kn, vn *yaml.Node) error {
		if k == "plugin" {
			return fmt.Errorf("%s:%d: this is the configuration of an inventory plugin, which libvirt-pki cannot run; give the output of ansible-inventory -i %s --list --yaml instead", path, kn.Line, path)
		}
		return inv.yamlGroup(path, k, kn, vn, 0)
	})
}

func (inv *Inventory) yamlGroup(path, name string, kn, n *yaml.Node, depth int) error {
	if depth > 100 {
		return fmt.Errorf("%s:%d: groups nested too deep", path, kn.Line)
	}
	g := inv.ensureGroup(name)
	n = resolveAlias(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: group %q must be a mapping (with hosts, children, vars), got %s", path, n.Line, name, kindName(n))
	}
	err := eachPair(n, depth, func(k string, skn, sn *yaml.Node) error {
		sn = resolveAlias(sn)
		switch k {
		case "vars":
			vars, err := varsFromMapping(path, sn, fmt.Sprintf("vars of group %q", name))
			if err != nil {
				return err
			}
			// Apply in file order so ansible_group_priority errors point
			// at a stable place.
			return eachPairIfMap(sn, func(vk string) error {
				v := vars[vk]
				return inv.setGroupVar(g, vk, v.v, v.from)
			})
		case "children", "hosts":
			if isNull(sn) {
				return nil
			}
			if sn.Kind == yaml.ScalarNode && sn.Tag == "!!str" {
				// Ansible accepts a single name as a string.
				return inv.yamlEntry(path, name, k, sn.Value, sn, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, depth)
			}
			if sn.Kind != yaml.MappingNode {
				return fmt.Errorf("%s:%d: %s of group %q must be a mapping, got %s", path, sn.Line, k, name, kindName(sn))
			}
			return eachPair(sn, depth+1, func(ek string, ekn, evn *yaml.Node) error {
				return inv.yamlEntry(path, name, k, ek, ekn, evn, depth)
			})
		default:
			inv.warnings = append(inv.warnings, fmt.Sprintf("%s:%d: unexpected key %q in group %q skipped (only hosts, children and vars are valid)", path, skn.Line, k, name))
			return nil
		}
	})
	if err != nil {
		return prefixLine(path, err)
	}
	return nil
}

func eachPairIfMap(n *yaml.Node, fn func(k string) error) error {
	if isNull(n) || n.Kind != yaml.MappingNode {
		return nil
	}
	return eachPair(n, 0, func(k string, _, _ *yaml.Node) error { return fn(k) })
}

// yamlEntry handles one entry of a group's children or hosts mapping.
func (inv *Inventory) yamlEntry(path, groupName, section, key string, kn, vn *yaml.Node, depth int) error {
	where := fmt.Sprintf("%s:%d", path, kn.Line)
	if section == "children" {
		// Link before descending, so a loop is reported at its innermost
		// entry.
		if err := inv.addChild(groupName, key, where); err != nil {
			return err
		}
		return inv.yamlGroup(path, key, kn, vn, depth+1)
	}
	names, port, err := expandHostPattern(key)
	if err != nil {
		return fmt.Errorf("%s: %v", where, err)
	}
	vars, err := varsFromMapping(path, vn, fmt.Sprintf("vars of host %q", key))
	if err != nil {
		return err
	}
	for _, hn := range names {
		h := inv.addHost(hn, groupName, where)
		if port >= 0 {
			h.vars["ansible_port"] = val{port, where}
		}
		for k, v := range vars {
			h.vars[k] = v
		}
	}
	return nil
}
