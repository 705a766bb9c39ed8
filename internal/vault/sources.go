package vault

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Source is one place a vault password comes from: a password file, or an
// executable password script, under a vault id.
type Source struct {
	ID   string // the vault id the password is filed under
	Path string // the password file or script, ~ and $VARS expanded
	// ClientID is what a client script ("*-client", "*-client.EXT") gets
	// as --vault-id: the label of "--vault-id LABEL@FILE", DefaultID for a
	// --vault-password-file, "" (no argument) for a bare "--vault-id FILE".
	ClientID string
}

// Options says where vault passwords come from, in Ansible's terms.
type Options struct {
	VaultIDs      []string // --vault-id values ("id@file" or "file"), in order
	PasswordFiles []string // --vault-password-file values (plain paths), in order
	// Getenv reads ANSIBLE_VAULT_IDENTITY_LIST, ANSIBLE_VAULT_PASSWORD_FILE
	// and ANSIBLE_VAULT_ID_MATCH, and expands $VARS in paths; nil means
	// os.Getenv.
	Getenv func(string) string
	// Stdin and Stderr are given to password scripts (Ansible lets them
	// prompt on the terminal); nil means os.Stdin and os.Stderr.
	Stdin  io.Reader
	Stderr io.Writer
}

func (o *Options) getenv(name string) string {
	if o.Getenv == nil {
		return os.Getenv(name)
	}
	return o.Getenv(name)
}

// Sources lists the password sources of opts in the order Ansible reads
// them: ANSIBLE_VAULT_IDENTITY_LIST (comma-separated "id@file"), then
// each --vault-id, then each --vault-password-file, then
// ANSIBLE_VAULT_PASSWORD_FILE. In Ansible only --vault-id (and the
// identity list) take the "id@file" form; a --vault-password-file value is
// a path, filed under DefaultID. Prompting ("prompt", "id@prompt") is
// refused: libvirt-pki reads vault passwords from files and scripts only.
func Sources(opts Options) ([]Source, error) {
	var specs []string
	for _, s := range strings.Split(opts.getenv("ANSIBLE_VAULT_IDENTITY_LIST"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			specs = append(specs, s)
		}
	}
	specs = append(specs, opts.VaultIDs...)
	var out []Source
	for _, spec := range specs {
		src, err := parseVaultID(spec, opts.getenv)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	files := opts.PasswordFiles
	if env := opts.getenv("ANSIBLE_VAULT_PASSWORD_FILE"); env != "" {
		files = append(append([]string(nil), files...), env)
	}
	for _, f := range files {
		if f == "" {
			return nil, fmt.Errorf("--vault-password-file: empty path")
		}
		out = append(out, Source{ID: DefaultID, Path: expandPath(f, opts.getenv), ClientID: DefaultID})
	}
	return out, nil
}

// ParseVaultID reads a --vault-id value as Ansible does: "label@source"
// splits at the first '@'; a value without '@' is a source filed under
// DefaultID (and a client script then gets no --vault-id argument).
func ParseVaultID(spec string) (Source, error) { return parseVaultID(spec, os.Getenv) }

func parseVaultID(spec string, getenv func(string) string) (Source, error) {
	label, path, hasLabel := strings.Cut(spec, "@")
	if !hasLabel {
		label, path = "", spec
	}
	if path == "prompt" || path == "prompt_ask_vault_pass" {
		return Source{}, fmt.Errorf("--vault-id %s: prompting for a vault password is not supported; give a password file or script", spec)
	}
	if path == "" {
		return Source{}, fmt.Errorf("--vault-id %q: no password file after the '@'", spec)
	}
	id := label
	if id == "" {
		id = DefaultID
	}
	return Source{ID: id, Path: expandPath(path, getenv), ClientID: label}, nil
}

// expandPath expands $VAR, ${VAR} and a leading ~ the way Ansible's
// unfrackpath does (Python's expandvars and expanduser): an unset
// variable is left as written. Relative paths stay relative to the
// working directory.
func expandPath(p string, getenv func(string) string) string {
	p = envVar.ReplaceAllStringFunc(p, func(m string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(m[1:], "{"), "}")
		if v := getenv(name); v != "" {
			return v
		}
		return m
	})
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			p = filepath.Join(home, p[1:])
		}
	}
	return p
}

var envVar = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)

// isClientScript reports whether Ansible treats a password script as a
// client script, one that takes --vault-id: its name without the last
// extension (Python's os.path.splitext) ends in "-client".
func isClientScript(path string) bool {
	return strings.HasSuffix(splitExt(path), "-client")
}

// splitExt returns path without its extension as Python's
// os.path.splitext has it: leading dots of the file name start no
// extension (".x-client" has none).
func splitExt(path string) string {
	base := path[strings.LastIndex(path, "/")+1:]
	dot := strings.LastIndex(base, ".")
	if dot <= 0 || strings.Trim(base[:dot], ".") == "" {
		return path
	}
	return path[:len(path)-len(base)+dot]
}
