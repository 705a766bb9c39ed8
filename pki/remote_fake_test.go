package pki_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// newFake starts a cfssltest.Fake, which can misbehave: the tests of what
// we refuse from a signer. That a real signer's answers pass is
// TestRemoteIssue100's job.
func newFake(t *testing.T) (*cfssltest.Fake, pki.RemoteOptions) {
	f := cfssltest.NewFake(t)
	return f, f.RemoteOptions()
}

func TestRemoteBadCertificates(t *testing.T) {
	otherKey, _ := pki.GenerateKey(pki.ECDSAP256)
	otherCA, _ := pki.NewCA(pki.CAOptions{CommonName: "another CA", Algo: pki.ECDSAP256, Days: 30})
	cases := []struct {
		name, problem string
		spoil         func(f *cfssltest.Fake)
	}{
		{"another key", "it is for another key", func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, _ *x509.Certificate) crypto.PublicKey { return otherKey.Signer.Public() }
		}},
		{"extra SAN", `its SANs are ["compute001" "compute001.example.org" "evil.example.org"`, func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, c *x509.Certificate) crypto.PublicKey {
				c.DNSNames = append(c.DNSNames, "evil.example.org")
				return nil
			}
		}},
		{"missing IP", "its SANs are", func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, c *x509.Certificate) crypto.PublicKey { c.IPAddresses = nil; return nil }
		}},
		{"client usage", "its extendedKeyUsage is not serverAuth alone", func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, c *x509.Certificate) crypto.PublicKey {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
				return nil
			}
		}},
		{"keyEncipherment on EC", "its keyUsage is digitalSignature, keyEncipherment, the server profile gives none", func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, c *x509.Certificate) crypto.PublicKey {
				c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
				return nil
			}
		}},
		{"a CA", "it lacks basicConstraints CA:FALSE", func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, c *x509.Certificate) crypto.PublicKey { c.IsCA = true; return nil }
		}},
		{"longer", "it runs", func(f *cfssltest.Fake) {
			f.Mutate = func(_ int, c *x509.Certificate) crypto.PublicKey {
				c.NotAfter = c.NotAfter.AddDate(0, 0, 30)
				return nil
			}
		}},
		{"another CA", `it does not chain to the CA "fake signer CA"`, func(f *cfssltest.Fake) { f.Signer = otherCA }},
		{"a bundle", "2 certificates came back", func(f *cfssltest.Fake) {
			f.Reply = func(p []byte) string { return string(p) + string(pki.EncodeCertsPEM(f.CA.Cert)) }
		}},
		{"no certificate", "it returned no certificate", func(f *cfssltest.Fake) {
			f.Reply = func([]byte) string { return "no PEM here" }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, o := newFake(t)
			ca := remoteCA(t, o)
			c.spoil(f)
			cert, certPEM, err := ca.Issue(hostLeaf(t, 1, pki.ServerProfile, pki.ECDSAP256))
			wantClass(t, err, pki.RemoteBadCertificate, c.problem)
			if cert != nil || certPEM != nil {
				t.Fatal("a refused certificate was returned")
			}
			var bad *pki.BadCertificateError
			if c.name != "no certificate" && !errors.As(err, &bad) {
				t.Fatalf("%v is not a BadCertificateError", err)
			}
		})
	}
}

// TestRemoteFakeGood: the fake's unspoiled answer passes, so the cases
// above fail for their spoiling alone.
func TestRemoteFakeGood(t *testing.T) {
	f, o := newFake(t)
	ca := remoteCA(t, o)
	for _, prof := range pki.Profiles {
		req := hostLeaf(t, 1, prof, pki.ECDSAP256)
		cert, _, err := ca.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkLeaf(ca, req, cert); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.Signs(); n != 2 {
		t.Fatalf("%d sign requests, want 2", n)
	}
}

// TestRemoteRetries: 5xx is retried (three tries in all), a refusal is not.
func TestRemoteRetries(t *testing.T) {
	cases := []struct {
		refuse []cfssltest.Refusal
		tries  int
		class  pki.RemoteClass
		text   string
	}{
		{[]cfssltest.Refusal{{Status: 503, Message: "busy"}, {Status: 502, Message: "bad gateway"}}, 3, "", ""},
		{[]cfssltest.Refusal{{Status: 503, Message: "busy"}, {Status: 500, Message: "x"}, {Status: 503, Message: "busy"}}, 3, pki.RemoteUnreachable, "failing after 3 tries: HTTP 503: busy"},
		{[]cfssltest.Refusal{{Status: 400, Message: "invalid token"}}, 1, pki.RemoteAuthRefused, "it refused our auth key"},
		{[]cfssltest.Refusal{{Status: 400, Message: "invalid profile"}}, 1, pki.RemoteProfileRefused, "invalid profile"},
		{[]cfssltest.Refusal{{Status: 400, Message: "bad request"}}, 1, pki.RemoteProfileRefused, "bad request"},
		{[]cfssltest.Refusal{{Status: 404, Message: "no such endpoint"}}, 1, pki.RemoteProtocol, "the URL must be a cfssl signer"},
	}
	for _, c := range cases {
		f, o := newFake(t)
		ca := remoteCA(t, o)
		f.Refuse = c.refuse
		_, _, err := ca.Issue(hostLeaf(t, 1, pki.ClientProfile, pki.ECDSAP256))
		if c.class == "" && err != nil {
			t.Fatalf("%v: %v", c.refuse, err)
		} else if c.class != "" {
			wantClass(t, err, c.class, c.text)
		}
		if n := f.Signs(); n != c.tries {
			t.Errorf("%v: %d tries, want %d", c.refuse, n, c.tries)
		}
	}
}

// TestRemoteContext: RemoteCA gives up when its context ends.
func TestRemoteContext(t *testing.T) {
	_, o := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := pki.RemoteCA(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
