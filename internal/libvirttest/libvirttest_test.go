package libvirttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// TestStartServesTLS proves the harness itself with certificates made by
// the real openssl, independently of our own pki package.
func TestStartServesTLS(t *testing.T) {
	openssl := peer.Require(t, "openssl")[0]
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "cakey.pem", "-out", "cacert.pem", "-subj", "/CN=test CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	for _, leaf := range []struct{ name, eku string }{{"server", "serverAuth"}, {"client", "clientAuth"}} {
		ext := filepath.Join(dir, leaf.name+".ext")
		os.WriteFile(ext, []byte("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage="+leaf.eku+"\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"), 0o644)
		run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", leaf.name+"key.pem", "-out", leaf.name+".csr", "-subj", "/CN=localhost")
		run("x509", "-req", "-in", leaf.name+".csr", "-CA", "cacert.pem", "-CAkey", "cakey.pem", "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", leaf.name+"cert.pem")
	}
	d := Start(t, Config{CACert: filepath.Join(dir, "cacert.pem"), ServerCert: filepath.Join(dir, "servercert.pem"), ServerKey: filepath.Join(dir, "serverkey.pem")})
	pki := t.TempDir()
	for _, f := range []string{"cacert.pem", "clientcert.pem", "clientkey.pem"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(pki, f), b, 0o600)
	}
	out, err := Virsh(t, "test+tls://localhost:"+strconv.Itoa(d.Port)+"/default?pkipath="+pki, nil, "hostname")
	t.Logf("virsh hostname: %s", out)
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("virsh hostname: %v\n%s\nlog:\n%s", err, out, d.Log())
	}
}
