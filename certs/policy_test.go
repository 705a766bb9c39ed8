package certs

import (
	"crypto/rand"
	"crypto/x509"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// makeOldPolicy re-signs the leaf at certPath as libvirt-pki made leaves
// before issue 12: keyUsage digitalSignature and keyEncipherment on every
// key, no organization in the subject (the default had none), the rest
// (key, CN, SANs, dates) kept.
func makeOldPolicy(t *testing.T, ca *pki.CA, certPath string) {
	t.Helper()
	old := readCert(t, certPath)
	tmpl := &x509.Certificate{
		SerialNumber: old.SerialNumber, Subject: old.Subject, NotBefore: old.NotBefore, NotAfter: old.NotAfter,
		KeyUsage: pki.LibvirtKeyUsage, ExtKeyUsage: old.ExtKeyUsage, BasicConstraintsValid: true,
		DNSNames: old.DNSNames, IPAddresses: old.IPAddresses, SubjectKeyId: old.SubjectKeyId,
	}
	tmpl.Subject.Organization = nil
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, old.PublicKey, ca.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	if err := os.WriteFile(certPath, pki.EncodeCertsPEM(c), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOldPolicyReissuedOnlyWhenDueOrForced: leaves of the key-usage
// policy and subject default before issue 12 are kept by certificates
// (no --org), are re-issued under the new policy by --force keeping
// their DN, and renew gives a due one the new policy; a new host gets
// the CA's name as its organization.
func TestOldPolicyReissuedOnlyWhenDueOrForced(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Libvirt, dir, false, "c1")
	o.Org = ""
	ca := loadTestCA(t, o.CADir)
	tree := layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
	certPath := func(host string, role layout.Role) string { return tree.In(tree.HostUnit(host), role) }
	for _, role := range []layout.Role{layout.ServerCert, layout.ClientCert} {
		makeOldPolicy(t, ca, certPath("c1", role))
	}
	before := snapshot(t, dir)

	h2, _ := layout.ParseHostSpec("c2=192.0.2.2")
	o.Hosts = append(o.Hosts, h2)
	p, err := MakePlan(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Leaves {
		want := Unchanged
		if l.Host == "c2" {
			want = Create
		}
		if l.Action != want {
			t.Errorf("%s %s: %s (%s), want %s", l.Host, l.Profile, l.Action, l.Reason, want)
		}
	}
	if err := p.Apply(nil); err != nil {
		t.Fatal(err)
	}
	for _, role := range []layout.Role{layout.ServerCert, layout.ClientCert} {
		if got := readCert(t, certPath("c2", role)).Subject.Organization; !slices.Equal(got, []string{ca.Cert.Subject.CommonName}) {
			t.Errorf("new c2 %s: O=%v, want the CA's CN %q", role, got, ca.Cert.Subject.CommonName)
		}
	}
	after := snapshot(t, dir)
	for path, v := range before {
		if after[path] != v {
			t.Errorf("%s changed without --force", path)
		}
	}

	o.Force = true
	p, err = MakePlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(nil); err != nil {
		t.Fatal(err)
	}
	for _, role := range []layout.Role{layout.ServerCert, layout.ClientCert} {
		c := readCert(t, certPath("c1", role))
		if pki.CheckPolicy(c) != nil || c.Subject.Organization != nil || c.Subject.CommonName != "c1" {
			t.Errorf("forced c1 %s: policy %v, subject %v (want the new policy, the old DN)", role, pki.CheckPolicy(c), c.Subject)
		}
	}

	// A due old-policy leaf: renew re-issues it under the new policy.
	makeOldPolicy(t, ca, certPath("c1", layout.ClientCert))
	res, err := Renew(RenewOptions{Layout: o.Layout, Root: o.Root, CADir: o.CADir, RenewBefore: 100000 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if c := readCert(t, certPath("c1", layout.ClientCert)); res.Renewed == 0 || pki.CheckPolicy(c) != nil {
		t.Errorf("renewed %d; c1's client certificate after renew: %v", res.Renewed, pki.CheckPolicy(c))
	}
}
