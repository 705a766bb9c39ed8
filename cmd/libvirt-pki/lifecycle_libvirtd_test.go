package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// kollaClient makes a pkipath directory for virsh from a Kolla layout:
// the shared cacert.pem and one host's client pair.
func kollaClient(t *testing.T, nl, host string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(nl, "cacert.pem"), filepath.Join(dir, "cacert.pem"))
	copyFile(t, filepath.Join(nl, host, "clientcert.pem"), filepath.Join(dir, "clientcert.pem"))
	copyFile(t, filepath.Join(nl, host, "clientkey.pem"), filepath.Join(dir, "clientkey.pem"))
	return dir
}

// virshOK runs virsh hostname with pkipath's client pair; a connection
// that works must not have virsh warn about a certificate.
func virshOK(t *testing.T, d *libvirttest.Daemon, pkipath string) (string, bool) {
	t.Helper()
	out, err := libvirttest.Virsh(t, "test+tls://localhost:"+strconv.Itoa(d.Port)+"/default?pkipath="+pkipath, nil, "hostname")
	ok := err == nil && strings.TrimSpace(out) != ""
	if w := libvirttest.CertificateWarnings(out); ok && w != nil {
		t.Errorf("virsh warned about a certificate:\n%s", strings.Join(w, "\n"))
	}
	return out, ok
}

// TestRevokeWithRealLibvirtd: a libvirtd whose crl_file is the CRL that
// `revoke` wrote rejects the revoked host's client certificate and still
// accepts another host's.
func TestRevokeWithRealLibvirtd(t *testing.T) {
	peer.Require(t, "libvirtd", "virsh")
	kolla := filepath.Join(t.TempDir(), "kolla")
	runCLI(t, "certificates", "--config-dir", kolla, "--host", "server=localhost", "--hosts", "good,bad")
	out := runCLI(t, "revoke", "--config-dir", kolla, "--host", "bad")
	if !strings.Contains(out, "revoked bad client certificate") {
		t.Fatalf("revoke output:\n%s", out)
	}
	nl := filepath.Join(kolla, "config/nova/nova-libvirt")
	// Until re-issued, expiry and verify report the revoked certificates.
	expiry := runExit(t, exitFailure, "expiry", "--config-dir", kolla)
	if !regexp.MustCompile(`bad +clientcert.pem .* revoked`).MatchString(expiry) || !strings.Contains(expiry, "cacrl.pem") {
		t.Errorf("expiry does not report the revocation and the CRL:\n%s", expiry)
	}
	if out := runExit(t, exitFailure, "verify", "--config-dir", kolla); !strings.Contains(out, "revoked") {
		t.Errorf("verify does not report the revocation:\n%s", out)
	}
	d := libvirttest.Start(t, libvirttest.Config{
		CACert: filepath.Join(nl, "cacert.pem"), ServerCert: filepath.Join(nl, "server/servercert.pem"),
		ServerKey: filepath.Join(nl, "server/serverkey.pem"), CRL: filepath.Join(nl, "cacrl.pem"),
	})
	if out, ok := virshOK(t, d, kollaClient(t, nl, "good")); !ok {
		t.Fatalf("a client that was not revoked was refused:\n%s\n%s", out, d.Log())
	}
	d.NoCertificateWarnings(t) // before the revoked client, which is logged
	if out, ok := virshOK(t, d, kollaClient(t, nl, "bad")); ok {
		t.Fatalf("a revoked client was accepted:\n%s", out)
	}
	// The next certificates run re-issues the revoked host with a new key,
	// and libvirtd accepts it again.
	out = runCLI(t, "certificates", "--config-dir", kolla, "--host", "server=localhost", "--hosts", "good,bad")
	if !regexp.MustCompile(`bad +client +re-issued +revoked; new key`).MatchString(out) {
		t.Fatalf("revoked host not re-issued:\n%s", out)
	}
	if out, ok := virshOK(t, d, kollaClient(t, nl, "bad")); !ok {
		t.Fatalf("the re-issued client was refused:\n%s\n%s", out, d.Log())
	}
	runExit(t, exitOK, "verify", "--config-dir", kolla)
}

