package inventory

import "fmt"

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
// vault-encrypted file is an error: its variables cannot be read.
func ParseVarsFile(path string, data []byte, what string) (map[string]Var, error) {
	if isVault(data) {
		return nil, fmt.Errorf("%s: vault-encrypted; libvirt-pki needs it readable", path)
	}
	doc, err := parseYAMLDoc(path, data)
	if err != nil {
		return nil, err
	}
	return mappingVars(path, doc, what)
}
