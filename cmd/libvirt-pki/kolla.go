package main

import (
	"io"

	"github.com/libvirt-pki/libvirt-pki/kolla"
)

// kollaSettings are Kolla's settings (package kolla) as the commands use
// them: they set command defaults, flags given on the command line
// override them, and the commands print the report.
type kollaSettings struct{ kolla.Settings }

// readKolla reads Kolla's extra-vars files of configDir (globals.yml,
// passwords.yml, globals.d; none is fine: Kolla's defaults), vaulted ones
// with the passwords of v.
func readKolla(configDir string, v *vaultFlags) (kollaSettings, error) {
	ring, err := v.keyring()
	if err != nil {
		return kollaSettings{}, err
	}
	s, err := kolla.ReadVault(configDir, ring)
	return kollaSettings{s}, err
}

func (k kollaSettings) novaLibvirtDir() string { return k.NovaLibvirtDir() }
func (k kollaSettings) tls() bool              { return k.TLS() }
func (k kollaSettings) authname() string       { return k.Authname() }

// report writes the settings in force and the warnings that go with them.
func (k kollaSettings) report(w io.Writer, forTLS, forSASL bool) {
	printLines(w, k.Report(forTLS, forSASL))
}

// flagChanged reports whether a flag was given on the command line; a
// runX called directly (tests, library use) has no command line.
func flagChanged(changed func(string) bool, name string) bool {
	return changed != nil && changed(name)
}
