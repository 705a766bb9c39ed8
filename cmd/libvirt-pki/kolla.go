package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
)

// kollaSettings are what globals.yml says; they set command defaults,
// and flags given on the command line override them.
type kollaSettings struct {
	configDir string
	g         inventory.Globals
	warnings  []string
}

// readKolla reads <configDir>/globals.yml (none is fine: Kolla's defaults).
func readKolla(configDir string) (kollaSettings, error) {
	g, warnings, err := inventory.ReadGlobals(filepath.Join(configDir, "globals.yml"))
	if err != nil {
		return kollaSettings{}, usageError{err}
	}
	return kollaSettings{configDir: configDir, g: g, warnings: warnings}, nil
}

// novaLibvirtDir honours node_custom_config.
func (k kollaSettings) novaLibvirtDir() string {
	return layout.NovaLibvirtDir(k.configDir, k.g.NodeCustomConfig)
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// Kolla's defaults for the settings libvirt-pki reads.
func (k kollaSettings) tls() bool         { return boolOr(k.g.LibvirtTLS, false) }
func (k kollaSettings) saslEnabled() bool { return boolOr(k.g.LibvirtEnableSASL, true) }
func (k kollaSettings) manageCerts() bool { return boolOr(k.g.LibvirtTLSManageCerts, true) }
func (k kollaSettings) containerLibvirt() bool {
	return boolOr(k.g.EnableNovaLibvirtContainer, true)
}

func (k kollaSettings) authname() string {
	if k.g.LibvirtSASLAuthname != "" {
		return k.g.LibvirtSASLAuthname
	}
	return "nova"
}

// mechs is libvirt_sasl_mech_list, or Kolla's default for it: SCRAM-SHA-256
// with TLS, DIGEST-MD5 without.
func (k kollaSettings) mechs() []string {
	if len(k.g.LibvirtSASLMechList) > 0 {
		return k.g.LibvirtSASLMechList
	}
	if k.tls() {
		return []string{"SCRAM-SHA-256"}
	}
	return []string{"DIGEST-MD5"}
}

// report writes the settings in force and the warnings that go with them.
// A run without globals.yml says nothing: the flags are all there is.
func (k kollaSettings) report(w io.Writer, forTLS, forSASL bool) {
	for _, warn := range k.warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
	if k.g.File == "" {
		return
	}
	set := func(key string) string {
		if k.g.Set[key] {
			return ""
		}
		return " (default)"
	}
	fmt.Fprintf(w, "Kolla settings from %s: libvirt_tls=%v%s, libvirt_enable_sasl=%v%s, libvirt_sasl_authname=%s%s, libvirt_sasl_mech_list=%s%s\n",
		k.g.File, k.tls(), set("libvirt_tls"), k.saslEnabled(), set("libvirt_enable_sasl"),
		k.authname(), set("libvirt_sasl_authname"), strings.Join(k.mechs(), ","), set("libvirt_sasl_mech_list"))
	if forTLS && !k.tls() {
		fmt.Fprintf(w, "warning: libvirt_tls is not enabled in %s, so Kolla will not use these certificates: set libvirt_tls: \"yes\" there and run kolla-ansible reconfigure -t nova\n", k.g.File)
	}
	if forTLS && k.tls() && !k.manageCerts() {
		fmt.Fprintf(w, "warning: libvirt_tls_manage_certs is false in %s: Kolla will not copy these files to the hosts; deploy them yourself\n", k.g.File)
	}
	if forTLS && !k.containerLibvirt() {
		fmt.Fprintf(w, "warning: enable_nova_libvirt_container is false in %s: libvirtd runs on the hosts; --layout libvirt writes their /etc/pki tree\n", k.g.File)
	}
	if forSASL && !k.saslEnabled() {
		fmt.Fprintf(w, "warning: libvirt_enable_sasl is false in %s: libvirtd will not ask for these credentials\n", k.g.File)
	}
}

// flagChanged reports whether a flag was given on the command line; a
// runX called directly (tests, library use) has no command line.
func flagChanged(changed func(string) bool, name string) bool {
	return changed != nil && changed(name)
}
