package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/zlinttest"
)

// TestIssuedUsagesArePolicy: what cfssl signs is exactly the profile's
// keyUsage for the key's family (critical, or no extension at all when
// the policy has none), libvirt's rule accepts it, CheckPolicy finds
// nothing, and zlint's RFC lints report nothing, for every algorithm and
// profile.
func TestIssuedUsagesArePolicy(t *testing.T) {
	for _, algo := range KeyAlgos {
		ca, err := NewCA(CAOptions{CommonName: "test CA", Algo: algo, Days: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := zlinttest.RFCFindings(t, ca.Cert.Raw); got != nil {
			t.Errorf("%s CA: zlint %v", algo, got)
		}
		key, err := GenerateKey(algo)
		if err != nil {
			t.Fatal(err)
		}
		for _, prof := range Profiles {
			cert, _, err := ca.Issue(LeafRequest{Profile: prof, CommonName: "compute01", Org: "test CA", Key: key, SANs: SANs{DNS: []string{"compute01"}}})
			if err != nil {
				t.Fatal(err)
			}
			want := prof.KeyUsage[algo.Family()]
			if has := hasExtension(cert, oidKeyUsage); has != (want != 0) || cert.KeyUsage != want || (has && !critical(cert, oidKeyUsage)) {
				t.Errorf("%s %s: keyUsage present=%v %s critical=%v, want %s critical", algo, prof.Name, has, KeyUsageString(cert.KeyUsage), critical(cert, oidKeyUsage), KeyUsageString(want))
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{prof.ExtUsage}) {
				t.Errorf("%s %s: EKU %v", algo, prof.Name, cert.ExtKeyUsage)
			}
			if p := CheckUsage(cert, prof); p != nil {
				t.Errorf("%s %s: CheckUsage %v", algo, prof.Name, p)
			}
			if p := CheckPolicy(cert); p != nil {
				t.Errorf("%s %s: CheckPolicy %v", algo, prof.Name, p)
			}
			if got := zlinttest.RFCFindings(t, cert.Raw); got != nil {
				t.Errorf("%s %s: zlint %v", algo, prof.Name, got)
			}
		}
	}
}

// TestCheckPolicyAgreesWithZlint: for every combination of the usual
// keyUsage bits, criticality, key family and libvirt EKU, CheckPolicy
// names exactly the key-usage lints zlint reports; and CheckUsage accepts
// every certificate whose keyUsage holds digitalSignature and
// keyEncipherment (the policy before issue 12 among them) or has none.
func TestCheckPolicyAgreesWithZlint(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: true, KeyUsage: caKeyUsage}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := map[KeyFamily]crypto.Signer{RSAKeys: rsaKey, ECKeys: caKey}
	bits := []x509.KeyUsage{x509.KeyUsageDigitalSignature, x509.KeyUsageKeyEncipherment, x509.KeyUsageKeyAgreement, x509.KeyUsageDataEncipherment}
	ekus := [][]x509.ExtKeyUsage{{x509.ExtKeyUsageServerAuth}, {x509.ExtKeyUsageClientAuth}, {x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	ours := []string{LintECDSAKeyUsage, LintKUInconsistent, LintKUNotCritical}
	for mask := 0; mask < 1<<len(bits); mask++ {
		var ku x509.KeyUsage
		for i, b := range bits {
			if mask&(1<<i) != 0 {
				ku |= b
			}
		}
		for _, fam := range KeyFamilies {
			for _, eku := range ekus {
				for _, crit := range []bool{true, false} {
					name := fmt.Sprintf("%s %s %v critical=%v", fam, KeyUsageString(ku), eku, crit)
					cert := leafWith(t, caCert, caKey, keys[fam], ku, crit, eku)
					var want []string
					for _, f := range zlinttest.RFCFindings(t, cert.Raw) {
						if slices.Contains(ours, f) {
							want = append(want, f)
						}
					}
					var got []string
					for _, p := range CheckPolicy(cert) {
						got = append(got, p.Lint)
					}
					sort.Strings(got)
					if !slices.Equal(got, want) {
						t.Errorf("%s: CheckPolicy %v, zlint %v", name, got, want)
					}
					prof := ServerProfile
					if !slices.Contains(eku, x509.ExtKeyUsageServerAuth) {
						prof = ClientProfile
					}
					libvirtOK := ku == 0 || ku&LibvirtKeyUsage == LibvirtKeyUsage
					if gotOK := CheckUsage(cert, prof) == nil; gotOK != libvirtOK {
						t.Errorf("%s: CheckUsage accepts=%v, libvirt accepts=%v", name, gotOK, libvirtOK)
					}
				}
			}
		}
	}
}

// leafWith signs a leaf for key with keyUsage ku (none when 0) of the
// given criticality and EKUs.
func leafWith(t *testing.T, ca *x509.Certificate, caKey crypto.Signer, key crypto.Signer, ku x509.KeyUsage, crit bool, eku []x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "h"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, ExtKeyUsage: eku, DNSNames: []string{"h"}, SubjectKeyId: []byte{1, 2, 3, 4}}
	if ku != 0 {
		tmpl.KeyUsage = ku
		probe, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := x509.ParseCertificate(probe)
		for _, e := range parsed.Extensions {
			if e.Id.Equal(oidKeyUsage) {
				tmpl.ExtraExtensions = []pkix.Extension{{Id: oidKeyUsage, Critical: crit, Value: e.Value}}
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
