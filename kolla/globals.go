package kolla

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
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
	NovaSpiceRequireSecure     *bool // nova_spice_require_secure

	LibvirtSASLAuthname string   // libvirt_sasl_authname
	LibvirtSASLMechList []string // libvirt_sasl_mech_list (a list, or a string of names separated by spaces or commas)
	NodeConfig          string   // node_config; may be "{{ node_config }}/..." as written
	NodeCustomConfig    string   // node_custom_config; may be "{{ node_config }}/..." as written

	// Set tells which of the keys above the files set, by their YAML name.
	Set map[string]bool
	// From tells, for each key set, where: "file:line".
	From map[string]string
	// File is globals.yml ("" when there was none): it names the
	// settings in reports.
	File string
}

// GlobalsKeys are the globals.yml keys ReadGlobals reads.
var GlobalsKeys = []string{
	"libvirt_tls", "libvirt_enable_sasl", "enable_nova_libvirt_container", "libvirt_tls_manage_certs",
	"libvirt_sasl_authname", "libvirt_sasl_mech_list", "node_config", "node_custom_config",
	"nova_spice_require_secure",
}

// pathKeys are the keys that decide where Kolla looks for files: a Jinja
// value there is refused, not treated as unset, since guessing would put
// the files where Kolla does not look (its first_found then fails).
var pathKeys = map[string]bool{"node_config": true, "node_custom_config": true}

// ReadGlobals reads Kolla's globals.yml: path is its directory (such as
// /etc/kolla, then DIR/globals.yml is read) or the file itself. A missing
// file gives a zero Globals and no error. Keys whose value is a Jinja
// expression, or empty, are reported in warnings and treated as unset,
// except node_config and node_custom_config: they decide paths, so only
// "{{ node_config }}" followed by a path is taken (kept as written, for
// Settings to resolve) and any other Jinja there is an error.
// Booleans are Ansible's: yes/no, true/false, on/off (any case, quoted or
// not, as Kolla's "| bool" reads them), also y/n, t/f and 1/0; anything
// else is an error, since guessing would pick the wrong credentials.
// A vault-encrypted file is refused (ReadVault reads it).
func ReadGlobals(path string) (Globals, []string, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, GlobalsFile)
	}
	vars, found, err := readVars(path, GlobalsFile, nil)
	if err != nil || !found {
		return Globals{}, nil, err
	}
	g, warnings, err := globalsFrom(vars, nil)
	g.File = path
	return g, warnings, err
}

// parseGlobals reads data, the contents of the globals.yml at path.
func parseGlobals(path string, data []byte) (Globals, []string, error) {
	vars, err := parseVars(path, data, GlobalsFile, nil)
	if err != nil {
		return Globals{}, nil, err
	}
	g, warnings, err := globalsFrom(vars, nil)
	g.File = path
	return g, warnings, err
}

// globalsFrom reads GlobalsKeys from vars, decrypting the inline !vault
// values among them with ring.
func globalsFrom(vars map[string]Var, ring *vault.Keyring) (Globals, []string, error) {
	g := Globals{Set: map[string]bool{}, From: map[string]string{}}
	var warnings []string
	for _, key := range GlobalsKeys {
		v, ok := vars[key]
		if !ok {
			continue
		}
		value, err := inventory.Reveal(ring, v.From, v.Value)
		if err != nil {
			return Globals{}, warnings, errs.WrapInput(err)
		}
		if value == nil {
			warnings = append(warnings, fmt.Sprintf("%s: %s is empty; treated as unset", v.From, key))
			continue
		}
		if jinja := jinjaIn(value); jinja != "" {
			if pathKeys[key] && !nodeConfigForm(jinja) {
				return Globals{}, warnings, errs.Inputf("%s: %s %q is a Jinja expression, which libvirt-pki does not evaluate, and it decides where Kolla looks for the nova-libvirt files: write the path itself, or {{ node_config }}/PATH", v.From, key, jinja)
			}
			if !pathKeys[key] {
				warnings = append(warnings, fmt.Sprintf("%s: %s is a Jinja expression (%q), which libvirt-pki does not evaluate; treated as unset", v.From, key, jinja))
				continue
			}
		}
		if err := g.set(key, value); err != nil {
			return Globals{}, warnings, errs.Inputf("%s: %s: %v", v.From, key, err)
		}
		g.Set[key], g.From[key] = true, v.From
	}
	return g, warnings, nil
}

