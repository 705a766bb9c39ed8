// Package kolla is Kolla Ansible's configuration as libvirt-pki needs it:
// where Kolla keeps things under its config root (globals.yml,
// passwords.yml, the nova-libvirt files, the CA), the globals.yml
// settings that decide which credentials a deployment needs, Kolla's
// defaults for them, and what to tell the operator about them.
package kolla

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
)

// Kolla's files and directories, relative to its config root (node_config,
// /etc/kolla by default). Kolla looks up each nova-libvirt file in
// <custom>/nova/nova-libvirt/<inventory_hostname>/ first, then in
// <custom>/nova/nova-libvirt/.
const (
	DefaultConfigDir    = "/etc/kolla"
	DefaultCustomConfig = "config" // node_custom_config, relative to the config root
	GlobalsFile         = "globals.yml"
	PasswordsFileName   = "passwords.yml"
	novaLibvirtRel      = "nova/nova-libvirt"
	caDirRel            = "certificates/libvirt"
)

// NovaLibvirtDir is Kolla's nova-libvirt directory for a config root.
// customConfig is node_custom_config: relative to configDir unless
// absolute, DefaultCustomConfig when "".
func NovaLibvirtDir(configDir, customConfig string) string {
	if customConfig == "" {
		customConfig = DefaultCustomConfig
	}
	if !filepath.IsAbs(customConfig) {
		customConfig = filepath.Join(configDir, customConfig)
	}
	return filepath.Join(customConfig, filepath.FromSlash(novaLibvirtRel))
}

// CADir is where the CA and its key are kept in a config root: outside
// node_custom_config, so no Kolla role ever copies the CA key to a host.
func CADir(configDir string) string {
	return filepath.Join(configDir, filepath.FromSlash(caDirRel))
}

// PasswordsFile is the passwords.yml of a config root.
func PasswordsFile(configDir string) string {
	return filepath.Join(configDir, PasswordsFileName)
}

// Settings are the Kolla settings in force for a config root: what its
// globals.yml, passwords.yml and globals.d/ files set, and Kolla's
// defaults for the rest.
type Settings struct {
	ConfigDir string
	Globals   Globals
	// Files are the extra-vars files read, in kolla-ansible's order
	// (ExtraVarFiles).
	Files []string
	// Extra holds every variable of Files, a later file winning: these
	// are Ansible extra vars, above every inventory source.
	Extra map[string]Var
	// Warnings are what reading the files left out (Jinja, empty values).
	Warnings []string

	ring *vault.Keyring // for the inline !vault values of Extra
}

// Read is ReadVault without vault passwords: a vaulted file is refused.
func Read(configDir string) (Settings, error) { return ReadVault(configDir, nil) }

// ReadVault reads the files kolla-ansible passes as extra vars
// (ExtraVarFiles: globals.yml, passwords.yml, globals.d/*.yml), as
// kolla-ansible does, later files winning; none is fine (Kolla's
// defaults). Vault-encrypted files and inline !vault values are
// decrypted with ring (nil holds no password). A file that cannot be read
// or understood, a vaulted one no password opens, and a path setting
// (node_config, node_custom_config) that is Jinja other than
// "{{ node_config }}/PATH" are bad input naming the file.
func ReadVault(configDir string, ring *vault.Keyring) (Settings, error) {
	if ring == nil {
		ring = &vault.Keyring{}
	}
	extra, files, err := readExtraVars(configDir, ring)
	if err != nil {
		return Settings{}, err
	}
	g, warnings, err := globalsFrom(extra, ring)
	if err != nil {
		return Settings{}, err
	}
	// passwords.yml alone is no globals: flags then decide, as without.
	for _, f := range files {
		if f != PasswordsFile(configDir) {
			g.File = f
			break
		}
	}
	return Settings{ConfigDir: configDir, Globals: g, Files: files, Extra: extra, Warnings: warnings, ring: ring}, nil
}

// ExtraVars returns the extra vars among keys that are set, their inline
// !vault values decrypted (an error names the file and line when no
// password opens one).
func (s Settings) ExtraVars(keys ...string) (map[string]Var, error) {
	out := map[string]Var{}
	for _, k := range keys {
		v, ok := s.Extra[k]
		if !ok {
			continue
		}
		plain, err := inventory.Reveal(s.ring, v.From, v.Value)
		if err != nil {
			return nil, errs.WrapInput(err)
		}
		out[k] = Var{Value: plain, From: v.From}
	}
	return out, nil
}

// FromFile reports whether a globals.yml (or another extra-vars file)
// was read; without one, flags alone decide.
func (s Settings) FromFile() bool { return s.Globals.File != "" }

// NodeConfig is Kolla's node_config: what the extra vars set, else the
// config root (kolla-ansible passes it as CONFIG_DIR, node_config's
// default).
func (s Settings) NodeConfig() string {
	if s.Globals.NodeConfig == "" {
		return s.ConfigDir
	}
	return resolveNodeConfig(s.Globals.NodeConfig, s.ConfigDir)
}

