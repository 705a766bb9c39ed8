package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Globals is what libvirt-pki needs from Kolla Ansible's globals.yml. A
// nil pointer or an empty value means the file does not set the key (or
// sets it to a Jinja expression, which is not evaluated), so Kolla's
// default applies.
type Globals struct {
	LibvirtTLS                 *bool // libvirt_tls
	LibvirtEnableSASL          *bool // libvirt_enable_sasl
	EnableNovaLibvirtContainer *bool // enable_nova_libvirt_container
	LibvirtTLSManageCerts      *bool // libvirt_tls_manage_certs

	LibvirtSASLAuthname string   // libvirt_sasl_authname
	LibvirtSASLMechList []string // libvirt_sasl_mech_list (a list, or a string of names separated by spaces or commas)
	NodeCustomConfig    string   // node_custom_config

	// Set tells which of the keys above the file sets, by their YAML name.
	Set map[string]bool
	// File is the file read ("" when there was none).
	File string
}

// GlobalsKeys are the globals.yml keys ReadGlobals reads.
var GlobalsKeys = []string{
	"libvirt_tls", "libvirt_enable_sasl", "enable_nova_libvirt_container", "libvirt_tls_manage_certs",
	"libvirt_sasl_authname", "libvirt_sasl_mech_list", "node_custom_config",
}

// ReadGlobals reads Kolla's globals.yml: path is its directory (such as
// /etc/kolla, then DIR/globals.yml is read) or the file itself. A missing
// file gives a zero Globals and no error. Keys whose value is a Jinja
// expression, or empty, are reported in warnings and treated as unset.
// Booleans are Ansible's: yes/no, true/false, on/off (any case, quoted or
// not, as Kolla's "| bool" reads them), also y/n, t/f and 1/0; anything
// else is an error, since guessing would pick the wrong credentials.
func ReadGlobals(path string) (Globals, []string, error) {
	var g Globals
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "globals.yml")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil, nil
	}
	if err != nil {
		return g, nil, fmt.Errorf("globals: %v", err)
	}
	g.File = path
	g.Set = map[string]bool{}
	if isVault(data) {
		return g, nil, fmt.Errorf("%s: vault-encrypted; libvirt-pki needs it readable", path)
	}
	doc, err := parseYAMLDoc(path, data)
	if err != nil || doc == nil {
		return g, nil, err
	}
	if doc.Kind != yaml.MappingNode {
		return g, nil, fmt.Errorf("%s:%d: globals.yml must be a mapping of variables, got %s", path, doc.Line, kindName(doc))
	}
	// The last occurrence of a key wins, as with PyYAML.
	nodes := map[string][2]*yaml.Node{}
	err = eachPair(doc, 0, func(k string, kn, vn *yaml.Node) error {
		nodes[k] = [2]*yaml.Node{kn, resolveAlias(vn)}
		return nil
	})
	if err != nil {
		return g, nil, prefixLine(path, err)
	}
	var warnings []string
	for _, key := range GlobalsKeys {
		kv, ok := nodes[key]
		if !ok {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, kv[0].Line)
		n := kv[1]
		if isNull(n) {
			warnings = append(warnings, fmt.Sprintf("%s: %s is empty; treated as unset", where, key))
			continue
		}
		if jinja := nodeJinja(n); jinja != "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s is a Jinja expression (%q), which libvirt-pki does not evaluate; treated as unset", where, key, jinja))
			continue
		}
		switch key {
		case "libvirt_tls", "libvirt_enable_sasl", "enable_nova_libvirt_container", "libvirt_tls_manage_certs":
			b, err := ansibleBool(n)
			if err != nil {
				return Globals{}, warnings, fmt.Errorf("%s: %s: %v", where, key, err)
			}
			switch key {
			case "libvirt_tls":
				g.LibvirtTLS = &b
			case "libvirt_enable_sasl":
				g.LibvirtEnableSASL = &b
			case "enable_nova_libvirt_container":
				g.EnableNovaLibvirtContainer = &b
			case "libvirt_tls_manage_certs":
				g.LibvirtTLSManageCerts = &b
			}
		case "libvirt_sasl_authname", "node_custom_config":
			if n.Kind != yaml.ScalarNode {
				return Globals{}, warnings, fmt.Errorf("%s: %s must be a string, got %s", where, key, kindName(n))
			}
			if key == "libvirt_sasl_authname" {
				g.LibvirtSASLAuthname = n.Value
			} else {
				g.NodeCustomConfig = n.Value
			}
		case "libvirt_sasl_mech_list":
			list, err := stringList(n)
			if err != nil {
				return Globals{}, warnings, fmt.Errorf("%s: %s: %v", where, key, err)
			}
			g.LibvirtSASLMechList = list
		}
		g.Set[key] = true
	}
	return g, warnings, nil
}

// nodeJinja returns the first Jinja-valued scalar under n, or "".
func nodeJinja(n *yaml.Node) string {
	n = resolveAlias(n)
	if n == nil {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		if IsJinja(n.Value) {
			return n.Value
		}
		return ""
	}
	for _, c := range n.Content {
		if s := nodeJinja(c); s != "" {
			return s
		}
	}
	return ""
}

// ansibleBool reads a boolean as Ansible's boolean() does.
func ansibleBool(n *yaml.Node) (bool, error) {
	if n.Kind != yaml.ScalarNode {
		return false, fmt.Errorf("want a boolean (yes/no, true/false), got %s", kindName(n))
	}
	switch strings.ToLower(strings.TrimSpace(n.Value)) {
	case "yes", "on", "true", "y", "t", "1", "1.0":
		return true, nil
	case "no", "off", "false", "n", "f", "0", "0.0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (want yes/no, true/false or on/off)", n.Value)
}

func stringList(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return strings.FieldsFunc(n.Value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }), nil
	case yaml.SequenceNode:
		out := []string{}
		for _, c := range n.Content {
			c = resolveAlias(c)
			if c.Kind != yaml.ScalarNode || isNull(c) {
				return nil, fmt.Errorf("line %d: want a list of names, got %s in it", c.Line, kindName(c))
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a list of names, got %s", kindName(n))
}
