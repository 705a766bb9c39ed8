package kolla

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
)

// GlobalsDir is the directory of extra globals files under the config
// root: kolla-ansible passes each *.yml, *.yaml and *.json file in it
// (not in subdirectories) after globals.yml and passwords.yml.
const GlobalsDir = "globals.d"

// Var is one variable kolla-ansible passes to Ansible as an extra var
// (-e @FILE): its value (as inventory.Var values; an inline !vault value
// is an inventory.Vaulted until revealed) and where it was set.
type Var struct {
	Value any
	From  string // "file:line"
}

// ExtraVarFiles lists the files kolla-ansible gives ansible-playbook as
// "-e @FILE", in its order (kolla_ansible/ansible.py, build_args):
// globals.yml, passwords.yml, then globals.d's files sorted by name.
// Extra vars win over every inventory source (host_vars, group_vars, the
// inventory itself), and a later file wins over an earlier one. Files
// that do not exist are left out, as kolla-ansible leaves out globals.d's
// unreadable entries.
func ExtraVarFiles(configDir string) ([]string, error) {
	files := []string{filepath.Join(configDir, GlobalsFile), PasswordsFile(configDir)}
	dir := filepath.Join(configDir, GlobalsDir)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			err = nil // not a directory: kolla-ansible ignores it
		}
		if err != nil {
			return nil, errs.WrapInput(err)
		}
	}
	var extra []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yml", ".yaml", ".json":
		default:
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			extra = append(extra, p)
		}
	}
	slices.Sort(extra)
	return append(files, extra...), nil
}

// readExtraVars reads the files of ExtraVarFiles and merges their
// variables, a later file winning. It returns the files read.
func readExtraVars(configDir string, ring *vault.Keyring) (map[string]Var, []string, error) {
	files, err := ExtraVarFiles(configDir)
	if err != nil {
		return nil, nil, err
	}
	merged := map[string]Var{}
	var read []string
	for _, f := range files {
		vars, found, err := readVars(f, filepath.Base(f), ring)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			continue
		}
		read = append(read, f)
		for k, v := range vars {
			merged[k] = v
		}
	}
	return merged, read, nil
}

// readVars reads one vars file (a symlink is followed, as Ansible follows
// it, but only a regular file within fsutil.LimitConfig is read, its
// vault text within vault.EncryptedSize of that). found is false for a
// missing file. what names the file in errors about its shape. Errors
// are errs.Input naming the file.
func readVars(path, what string, ring *vault.Keyring) (vars map[string]Var, found bool, err error) {
	data, err := fsutil.ReadFileFollow(path, vault.EncryptedSize(fsutil.LimitConfig))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errs.Inputf("globals: %w", err)
	}
	if !vault.IsEncrypted(data) && len(data) > fsutil.LimitConfig {
		return nil, false, errs.Inputf("globals: %w", &fsutil.BadFileError{Path: path, Reason: fmt.Sprintf("larger than %d bytes", fsutil.LimitConfig), Kind: fsutil.ErrTooLarge})
	}
	vars, err = parseVars(path, data, what, ring)
	return vars, true, err
}

// parseVars reads data, the contents of the vars file at path.
func parseVars(path string, data []byte, what string, ring *vault.Keyring) (map[string]Var, error) {
	vs, err := inventory.ParseVarsFile(path, data, what, ring)
	if err != nil {
		return nil, errs.WrapInput(err)
	}
	out := make(map[string]Var, len(vs))
	for k, v := range vs {
		out[k] = Var{Value: v.Value, From: fmt.Sprintf("%s:%d", path, v.Line)}
	}
	return out, nil
}
