package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
)

// TestSignerConfigServesMultirootca feeds signer-config's output to a
// real multirootca and issues host bundles through it with the CLI: with
// the key in a file (the default reference), and with the key in the
// signer's environment and our profiles under a prefix. A client without
// that prefix is refused at connect (profile-refused), so the profiles
// the signer signs with are the printed ones.
func TestSignerConfigServesMultirootca(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"file", nil},
		{"env-prefix", []string{"--auth-key-ref", "env:LIBVIRT_PKI_TEST_AUTH_KEY", "--profile-prefix", "libvirt-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
			t.Setenv("LIBVIRT_PKI_TEST_AUTH_KEY", key) // multirootca inherits it
			config := mustCLI(t, append([]string{"signer-config"}, c.flags...)...)
			if strings.Contains(config, key) {
				t.Fatal("the configuration holds the key itself")
			}
			s := cfssltest.Start(t, cfssltest.Options{Config: []byte(config), AuthKey: key})
			out := filepath.Join(t.TempDir(), "pki")
			args := append([]string{"certificates", "--layout", "libvirt", "--out", out, "--hosts", hostList(3), "--sets", "libvirt,qemu"}, signerFlags(t, s, s.URL)...)
			if len(c.flags) > 0 {
				code, _, errOut := cli(t, args...)
				if code != exitFailure || !strings.Contains(errOut, "profile-refused") {
					t.Fatalf("without --remote-profile-prefix: exit %d, %s; want exit 1, profile-refused", code, errOut)
				}
				args = append(args, "--remote-profile-prefix", "libvirt-")
			}
			if stdout := mustCLI(t, args...); !strings.Contains(stdout, "signing through "+s.URL) {
				t.Errorf("the report does not name the signer:\n%s", stdout)
			}
			if n := checkPairs(t, out, s.CA); n != 6 {
				t.Fatalf("%d libvirt pairs through the signer, want 6", n)
			}
		})
	}
}

// TestSignerConfigRefusesKey: the auth key itself, or a reference cfssl
// would read as a key, is refused (exit 2) without being repeated; so is
// a profile prefix that is not a plain name.
func TestSignerConfigRefusesKey(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff"
	for _, args := range [][]string{
		{"--auth-key-ref", key},
		{"--auth-key-ref", "file:"},
		{"--auth-key-ref", "env:1BAD"},
		{"--profile-prefix", "a b"},
	} {
		code, stdout, stderr := cli(t, append([]string{"signer-config"}, args...)...)
		if code != exitUsage || stdout != "" || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, key) {
			t.Errorf("signer-config %v: exit %d, stdout %q, stderr %q; want exit 2, one line, no key", args, code, stdout, stderr)
		}
	}
}
