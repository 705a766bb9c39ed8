// Package kolla is Kolla Ansible's configuration as libvirt-pki needs it:
// where Kolla keeps things under its config root (globals.yml,
// passwords.yml, the nova-libvirt files, the CA), the globals.yml
// settings that decide which credentials a deployment needs, Kolla's
// defaults for them, and what to tell the operator about them.
package kolla

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
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
// globals.yml sets, and Kolla's defaults for the rest.
type Settings struct {
	ConfigDir string
	Globals   Globals
	// Warnings are what reading globals.yml left out (Jinja, empty values).
	Warnings []string
}

// Read reads <configDir>/globals.yml; none is fine (Kolla's defaults). A
// globals.yml that cannot be read or understood is bad input.
func Read(configDir string) (Settings, error) {
	g, warnings, err := ReadGlobals(filepath.Join(configDir, GlobalsFile))
	if err != nil {
		return Settings{}, errs.WrapInput(err)
	}
	return Settings{ConfigDir: configDir, Globals: g, Warnings: warnings}, nil
}

// FromFile reports whether a globals.yml was read; without one, flags
// alone decide.
func (s Settings) FromFile() bool { return s.Globals.File != "" }

// NovaLibvirtDir is the nova-libvirt directory, honouring node_custom_config.
func (s Settings) NovaLibvirtDir() string {
	return NovaLibvirtDir(s.ConfigDir, s.Globals.NodeCustomConfig)
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
	file := s.Globals.File
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
		lines = append(lines, fmt.Sprintf("warning: libvirt_tls is not enabled in %s, so Kolla will not use these certificates: set libvirt_tls: \"yes\" there and run kolla-ansible reconfigure -t nova", file))
	}
	if forTLS && s.TLS() && !s.ManageCerts() {
		lines = append(lines, fmt.Sprintf("warning: libvirt_tls_manage_certs is false in %s: Kolla will not copy these files to the hosts; deploy them yourself", file))
	}
	if forTLS && !s.ContainerLibvirt() {
		lines = append(lines, fmt.Sprintf("warning: enable_nova_libvirt_container is false in %s: libvirtd runs on the hosts; --layout libvirt writes their /etc/pki tree", file))
	}
	if forSASL && !s.SASLEnabled() {
		lines = append(lines, fmt.Sprintf("warning: libvirt_enable_sasl is false in %s: libvirtd will not ask for these credentials", file))
	}
	return lines
}
