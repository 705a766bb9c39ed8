package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

func TestIssueEveryAlgo(t *testing.T) {
	for _, algo := range KeyAlgos {
		t.Run(string(algo), func(t *testing.T) {
			ca, err := NewCA(CAOptions{CommonName: "test CA", Org: "Example", Algo: algo, Days: 10})
			if err != nil {
				t.Fatal(err)
			}
			if !ca.Cert.IsCA || ca.Cert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Fatalf("CA usages: isCA=%v ku=%v", ca.Cert.IsCA, ca.Cert.KeyUsage)
			}
			for _, prof := range Profiles {
				key, err := GenerateKey(algo)
				if err != nil {
					t.Fatal(err)
				}
				if got := AlgoOf(key.Signer.Public()); got != algo {
					t.Fatalf("AlgoOf = %s", got)
				}
				cert, _, err := ca.Issue(LeafRequest{Profile: prof, CommonName: "compute01", Org: "Example", Key: key, Days: 5,
					SANs: SANs{DNS: []string{"compute01", "compute01.example.org"}, IPs: []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::10")}}})
				if err != nil {
					t.Fatal(err)
				}
				if err := ca.Verify(cert, time.Now()); err != nil {
					t.Fatal(err)
				}
				if p := UsageProblems(cert, prof); p != nil {
					t.Fatal(p)
				}
				if !cert.BasicConstraintsValid || cert.IsCA {
					t.Fatal("leaf must carry basicConstraints CA:FALSE")
				}
				if cert.SerialNumber.BitLen() < 128 {
					t.Fatalf("serial has %d bits", cert.SerialNumber.BitLen())
				}
				want := []string{"compute01", "compute01.example.org", "192.0.2.10", "2001:db8::10"}
				if got := SANsOf(cert).Strings(); !slices.Equal(got, want) {
					t.Fatalf("SANs %v, want %v", got, want)
				}
				if cert.Subject.CommonName != "compute01" || !slices.Equal(cert.Subject.Organization, []string{"Example"}) {
					t.Fatalf("subject %v", cert.Subject)
				}
				if !KeyMatches(key.Signer, cert) {
					t.Fatal("key does not match")
				}
				if cert.NotAfter.After(ca.Cert.NotAfter) {
					t.Fatal("leaf outlives CA")
				}
			}
		})
	}
}

func TestLoadCARefusesBadInput(t *testing.T) {
	ca, err := NewCA(CAOptions{CommonName: "a", Algo: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA(CAOptions{CommonName: "b", Algo: ECDSAP256})
	key, _ := GenerateKey(ECDSAP256)
	leaf, leafPEM, _ := ca.Issue(LeafRequest{Profile: ServerProfile, CommonName: "h", Key: key, SANs: SANs{DNS: []string{"h"}}})
	_ = leaf
	cases := map[string]struct{ cert, key []byte }{
		"garbage":      {[]byte("hello"), ca.Key.PEM},
		"not a CA":     {leafPEM, key.PEM},
		"key mismatch": {ca.CertPEM, other.Key.PEM},
		"garbage key":  {ca.CertPEM, []byte("nope")},
		"no root":      {append(append([]byte{}, ca.CertPEM...), other.CertPEM...), ca.Key.PEM},
	}
	for name, c := range cases {
		if _, err := LoadCA(c.cert, c.key); err == nil {
			t.Errorf("%s: LoadCA accepted it", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := LoadCA(ca.CertPEM, ca.Key.PEM); err != nil {
		t.Fatal(err)
	}
}

func TestParseKeyAlgo(t *testing.T) {
	if _, err := ParseKeyAlgo("dsa-1024"); err == nil {
		t.Fatal("accepted dsa")
	}
	if a, err := ParseKeyAlgo("RSA-3072"); err != nil || a != RSA3072 {
		t.Fatal(a, err)
	}
}

// TestReadCertsFileBounded: a FIFO is refused at once (not waited on), and
// so is a file over fsutil.LimitCert.
func TestReadCertsFileBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "cacert.pem")
	testutil.Mkfifo(t, fifo)
	if _, err := ReadCertsFile(fifo); !errors.Is(err, fsutil.ErrNotRegular) {
		t.Fatalf("FIFO: %v", err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, fsutil.LimitCert+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCertsFile(big); !errors.Is(err, fsutil.ErrTooLarge) {
		t.Fatalf("big file: %v", err)
	}
}

// TestKeyWeakness is the key policy: every algorithm libvirt-pki issues
// passes it; RSA under 2048 bits and curves under 256 bits do not.
func TestKeyWeakness(t *testing.T) {
	for _, algo := range KeyAlgos {
		k, err := GenerateKey(algo)
		if err != nil {
			t.Fatal(err)
		}
		if w := KeyWeakness(k.Signer.Public()); w != "" {
			t.Errorf("%s: %s", algo, w)
		}
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if w := KeyWeakness(p224.Public()); w != "a 224-bit EC key, under the 256 bits libvirt-pki's key policy requires" {
		t.Errorf("P-224: %q", w)
	}
	if r1024, err := rsa.GenerateKey(rand.Reader, 1024); err == nil {
		if w := KeyWeakness(r1024.Public()); w != "a 1024-bit RSA key, under the 2048 bits libvirt-pki's key policy requires" {
			t.Errorf("RSA-1024: %q", w)
		}
	}
}