// TestDNListWithRealLibvirtd: libvirtd configured with the
// tls_allowed_dn_list that --print-dn-list prints admits our clients and
// rejects a client certificate with another DN from the same CA.
func TestDNListWithRealLibvirtd(t *testing.T) {
	peer.Require(t, "libvirtd", "virsh")
	kolla := filepath.Join(t.TempDir(), "kolla")
	args := []string{"certificates", "--config-dir", kolla, "--host", "server=localhost", "--hosts", "compute01,compute02", "--org", "Example"}
	runCLI(t, args...)
	line := strings.TrimSpace(runCLI(t, append(args, "--print-dn-list")...))
	if line != `tls_allowed_dn_list = ["O=Example,CN=server", "O=Example,CN=compute01", "O=Example,CN=compute02"]` {
		t.Fatalf("dn list: %s", line)
	}
	runCLI(t, "certificates", "--config-dir", kolla, "--hosts", "intruder", "--org", "Other")
	nl := filepath.Join(kolla, "config/nova/nova-libvirt")
	d := libvirttest.Start(t, libvirttest.Config{
		CACert: filepath.Join(nl, "cacert.pem"), ServerCert: filepath.Join(nl, "server/servercert.pem"),
		ServerKey: filepath.Join(nl, "server/serverkey.pem"), Extra: line + "\n",
	})
	if out, ok := virshOK(t, d, kollaClient(t, nl, "compute02")); !ok {
		t.Fatalf("a listed client was refused:\n%s\n%s", out, d.Log())
	}
	d.NoCertificateWarnings(t) // before the intruder, which is logged
	if out, ok := virshOK(t, d, kollaClient(t, nl, "intruder")); ok {
		t.Fatalf("a client with another DN was accepted:\n%s", out)
	}
	// libvirt's own tool prints the DN exactly as the list is matched.
	query := peer.Require(t, "virt-pki-query-dn")[0]
	got, err := exec.Command(query, filepath.Join(nl, "compute01/clientcert.pem")).Output()
	if err != nil || strings.TrimSpace(string(got)) != "O=Example,CN=compute01" {
		t.Fatalf("virt-pki-query-dn says %q (%v)", got, err)
	}
}

// runExit runs libvirt-pki and demands a given exit code.
func runExit(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errOut strings.Builder
	if code := run(args, strings.NewReader(""), &out, &errOut); code != want {
		t.Fatalf("libvirt-pki %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String()
}

// TestExpiryLiveReadsServedCertificate: expiry --live reads the chain a
// real libvirtd serves, without trusting it and without a client pair.
func TestExpiryLiveReadsServedCertificate(t *testing.T) {
	peer.Require(t, "libvirtd")
	kolla := filepath.Join(t.TempDir(), "kolla")
	runCLI(t, "certificates", "--config-dir", kolla, "--host", "compute01=localhost", "--days", "10")
	nl := filepath.Join(kolla, "config/nova/nova-libvirt")
	d := libvirttest.Start(t, libvirttest.Config{
		CACert: filepath.Join(nl, "cacert.pem"), ServerCert: filepath.Join(nl, "compute01/servercert.pem"),
		ServerKey: filepath.Join(nl, "compute01/serverkey.pem"),
	})
	d.NoCertificateWarnings(t) // libvirtd checked its own certificate at start
	ep := "localhost:" + strconv.Itoa(d.Port)
	out := runExit(t, exitFailure, "expiry", "--config-dir", kolla, "--live", ep)
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ep) + ` +\(served\) +live +compute01 +compute01,localhost .* 9d +libvirt-pki CA +expiring$`).MatchString(out) {
		t.Fatalf("expiry --live did not report the served certificate:\n%s", out)
	}
	runExit(t, exitUsage, "expiry", "--config-dir", kolla, "--live", "localhost:1", "--timeout", "2s")
}
