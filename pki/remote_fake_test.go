package pki_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cloudflare/cfssl/auth"
	"github.com/cloudflare/cfssl/info"
	"github.com/cloudflare/cfssl/signer"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// fakeSigner speaks cfssl's signing API (the JSON multirootca speaks) but
// can misbehave: the tests of what we refuse from a signer. That a real
// signer's answers pass is TestRemoteIssue100's job.
type fakeSigner struct {
	t  *testing.T
	ca *pki.CA // the CA the info endpoint gives
	// signer signs (default ca); mutate changes the certificate and may
	// return another public key; reply replaces the PEM answered.
	signer *pki.CA
	mutate func(tmpl *x509.Certificate) crypto.PublicKey
	reply  func(certPEM []byte) string
	// refuse answers the first sign requests with a CSR so.
	refuse []refusal
	signs  atomic.Int32
}

type refusal struct {
	status  int
	message string
}

func newFake(t *testing.T) (*fakeSigner, pki.RemoteOptions) {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "fake signer CA", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSigner{t: t, ca: ca, signer: ca}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return f, pki.RemoteOptions{URL: srv.URL, AuthKey: strings.Repeat("ab", 32), TLSRoots: roots}
}

func (f *fakeSigner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var result any
	switch r.URL.Path {
	case "/api/v1/cfssl/info":
		var req info.Req
		json.NewDecoder(r.Body).Decode(&req)
		result = info.Resp{Certificate: string(pki.EncodeCertsPEM(f.ca.Cert)), Usage: profileUsages(f.t)[req.Profile]}
	case "/api/v1/cfssl/authsign":
		var areq auth.AuthenticatedRequest
		var req signer.SignRequest
		json.NewDecoder(r.Body).Decode(&areq)
		json.Unmarshal(areq.Request, &req)
		if req.Request == "" {
			answer(w, http.StatusBadRequest, nil, "invalid request")
			return
		}
		if n := int(f.signs.Add(1)); n <= len(f.refuse) {
			answer(w, f.refuse[n-1].status, nil, f.refuse[n-1].message)
			return
		}
		result = map[string]string{"certificate": f.sign(req)}
	default:
		http.NotFound(w, r)
		return
	}
	answer(w, http.StatusOK, result, "")
}

func answer(w http.ResponseWriter, status int, result any, message string) {
	w.WriteHeader(status)
	ans := map[string]any{"success": status == http.StatusOK, "result": result, "errors": []any{}}
	if message != "" {
		ans["errors"] = []any{map[string]any{"code": 1, "message": message}}
	}
	json.NewEncoder(w).Encode(ans)
}

// profileUsages are SignerConfig's usages by profile name.
func profileUsages(t *testing.T) map[string][]string {
	var cfg struct {
		Signing struct {
			Profiles map[string]struct{ Usages []string }
		}
	}
	data, _ := pki.SignerConfig("", "file:k")
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Error(err)
	}
	out := map[string][]string{}
	for name, p := range cfg.Signing.Profiles {
		out[name] = p.Usages
	}
	return out
}

