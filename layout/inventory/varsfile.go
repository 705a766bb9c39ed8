package inventory

import "github.com/libvirt-pki/libvirt-pki/internal/vault"

// Var is one variable of a vars file.
type Var struct {
	// Value is as Entry.Vars holds values: string, bool, int, float64,
	// nil, []any or map[string]any, Jinja expressions left as strings.
	Value any
	// Line is the line of the variable's key.
	Line int
}

// ParseVarsFile reads data, the contents of path, as a YAML file of
// variables: a group_vars file, or a file given to ansible-playbook as
// -e @FILE, such as Kolla's globals.yml. what names the file in errors
// ("globals.yml must be a mapping of variables"). The last occurrence of
// a key wins, as with PyYAML; an empty file has no variables. A
// vault-encrypted file is decrypted with ring (an error names the file
// when no password of it opens the file); inline !vault values are left
// as Vaulted, for Reveal.
func ParseVarsFile(path string, data []byte, what string, ring *vault.Keyring) (map[string]Var, error) {
	if vault.IsEncrypted(data) {
		if ring == nil {
			ring = &vault.Keyring{}
		}
		o, err := ring.Open(path, data)
		if err != nil {
			return nil, err
		}
		data = o.Plaintext
	}
	doc, err := parseYAMLDoc(path, data)
	if err != nil {
		return nil, err
	}
	return mappingVars(path, doc, what)
}
