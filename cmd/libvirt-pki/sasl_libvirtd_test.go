package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// daemonRealm asks a running libvirtd its host name, which is the SASL
// realm it computes for itself.
func daemonRealm(t *testing.T, d *libvirttest.Daemon, pkipath string) string {
	t.Helper()
	out, ok := virshOK(t, d, pkipath)
	if !ok {
		t.Fatalf("virsh hostname: %s\n%s", out, d.Log())
	}
	return strings.ToLower(strings.TrimSpace(out))
}

// TestSASLAndLiveVerifyWithRealLibvirtd: credentials made by certificates,
// passwords and sasl let virsh log in to a real libvirtd with TLS and SASL
// using our auth.conf, for SCRAM-SHA-256 and DIGEST-MD5; verify --live
// passes and libvirtd logs the authenticated identity; a wrong password
// and a wrong realm are refused.
func TestSASLAndLiveVerifyWithRealLibvirtd(t *testing.T) {
	peer.Require(t, "libvirtd", "virsh")
	dir := t.TempDir()
	kolla := filepath.Join(dir, "kolla")
	hostArgs := []string{"--host", "compute01=localhost,127.0.0.1"}
	runCLI(t, append([]string{"certificates", "--config-dir", kolla}, hostArgs...)...)
	nl := filepath.Join(kolla, "config/nova/nova-libvirt")
	client := kollaClient(t, nl, "compute01")
	server := libvirttest.Config{
		CACert: filepath.Join(nl, "cacert.pem"), ServerCert: filepath.Join(nl, "compute01/servercert.pem"),
		ServerKey: filepath.Join(nl, "compute01/serverkey.pem"),
	}
	realm := daemonRealm(t, libvirttest.Start(t, server), client)

	out := runCLI(t, "passwords", "--config-dir", kolla)
	if !strings.Contains(out, "created with a new libvirt_sasl_password") {
		t.Fatalf("passwords: %s", out)
	}
	perm(t, filepath.Join(kolla, "passwords.yml"), 0o640)
	for _, mech := range []string{"SCRAM-SHA-256", "DIGEST-MD5"} {
		t.Run(mech, func(t *testing.T) {
			runCLI(t, "sasl", "--layout", "libvirt", "--out", nl, "--config-dir", kolla, "--host", "compute01", "--realm", realm, "--mech", strings.ToLower(mech))
			for _, f := range []string{saslDB, saslAuth} {
				perm(t, filepath.Join(nl, "compute01", f), 0o600)
			}
			cfg := server
			cfg.AuthTLS, cfg.SASLMechs, cfg.SASLDB = "sasl", []string{strings.ToLower(mech)}, filepath.Join(nl, "compute01", saslDB)
			cfg.LogFilters = "2:daemon.remote 3:rpc 3:util"
			d := libvirttest.Start(t, cfg)
			port := strconv.Itoa(d.Port)
			uri := "test+tls://localhost:" + port + "/default?pkipath=" + client + "&auth=sasl." + mech
			authFile := "LIBVIRT_AUTH_FILE=" + filepath.Join(nl, "compute01", saslAuth)
			if out, err := libvirttest.Virsh(t, uri, []string{authFile}, "hostname"); err != nil || strings.TrimSpace(out) == "" {
				t.Fatalf("virsh with our auth.conf: %v\n%s\n%s", err, out, d.Log())
			}
			if !strings.Contains(d.Log(), "identity=nova") {
				t.Fatalf("libvirtd did not log the authenticated identity:\n%s", d.Log())
			}

			// verify --live logs in the same way, with the password from passwords.yml.
			out := runCLI(t, "verify", "--config-dir", kolla, "--host", "compute01=localhost,127.0.0.1", "--live", "localhost:"+port, "--uri", "test:///default")
			if !regexp.MustCompile(`compute01 +localhost:` + port + ` +ok +` + mech + ` +nova +\S+ +9\.`).MatchString(out) {
				t.Fatalf("verify --live:\n%s", out)
			}
			d.NoCertificateWarnings(t) // virsh's and verify --live's client certificates

			// A wrong password: virsh and verify are both refused.
			wrong := filepath.Join(dir, "wrong.conf")
			os.WriteFile(wrong, []byte("[credentials-default]\nauthname=nova\npassword=wrong\n[auth-libvirt-default]\ncredentials=default\n"), 0o600)
			if out, err := libvirttest.Virsh(t, uri, []string{"LIBVIRT_AUTH_FILE=" + wrong}, "hostname"); err == nil {
				t.Fatalf("virsh with a wrong password succeeded:\n%s", out)
			}
			pwFile := filepath.Join(dir, "wrong.pw")
			os.WriteFile(pwFile, []byte("wrong\n"), 0o600)
			out = runExit(t, exitFailure, "verify", "--config-dir", kolla, "--host", "compute01=localhost", "--live", "localhost:"+port, "--uri", "test:///default", "--password-file", pwFile)
			if !strings.Contains(out, "live-auth-failed") {
				t.Fatalf("verify with a wrong password:\n%s", out)
			}
		})
	}

	// A realm other than the daemon's own: refused, even with the right password.
	out = runCLI(t, "sasl", "--layout", "libvirt", "--out", nl, "--config-dir", kolla, "--host", "compute01", "--realm", "not-"+realm)
	if !strings.Contains(out, "removing nova@"+realm) {
		t.Fatalf("the entry in the old realm was not removed:\n%s", out)
	}
	cfg := server
	cfg.AuthTLS, cfg.SASLDB = "sasl", filepath.Join(nl, "compute01", saslDB)
	d := libvirttest.Start(t, cfg)
	uri := "test+tls://localhost:" + strconv.Itoa(d.Port) + "/default?pkipath=" + client + "&auth=sasl.SCRAM-SHA-256"
	if out, err := libvirttest.Virsh(t, uri, []string{"LIBVIRT_AUTH_FILE=" + filepath.Join(nl, "compute01", saslAuth)}, "hostname"); err == nil {
		t.Fatalf("virsh logged in against a sasldb with the wrong realm:\n%s", out)
	}
}

func perm(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Fatalf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
	}
}