// NovaLibvirtDir is the nova-libvirt directory, honouring
// node_custom_config (its "{{ node_config }}/PATH" form resolved) and
// node_config (node_custom_config's default is "{{ node_config }}/config").
func (s Settings) NovaLibvirtDir() string {
	custom := s.Globals.NodeCustomConfig
	if custom == "" {
		custom = "{{ node_config }}/" + DefaultCustomConfig
	}
	if nodeConfigForm(custom) {
		// node_config is a path of its own, not one below the config root.
		return filepath.Join(resolveNodeConfig(custom, s.NodeConfig()), filepath.FromSlash(novaLibvirtRel))
	}
	return NovaLibvirtDir(s.ConfigDir, custom)
}

// settingsFiles names the files the report's settings come from:
// globals.yml or the first globals.d file, and any other that sets one.
func (s Settings) settingsFiles() string {
	names := []string{s.Globals.File}
	for _, f := range s.Files {
		for _, from := range s.Globals.From {
			if strings.HasPrefix(from, f+":") && !slices.Contains(names, f) {
				names = append(names, f)
			}
		}
	}
	return strings.Join(names, ", ")
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// Kolla's defaults for the settings libvirt-pki reads.

// TLS is libvirt_tls (default false).
func (s Settings) TLS() bool { return boolOr(s.Globals.LibvirtTLS, false) }

// SASLEnabled is libvirt_enable_sasl (default true).
func (s Settings) SASLEnabled() bool { return boolOr(s.Globals.LibvirtEnableSASL, true) }

// ManageCerts is libvirt_tls_manage_certs (default true).
func (s Settings) ManageCerts() bool { return boolOr(s.Globals.LibvirtTLSManageCerts, true) }

// ContainerLibvirt is enable_nova_libvirt_container (default true).
func (s Settings) ContainerLibvirt() bool { return boolOr(s.Globals.EnableNovaLibvirtContainer, true) }

// SpiceRequireSecure is nova_spice_require_secure (default false): Kolla
// then serves SPICE over TLS with the libvirt server pair.
func (s Settings) SpiceRequireSecure() bool { return boolOr(s.Globals.NovaSpiceRequireSecure, false) }

// DefaultSets are the credential sets (package credential) the settings
// call for beyond libvirt's: spice with nova_spice_require_secure.
func (s Settings) DefaultSets() []string {
	if s.SpiceRequireSecure() {
		return []string{"spice"}
	}
	return nil
}

// Authname is libvirt_sasl_authname (default nova).
func (s Settings) Authname() string {
	if s.Globals.LibvirtSASLAuthname != "" {
		return s.Globals.LibvirtSASLAuthname
	}
	return "nova"
}

// Mechs is libvirt_sasl_mech_list, or Kolla's default for it:
// SCRAM-SHA-256 with TLS, DIGEST-MD5 without.
func (s Settings) Mechs() []string {
	if len(s.Globals.LibvirtSASLMechList) > 0 {
		return s.Globals.LibvirtSASLMechList
	}
	if s.TLS() {
		return []string{"SCRAM-SHA-256"}
	}
	return []string{"DIGEST-MD5"}
}

// Report returns the lines to show the operator: the warnings from
// reading globals.yml, the settings in force, and a warning for each
// setting that defeats what is being made (TLS certificates with forTLS,
// SASL credentials with forSASL). Without a globals.yml it has only the
// reading warnings: the flags are all there is.
func (s Settings) Report(forTLS, forSASL bool) []string {
	var lines []string
	for _, w := range s.Warnings {
		lines = append(lines, "warning: "+w)
	}
	if !s.FromFile() {
		return lines
	}
	file := s.settingsFiles()
	where := func(key string) string {
		if from := s.Globals.From[key]; from != "" {
			return from[:strings.LastIndexByte(from, ':')]
		}
		return s.Globals.File
	}
	set := func(key string) string {
		if s.Globals.Set[key] {
			return ""
		}
		return " (default)"
	}
	lines = append(lines, fmt.Sprintf("Kolla settings from %s: libvirt_tls=%v%s, libvirt_enable_sasl=%v%s, libvirt_sasl_authname=%s%s, libvirt_sasl_mech_list=%s%s",
		file, s.TLS(), set("libvirt_tls"), s.SASLEnabled(), set("libvirt_enable_sasl"),
		s.Authname(), set("libvirt_sasl_authname"), strings.Join(s.Mechs(), ","), set("libvirt_sasl_mech_list")))
	if forTLS && !s.TLS() {
		lines = append(lines, fmt.Sprintf("warning: libvirt_tls is not enabled in %s, so Kolla will not use these certificates: set libvirt_tls: \"yes\" there and run kolla-ansible reconfigure -t nova", where("libvirt_tls")))
	}
	if forTLS && s.TLS() && !s.ManageCerts() {
		lines = append(lines, fmt.Sprintf("warning: libvirt_tls_manage_certs is false in %s: Kolla will not copy these files to the hosts; deploy them yourself", where("libvirt_tls_manage_certs")))
	}
	if forTLS && !s.ContainerLibvirt() {
		lines = append(lines, fmt.Sprintf("warning: enable_nova_libvirt_container is false in %s: libvirtd runs on the hosts; --layout libvirt writes their /etc/pki tree", where("enable_nova_libvirt_container")))
	}
	if forSASL && !s.SASLEnabled() {
		lines = append(lines, fmt.Sprintf("warning: libvirt_enable_sasl is false in %s: libvirtd will not ask for these credentials", where("libvirt_enable_sasl")))
	}
	return lines
}