// sign makes what a correct signer would for an ECDSA key, then lets
// the test spoil it.
func (f *fakeSigner) sign(req signer.SignRequest) string {
	block, _ := pem.Decode([]byte(req.Request))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		f.t.Error(err)
		return ""
	}
	eku := x509.ExtKeyUsageClientAuth
	if strings.HasPrefix(req.Profile, "server") {
		eku = x509.ExtKeyUsageServerAuth
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: csr.Subject, NotBefore: req.NotBefore, NotAfter: req.NotAfter,
		BasicConstraintsValid: true, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	for _, h := range req.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	pub := csr.PublicKey
	if f.mutate != nil {
		if p := f.mutate(tmpl); p != nil {
			pub = p
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.signer.Cert, pub, f.signer.Key.Signer)
	if err != nil {
		f.t.Error(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if f.reply != nil {
		return f.reply(certPEM)
	}
	return string(certPEM)
}

func TestRemoteBadCertificates(t *testing.T) {
	otherKey, _ := pki.GenerateKey(pki.ECDSAP256)
	otherCA, _ := pki.NewCA(pki.CAOptions{CommonName: "another CA", Algo: pki.ECDSAP256, Days: 30})
	cases := []struct {
		name, problem string
		spoil         func(f *fakeSigner)
	}{
		{"another key", "it is for another key", func(f *fakeSigner) {
			f.mutate = func(*x509.Certificate) crypto.PublicKey { return otherKey.Signer.Public() }
		}},
		{"extra SAN", `its SANs are ["compute001" "compute001.example.org" "evil.example.org"`, func(f *fakeSigner) {
			f.mutate = func(c *x509.Certificate) crypto.PublicKey {
				c.DNSNames = append(c.DNSNames, "evil.example.org")
				return nil
			}
		}},
		{"missing IP", "its SANs are", func(f *fakeSigner) {
			f.mutate = func(c *x509.Certificate) crypto.PublicKey { c.IPAddresses = nil; return nil }
		}},
		{"client usage", "its extendedKeyUsage is not serverAuth alone", func(f *fakeSigner) {
			f.mutate = func(c *x509.Certificate) crypto.PublicKey {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
				return nil
			}
		}},
		{"keyEncipherment on EC", "its keyUsage is digitalSignature, keyEncipherment, the server profile gives none", func(f *fakeSigner) {
			f.mutate = func(c *x509.Certificate) crypto.PublicKey {
				c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
				return nil
			}
		}},
		{"a CA", "it lacks basicConstraints CA:FALSE", func(f *fakeSigner) {
			f.mutate = func(c *x509.Certificate) crypto.PublicKey { c.IsCA = true; return nil }
		}},
		{"longer", "it runs", func(f *fakeSigner) {
			f.mutate = func(c *x509.Certificate) crypto.PublicKey { c.NotAfter = c.NotAfter.AddDate(0, 0, 30); return nil }
		}},
		{"another CA", `it does not chain to the CA "fake signer CA"`, func(f *fakeSigner) { f.signer = otherCA }},
		{"a bundle", "2 certificates came back", func(f *fakeSigner) {
			f.reply = func(p []byte) string { return string(p) + string(pki.EncodeCertsPEM(f.ca.Cert)) }
		}},
		{"no certificate", "it returned no certificate", func(f *fakeSigner) {
			f.reply = func([]byte) string { return "no PEM here" }
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
	if n := f.signs.Load(); n != 2 {
		t.Fatalf("%d sign requests, want 2", n)
	}
}

// TestRemoteRetries: 5xx is retried (three tries in all), a refusal is not.
func TestRemoteRetries(t *testing.T) {
	cases := []struct {
		refuse []refusal
		tries  int32
		class  pki.RemoteClass
		text   string
	}{
		{[]refusal{{503, "busy"}, {502, "bad gateway"}}, 3, "", ""},
		{[]refusal{{503, "busy"}, {500, "x"}, {503, "busy"}}, 3, pki.RemoteUnreachable, "failing after 3 tries: HTTP 503: busy"},
		{[]refusal{{400, "invalid token"}}, 1, pki.RemoteAuthRefused, "it refused our auth key"},
		{[]refusal{{400, "invalid profile"}}, 1, pki.RemoteProfileRefused, "invalid profile"},
		{[]refusal{{400, "bad request"}}, 1, pki.RemoteProfileRefused, "bad request"},
		{[]refusal{{404, "no such endpoint"}}, 1, pki.RemoteProtocol, "the URL must be a cfssl signer"},
	}
	for _, c := range cases {
		f, o := newFake(t)
		ca := remoteCA(t, o)
		f.refuse = c.refuse
		_, _, err := ca.Issue(hostLeaf(t, 1, pki.ClientProfile, pki.ECDSAP256))
		if c.class == "" && err != nil {
			t.Fatalf("%v: %v", c.refuse, err)
		} else if c.class != "" {
			wantClass(t, err, c.class, c.text)
		}
		if n := f.signs.Load(); n != c.tries {
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
