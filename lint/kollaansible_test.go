package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// The openssl configuration kolla-ansible's certificates role templates
// for libvirt (openssl-kolla-libvirt.cnf.j2): a subject with no CN, and
// one SAN DNS name per compute host.
const kollaLibvirtCnf = `[req]
prompt = no
distinguished_name = req_distinguished_name
req_extensions = v3_req

[req_distinguished_name]
countryName = US
stateOrProvinceName = NC
localityName = RTP
organizationalUnitName = kolla

[v3_req]
subjectAltName = @alt_names

[alt_names]
DNS.1 = compute01
DNS.2 = compute02
`

// The root kolla-ansible's generate-root.yml makes: RSA-4096, CN
// KollaTestCA, critical CA:TRUE and critical keyUsage digitalSignature,
// keyCertSign, self-signed.
const kollaRootCnf = `[req]
prompt = no
distinguished_name = dn
x509_extensions = v3_ca

[dn]
commonName = KollaTestCA

[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
`

// kollaAnsibleRFCFindings is what zlint's RFC lints report on that tree:
// nothing. Its one certificate, copied to servercert.pem and
// clientcert.pem, has no keyUsage and no extendedKeyUsage, so no usage
// lint applies, and openssl 3 adds both key identifiers.
var kollaAnsibleRFCFindings = []string{}

// kollaAnsibleCABFFindings are some of the web-PKI findings
// --include-cabf adds on that certificate: those whose lints are in
// force for any issuance date from 2020 on (the validity-period lints
// are left out, they change with the date the test runs).
var kollaAnsibleCABFFindings = []string{
	"e_sub_cert_eku_missing",                  // CABF BR: no extendedKeyUsage
	"w_missing_key_usage",                     // CABF BR: no keyUsage
	"e_sub_cert_certificate_policies_missing", // CABF BR: no certificatePolicies
	"e_dnsname_not_valid_tld",                 // CABF BR: compute01 is no public name
}

// TestKollaAnsibleCertificatesLayout makes the tree `kolla-ansible
// certificates` writes for libvirt, with the real openssl and kolla's own
// commands, and lints it with the default (kolla) layout flags.
func TestKollaAnsibleCertificatesLayout(t *testing.T) {
	openssl := peer.Require(t, "openssl")[0]
	dir := t.TempDir()
	private := filepath.Join(dir, "certificates", "private")
	rootDir, libvirtDir := filepath.Join(private, "root"), filepath.Join(private, "libvirt")
	out := kolla.NovaLibvirtDir(dir, "")
	for _, d := range []string{rootDir, libvirtDir, out} {
		if err := os.MkdirAll(d, 0o770); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(rootDir, "root.cnf"), kollaRootCnf)
	writeFile(t, filepath.Join(dir, "certificates", "openssl-kolla-libvirt.cnf"), kollaLibvirtCnf)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, b)
		}
	}
	run("req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", "certificates/private/root/root.key",
		"-out", "certificates/private/root/root.crt", "-days", "1024", "-config", "certificates/private/root/root.cnf")
	run("genrsa", "-out", "certificates/private/libvirt/libvirt.key", "2048")
	run("req", "-new", "-key", "certificates/private/libvirt/libvirt.key", "-out", "certificates/private/libvirt/libvirt.csr",
		"-config", "certificates/openssl-kolla-libvirt.cnf", "-sha256")
	run("x509", "-req", "-in", "certificates/private/libvirt/libvirt.csr", "-CA", "certificates/private/root/root.crt",
		"-CAkey", "certificates/private/root/root.key", "-CAcreateserial", "-extensions", "v3_req",
		"-extfile", "certificates/openssl-kolla-libvirt.cnf", "-out", "certificates/private/libvirt/libvirt.crt", "-days", "500", "-sha256")
	for src, dsts := range map[string][]string{
		filepath.Join(rootDir, "root.crt"):       {"cacert.pem"},
		filepath.Join(libvirtDir, "libvirt.crt"): {"servercert.pem", "clientcert.pem"},
		filepath.Join(libvirtDir, "libvirt.key"): {"serverkey.pem", "clientkey.pem"},
	} {
		for _, dst := range dsts {
			copyFile(t, src, filepath.Join(out, dst))
			if err := os.Chmod(filepath.Join(out, dst), 0o660); err != nil {
				t.Fatal(err)
			}
		}
	}
	tree := layout.Tree{Layout: layout.Kolla, Root: out, CADir: kolla.CADir(dir)}
	rep, err := Run(Options{Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	checkObjects(t, rep, []string{"(shared) cacert.pem", "(shared) servercert.pem", "(shared) clientcert.pem"})
	checkFindings(t, rep, kollaAnsibleRFCFindings)
	checkCABF(t, tree, kollaAnsibleCABFFindings)
}

// checkCABF lints tree with IncludeCABF: every lint of want must be
// reported on both leaves, and every finding must come from a source the
// default run leaves out.
func checkCABF(t *testing.T, tree layout.Tree, want []string) {
	t.Helper()
	rep, err := Run(Options{Tree: tree, IncludeCABF: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		got[f.File+" "+f.Lint] = true
		if strings.HasPrefix(f.Source, rfcSourcePrefix) {
			t.Errorf("--include-cabf: %s is an RFC finding (%s) the default run did not report", f.Lint, f.Source)
		}
	}
	for _, file := range []string{"servercert.pem", "clientcert.pem"} {
		for _, l := range want {
			if !got[file+" "+l] {
				t.Errorf("--include-cabf: %s: no %s", file, l)
			}
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
