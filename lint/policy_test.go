package lint

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// TestNoRFCFindingsIntermediateSet: leaves signed by an intermediate CA
// (--ca-cert with the chain to the root, --ca-key), the chain in
// cacert.pem and a CRL the intermediate signs: zlint's RFC lints find
// nothing.
func TestNoRFCFindingsIntermediateSet(t *testing.T) {
	dir := t.TempDir()
	root, err := pki.NewCA(pki.CAOptions{CommonName: "Site-Root", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	interKey, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)), Subject: pkix.Name{CommonName: "Libvirt-Intermediate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(20 * 24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, root.Cert, interKey.Signer.Public(), root.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(der)
	chain := filepath.Join(dir, "chain.pem")
	writeFile(t, chain, string(pki.EncodeCertsPEM(inter, root.Cert)))
	keyFile := filepath.Join(dir, "inter.key")
	writeFile(t, keyFile, string(interKey.PEM))

	tree := layout.Tree{Layout: layout.Kolla, Root: kolla.NovaLibvirtDir(dir, ""), CADir: kolla.CADir(dir)}
	hosts, _ := layout.ParseHosts(nil, []string{"compute01"}, "")
	plan, err := certs.MakePlan(certs.Options{Layout: tree.Layout, Root: tree.Root, CADir: tree.CADir, Hosts: hosts, CACertFile: chain, CAKeyFile: keyFile, RenewBefore: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Revoke(certs.RevokeOptions{Layout: tree.Layout, Root: tree.Root, CADir: tree.CADir, CACertFile: chain, CAKeyFile: keyFile,
		Hosts: []string{"compute01"}, CRLDays: 30}); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(Options{Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	checkObjects(t, rep, []string{"(ca) cacrl.pem", "(shared) cacert.pem", "(shared) cacert.pem", "(shared) cacrl.pem",
		"compute01 servercert.pem", "compute01 clientcert.pem"})
	checkFindings(t, rep, nil)
}

// TestOldPolicyFindingsAreWarnings: a client certificate of libvirt-pki's
// key-usage policy before issue 12 (digitalSignature and keyEncipherment
// on an EC key) is reported with the lints it breaks, as warnings that
// say why, not as errors.
func TestOldPolicyFindingsAreWarnings(t *testing.T) {
	dir := t.TempDir()
	tree := layout.Tree{Layout: layout.Kolla, Root: kolla.NovaLibvirtDir(dir, ""), CADir: kolla.CADir(dir)}
	hosts, _ := layout.ParseHosts(nil, []string{"compute01"}, "")
	ca := testlayout.Issue(t, certs.Options{Layout: tree.Layout, Root: tree.Root, CADir: tree.CADir, Hosts: hosts})
	path := tree.In(tree.HostUnit("compute01"), layout.ClientCert)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certsIn, _ := pki.ParseCertsPEM(data)
	cur := certsIn[0]
	tmpl := *cur
	tmpl.KeyUsage = pki.LibvirtKeyUsage
	tmpl.ExtraExtensions, tmpl.Extensions = nil, nil
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, cur.PublicKey, ca.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := x509.ParseCertificate(der)
	writeFile(t, path, string(pki.EncodeCertsPEM(old)))

	rep, err := Run(Options{Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]verify.Severity{}
	for _, f := range rep.Findings {
		got[f.Lint] = f.Severity
		if f.Severity == verify.Warning && !strings.Contains(f.Details, "certificates --force") {
			t.Errorf("%s: details do not say what to do: %q", f.Lint, f.Details)
		}
	}
	for _, lint := range []string{pki.LintECDSAKeyUsage, pki.LintKUInconsistent} {
		if got[lint] != verify.Warning {
			t.Errorf("%s: severity %q, want warning (all: %v)", lint, got[lint], got)
		}
	}
	if s := rep.Summarize(verify.Error); s.Errors != 0 {
		t.Errorf("%d errors on an old-policy tree: %v", s.Errors, got)
	}
}
