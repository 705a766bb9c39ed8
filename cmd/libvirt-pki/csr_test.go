package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// opensslSign signs a --csr-only request with the real openssl acting as
// the external CA, giving the SANs and usages of its manifest entry (or
// sans instead, to spoil it), into dir.
func opensslSign(t *testing.T, openssl, root, caCert, caKey string, r certs.CSRRequest, sans []string, dir string) {
	t.Helper()
	if sans == nil {
		for _, d := range r.DNSNames {
			sans = append(sans, "DNS:"+d)
		}
		for _, ip := range r.IPAddresses {
			sans = append(sans, "IP:"+ip)
		}
	}
	ext := "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=" + strings.Join(r.ExtKeyUsage, ",") + "\nsubjectAltName=" + strings.Join(sans, ",") + "\n"
	if len(r.KeyUsage) > 0 {
		ext += "keyUsage=critical," + strings.Join(r.KeyUsage, ",") + "\n"
	}
	extFile := filepath.Join(t.TempDir(), "ext.cnf")
	os.WriteFile(extFile, []byte(ext), 0o600)
	name := strings.ReplaceAll(r.Host+"-"+r.Kind, "/", "_") + ".crt"
	cmd := exec.Command(openssl, "x509", "-req", "-in", filepath.Join(root, r.CSR), "-CA", caCert, "-CAkey", caKey,
		"-days", "365", "-sha256", // OpenSSL 3 gives a random serial
		"-extfile", extFile, "-out", filepath.Join(dir, name))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl x509 -req: %v\n%s", err, out)
	}
}

// TestCSRFlow runs the external-CA flow with openssl as the CA:
// --csr-only (twice: nothing changes), a certificate with a wrong SAN
// refused by --import with nothing written, then --import of what
// openssl signed from the manifest (twice: nothing changes).
func TestCSRFlow(t *testing.T) {
	openssl := peer.Require(t, "openssl")[0]
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "Offline Root", Org: "Example", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	os.WriteFile(caCert, ca.CertPEM, 0o644)
	os.WriteFile(caKey, ca.Key.PEM, 0o600)
	out := filepath.Join(dir, "pki")
	base := []string{"certificates", "--layout", "libvirt", "--out", out, "--host", "h1.example.org=10.0.0.1", "--host", "h2.example.org", "--ca-cert", caCert}
	mustCLI(t, append(base, "--csr-only")...)
	first, _ := snapshotFiles(out)
	mustCLI(t, append(base, "--csr-only")...)
	if again, _ := snapshotFiles(out); sameFiles(first, again) != nil {
		t.Fatalf("a second --csr-only changed files: %v", sameFiles(first, again))
	}
	var m certs.CSRManifest
	data, _ := os.ReadFile(filepath.Join(out, certs.CSRManifestFile))
	if err := json.Unmarshal(data, &m); err != nil || len(m.Requests) != 4 {
		t.Fatalf("manifest: %v, %d requests\n%s", err, len(m.Requests), data)
	}
	good, bad := filepath.Join(dir, "signed"), filepath.Join(dir, "spoiled")
	os.Mkdir(good, 0o755)
	os.Mkdir(bad, 0o755)
	for i, r := range m.Requests {
		opensslSign(t, openssl, out, caCert, caKey, r, nil, good)
		if i == 1 {
			opensslSign(t, openssl, out, caCert, caKey, r, []string{"DNS:elsewhere.example.org"}, bad)
		} else {
			opensslSign(t, openssl, out, caCert, caKey, r, nil, bad)
		}
	}
	code, _, errOut := cli(t, append(base, "--import", bad)...)
	if code != exitFailure || !strings.Contains(errOut, "elsewhere.example.org") {
		t.Fatalf("--import of a wrong-SAN certificate: exit %d, %q", code, errOut)
	}
	if now, _ := snapshotFiles(out); sameFiles(first, now) != nil || len(leftovers(out)) > 0 {
		t.Fatalf("a refused import wrote: %v %v", sameFiles(first, now), leftovers(out))
	}
	mustCLI(t, append(base, "--import", good)...)
	if n := checkPairs(t, out, ca); n != 4 {
		t.Fatalf("%d pairs imported, want 4", n)
	}
	cacert, _ := os.ReadFile(filepath.Join(out, "h1.example.org/etc/pki/CA/cacert.pem"))
	if !bytes.Equal(cacert, ca.CertPEM) {
		t.Error("cacert.pem is not the external CA's certificate")
	}
	imported, _ := snapshotFiles(out)
	if stdout := mustCLI(t, append(base, "--import", good)...); !strings.Contains(stdout, "unchanged") {
		t.Errorf("second import: %s", stdout)
	}
	if now, _ := snapshotFiles(out); sameFiles(imported, now) != nil {
		t.Errorf("a second --import changed files: %v", sameFiles(imported, now))
	}
}