// nodeConfigRE is the one Jinja form a path key may take: "{{ node_config }}"
// alone or followed by "/PATH" (Kolla's own default for node_custom_config).
var nodeConfigRE = regexp.MustCompile(`^\{\{-?\s*node_config\s*-?\}\}(/[^{}]*)?$`)

func nodeConfigForm(s string) bool { return nodeConfigRE.MatchString(strings.TrimSpace(s)) }

// resolveNodeConfig turns the "{{ node_config }}/PATH" form into
// nodeConfig/PATH; other values are returned as they are.
func resolveNodeConfig(s, nodeConfig string) string {
	m := nodeConfigRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return s
	}
	return filepath.Join(nodeConfig, m[1])
}

// set stores the value of one of GlobalsKeys.
func (g *Globals) set(key string, v any) error {
	var err error
	switch key {
	case "libvirt_tls":
		g.LibvirtTLS, err = ansibleBool(v)
	case "libvirt_enable_sasl":
		g.LibvirtEnableSASL, err = ansibleBool(v)
	case "enable_nova_libvirt_container":
		g.EnableNovaLibvirtContainer, err = ansibleBool(v)
	case "libvirt_tls_manage_certs":
		g.LibvirtTLSManageCerts, err = ansibleBool(v)
	case "nova_spice_require_secure":
		g.NovaSpiceRequireSecure, err = ansibleBool(v)
	case "libvirt_sasl_authname":
		g.LibvirtSASLAuthname, err = scalar(v, "a string")
	case "node_custom_config":
		g.NodeCustomConfig, err = scalar(v, "a string")
	case "node_config":
		g.NodeConfig, err = scalar(v, "a string")
	case "libvirt_sasl_mech_list":
		g.LibvirtSASLMechList, err = nameList(v)
	}
	return err
}

// jinjaIn returns the first Jinja-valued string in v, or "".
func jinjaIn(v any) string {
	switch x := v.(type) {
	case string:
		if inventory.IsJinja(x) {
			return x
		}
	case []any:
		for _, e := range x {
			if s := jinjaIn(e); s != "" {
				return s
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if s := jinjaIn(x[k]); s != "" {
				return s
			}
		}
	}
	return ""
}

// describe names a value's kind for messages.
func describe(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("the scalar %q", fmt.Sprint(v))
}

// scalar returns a non-null scalar as text, or an error wanting what.
func scalar(v any, what string) (string, error) {
	switch v.(type) {
	case nil, []any, map[string]any:
		return "", fmt.Errorf("must be %s, got %s", what, describe(v))
	}
	return fmt.Sprint(v), nil
}

// ansibleBool reads a boolean as Ansible's boolean() does.
func ansibleBool(v any) (*bool, error) {
	var s string
	switch x := v.(type) {
	case bool:
		return &x, nil
	case string:
		s = x
	case int:
		s = strconv.Itoa(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
		if x == 0 || x == 1 {
			s += ".0"
		}
	default:
		return nil, fmt.Errorf("want a boolean (yes/no, true/false), got %s", describe(v))
	}
	b := false
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "on", "true", "y", "t", "1", "1.0":
		b = true
	case "no", "off", "false", "n", "f", "0", "0.0":
	default:
		return nil, fmt.Errorf("%q is not a boolean (want yes/no, true/false or on/off)", s)
	}
	return &b, nil
}

// nameList reads a list of names: a YAML list, or one string of names
// separated by spaces or commas.
func nameList(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		out := []string{}
		for _, e := range x {
			s, err := scalar(e, "a list of names")
			if err != nil {
				return nil, fmt.Errorf("want a list of names, got %s in it", describe(e))
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		return nil, fmt.Errorf("want a list of names, got %s", describe(v))
	}
	return strings.FieldsFunc(fmt.Sprint(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }), nil
}
