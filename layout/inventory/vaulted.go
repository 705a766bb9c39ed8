package inventory

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// Vaulted is an inline !vault value (Ansible's "!vault |" followed by a
// vault text) not yet decrypted. Values are kept so until something needs
// them, as Ansible decrypts one only when a variable is used: a vaulted
// ansible_password needs no vault password to list hosts. Reveal
// decrypts one.
type Vaulted struct{ node *yaml.Node }

// Line is the line of the value in its file.
func (v Vaulted) Line() int { return v.node.Line }

// String shows the value is vaulted; never its text.
func (v Vaulted) String() string { return fmt.Sprintf("!vault value (line %d)", v.node.Line) }

// Reveal returns v itself, or the plaintext string of a Vaulted v
// decrypted with ring. from is where the value was set ("file:line" or
// "file"), for errors; they name the file and the value's line.
func Reveal(ring *vault.Keyring, from string, v any) (any, error) {
	vv, ok := v.(Vaulted)
	if !ok {
		return v, nil
	}
	if ring == nil {
		ring = &vault.Keyring{}
	}
	file := from
	if i := strings.LastIndexByte(from, ':'); i > 0 {
		file = from[:i]
	}
	return ring.DecryptValue(file, vv.node)
}
