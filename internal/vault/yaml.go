package vault

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// IsVaultNode reports whether n is a value tagged "!vault" or
// "!vault-encrypted", the two tags Ansible's YAML loader decrypts.
func IsVaultNode(n *yaml.Node) bool {
	return n != nil && (n.Tag == "!vault" || n.Tag == "!vault-encrypted")
}

// DecryptValue returns the plaintext of a !vault value. name is the file
// it is in; errors name the file and the value's line. The plaintext is a
// string, as Ansible makes it, whatever it looks like ("123", "true").
func (k *Keyring) DecryptValue(name string, n *yaml.Node) (string, error) {
	where := fmt.Sprintf("%s:%d", name, n.Line)
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("%s: %s tags a %s; it must tag a vault-encrypted string: %w", where, n.Tag, kindName(n.Kind), ErrFormat)
	}
	o, err := k.decrypt(where, []byte(n.Value))
	if err != nil {
		return "", err
	}
	return string(o.Plaintext), nil
}

// DecryptYAML decrypts, in place, every !vault value in the tree under
// root, and returns how many it decrypted. Each becomes a plain string
// scalar (tag !!str), so decoding the tree gives its plaintext. Aliases
// are not followed: an anchored value is decrypted where it stands, once.
// The tree then holds secrets: never write it back to disk as it is.
func (k *Keyring) DecryptYAML(name string, root *yaml.Node) (int, error) {
	if root == nil {
		return 0, nil
	}
	count := 0
	if IsVaultNode(root) {
		plain, err := k.DecryptValue(name, root)
		if err != nil {
			return 0, err
		}
		root.Tag, root.Value, root.Style = "!!str", plain, 0
		count++
	}
	for _, c := range root.Content {
		n, err := k.DecryptYAML(name, c)
		count += n
		if err != nil {
			return count, err
		}
	}
	return count, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "scalar"
}
