package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// runCLI runs libvirt-pki in-process and fails the test on a non-zero exit.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("libvirt-pki %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

// TestCertificatesAgainstRealPeers proves, for every key algorithm and
// both modes, that openssl and GnuTLS accept every leaf, and that a real
// libvirtd serving a generated server pair accepts virsh holding the
// generated client pair, by a name in the SAN, and only then.
func TestCertificatesAgainstRealPeers(t *testing.T) {
	tools := peer.Require(t, "openssl", "certtool", "libvirtd", "virsh")
	openssl, certtool := tools[0], tools[1]
	for _, algo := range pki.KeyAlgos {
		for _, mode := range []string{"per-host", "shared"} {
			t.Run(string(algo)+"/"+mode, func(t *testing.T) {
				dir := t.TempDir()
				kolla := filepath.Join(dir, "kolla")
				hostArgs := []string{"--host", "h1=localhost", "--host", "h2=192.0.2.2", "--key-algo", string(algo), "--mode", mode}
				runCLI(t, append([]string{"certificates", "--config-dir", kolla}, hostArgs...)...)
				caCert := filepath.Join(kolla, "certificates/libvirt/cacert.pem")
				caKey := filepath.Join(kolla, "certificates/libvirt/cakey.pem")
				// The same CA, as an external one, signs the virsh client sets.
				pkipath := filepath.Join(dir, "pkipath")
				runCLI(t, append([]string{"certificates", "--layout", "pkipath", "--out", pkipath, "--ca-cert", caCert, "--ca-key", caKey}, hostArgs...)...)

				nl := filepath.Join(kolla, "config/nova/nova-libvirt")
				leafDir := filepath.Join(nl, "h1")
				if mode == "shared" {
					leafDir = nl
				}
				cacert := filepath.Join(nl, "cacert.pem")
				for _, leaf := range []string{filepath.Join(leafDir, "servercert.pem"), filepath.Join(leafDir, "clientcert.pem"), filepath.Join(pkipath, "h2/clientcert.pem")} {
					if out, err := exec.Command(openssl, "verify", "-CAfile", cacert, leaf).CombinedOutput(); err != nil {
						t.Fatalf("openssl verify %s: %v\n%s", leaf, err, out)
					}
					out, err := exec.Command(certtool, "--verify", "--load-ca-certificate", cacert, "--infile", leaf).CombinedOutput()
					if err != nil || !strings.Contains(string(out), "Verified.") {
						t.Fatalf("certtool --verify %s: %v\n%s", leaf, err, out)
					}
				}

				d := libvirttest.Start(t, libvirttest.Config{
					CACert:     cacert,
					ServerCert: filepath.Join(leafDir, "servercert.pem"),
					ServerKey:  filepath.Join(leafDir, "serverkey.pem"),
				})
				port := strconv.Itoa(d.Port)
				uri := func(host, pk string) string {
					return "test+tls://" + host + ":" + port + "/default?pkipath=" + pk
				}
				out, err := libvirttest.Virsh(t, uri("localhost", filepath.Join(pkipath, "h1")), nil, "hostname")
				if err != nil || strings.TrimSpace(out) == "" {
					t.Fatalf("virsh by a name in the SAN failed: %v\n%s\nlibvirtd log:\n%s", err, out, d.Log())
				}
				if w := libvirttest.CertificateWarnings(out); w != nil {
					t.Errorf("virsh warned about a certificate:\n%s", strings.Join(w, "\n"))
				}
				// 127.0.0.1 reaches the same daemon but is not in the SAN.
				out, err = libvirttest.Virsh(t, uri("127.0.0.1", filepath.Join(pkipath, "h1")), nil, "hostname")
				if err == nil {
					t.Fatalf("virsh by a name not in the SAN succeeded:\n%s", out)
				}
				if !strings.Contains(out, "127.0.0.1") {
					t.Errorf("name mismatch error does not name the host:\n%s", out)
				}
				// Neither side warned about a certificate (issue 12's
				// key-usage policy), before the foreign client below.
				d.NoCertificateWarnings(t)

				// A client certificate from another CA is rejected.
				other := filepath.Join(dir, "other")
				runCLI(t, "certificates", "--layout", "pkipath", "--out", other, "--host", "h1=localhost", "--key-algo", string(algo))
				foreign := filepath.Join(dir, "foreign")
				os.MkdirAll(foreign, 0o700)
				copyFile(t, cacert, filepath.Join(foreign, "cacert.pem"))
				copyFile(t, filepath.Join(other, "h1/clientcert.pem"), filepath.Join(foreign, "clientcert.pem"))
				copyFile(t, filepath.Join(other, "h1/clientkey.pem"), filepath.Join(foreign, "clientkey.pem"))
				out, err = libvirttest.Virsh(t, uri("localhost", foreign), nil, "hostname")
				if err == nil {
					t.Fatalf("virsh with a client certificate from another CA succeeded:\n%s", out)
				}
			})
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExitCodes pins the exit codes testscript's "! exec" cannot tell apart.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"certificates", "--config-dir", dir, "--hosts", "a/b"}, exitUsage},
		{[]string{"certificates", "--config-dir", dir, "--hosts", "a", "--key-algo", "x"}, exitUsage},
		{[]string{"certificates", "--config-dir", dir, "--nope"}, exitUsage},
		{[]string{"certificates", "--config-dir", dir, "--hosts", "a", "--ca-cert", "/nonexistent", "--ca-key", "/nonexistent"}, exitUsage},
		{[]string{"certificates", "--config-dir", dir, "--hosts", "a"}, exitOK},
		{[]string{"version"}, exitOK},
		{[]string{"verify", "--config-dir", dir}, exitOK},
		{[]string{"verify", "--config-dir", dir, "--host", "a=b.example"}, exitFailure},
		{[]string{"verify", "--config-dir", dir, "-o", "xml"}, exitUsage},
		{[]string{"verify", "--config-dir", filepath.Join(dir, "nowhere")}, exitUsage},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if got := run(c.args, nil, &out, &errOut); got != c.want {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, got, c.want, errOut.String())
		}
		if c.want == exitUsage && strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
			t.Errorf("%v: error is not one line:\n%s", c.args, errOut.String())
		}
	}
}
