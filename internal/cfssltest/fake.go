package cfssltest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cloudflare/cfssl/auth"
	"github.com/cloudflare/cfssl/info"
	"github.com/cloudflare/cfssl/signer"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Fake speaks cfssl's signing API (the JSON multirootca speaks: info and
// authsign) from an httptest TLS server, in-process and without building
// cfssl, and can misbehave: for tests of what we refuse from a signer.
// Unspoiled, it signs what a correct signer would for an ECDSA key. It
// does not check the auth key.
//
// Set the hooks before the requests they should affect.
type Fake struct {
	URL     string  // https://127.0.0.1:PORT
	AuthKey string  // a hex key to give clients (never checked)
	CA      *pki.CA // the CA the info endpoint gives: a new ECDSA root
	// TLSRoots trusts the server's TLS certificate; TLSCAFile is the same
	// certificate as a PEM file.
	TLSRoots  *x509.CertPool
	TLSCAFile string

	// Signer signs (default CA).
	Signer *pki.CA
	// Mutate, if set, is given each certificate before it is signed, with
	// the number of its sign request (1 for the first); it may change it
	// and return another public key for it (nil: the CSR's).
	Mutate func(n int, tmpl *x509.Certificate) crypto.PublicKey
	// Reply, if set, replaces the PEM answered.
	Reply func(certPEM []byte) string
	// Refuse answers the first sign requests, one each, with these.
	Refuse []Refusal

	t     testing.TB
	signs atomic.Int32
}

// Refusal is an error answer: the HTTP status and cfssl's message.
type Refusal struct {
	Status  int
	Message string
}

// NewFake starts a fake signer with a new CA; the test's cleanup stops it.
func NewFake(t testing.TB) *Fake {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "fake signer CA", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{AuthKey: strings.Repeat("ab", 32), CA: ca, Signer: ca, t: t}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	f.TLSRoots = x509.NewCertPool()
	f.TLSRoots.AddCert(srv.Certificate())
	f.TLSCAFile = filepath.Join(t.TempDir(), "fake-signer-tls-ca.pem")
	if err := os.WriteFile(f.TLSCAFile, pki.EncodeCertsPEM(srv.Certificate()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// RemoteOptions are what pki.RemoteCA needs to reach the fake.
func (f *Fake) RemoteOptions() pki.RemoteOptions {
	return pki.RemoteOptions{URL: f.URL, AuthKey: f.AuthKey, TLSRoots: f.TLSRoots}
}

// Signs is how many sign requests came, refused ones included.
func (f *Fake) Signs() int { return int(f.signs.Load()) }

// ServeHTTP answers cfssl's info and authsign endpoints.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var result any
	switch r.URL.Path {
	case "/api/v1/cfssl/info":
		var req info.Req
		json.NewDecoder(r.Body).Decode(&req)
		result = info.Resp{Certificate: string(pki.EncodeCertsPEM(f.CA.Cert)), Usage: f.profileUsages()[req.Profile]}
	case "/api/v1/cfssl/authsign":
		var areq auth.AuthenticatedRequest
		var req signer.SignRequest
		json.NewDecoder(r.Body).Decode(&areq)
		json.Unmarshal(areq.Request, &req)
		if req.Request == "" {
			answer(w, http.StatusBadRequest, nil, "invalid request")
			return
		}
		n := int(f.signs.Add(1))
		if n <= len(f.Refuse) {
			answer(w, f.Refuse[n-1].Status, nil, f.Refuse[n-1].Message)
			return
		}
		result = map[string]string{"certificate": f.sign(n, req)}
	default:
		http.NotFound(w, r)
		return
	}
	answer(w, http.StatusOK, result, "")
}

// answer writes cfssl's JSON envelope.
func answer(w http.ResponseWriter, status int, result any, message string) {
	w.WriteHeader(status)
	ans := map[string]any{"success": status == http.StatusOK, "result": result, "errors": []any{}}
	if message != "" {
		ans["errors"] = []any{map[string]any{"code": 1, "message": message}}
	}
	json.NewEncoder(w).Encode(ans)
}

// profileUsages are pki.SignerConfig's usages by profile name: what a
// signer configured as docs/remote-signing.md says gives.
func (f *Fake) profileUsages() map[string][]string {
	var cfg struct {
		Signing struct {
			Profiles map[string]struct{ Usages []string }
		}
	}
	data, _ := pki.SignerConfig("", "file:k")
	if err := json.Unmarshal(data, &cfg); err != nil {
		f.t.Error(err)
	}
	out := map[string][]string{}
	for name, p := range cfg.Signing.Profiles {
		out[name] = p.Usages
	}
	return out
}

// sign makes what a correct signer would for an ECDSA key, then lets
// the test spoil it (Mutate, Reply). n is the sign request's number.
func (f *Fake) sign(n int, req signer.SignRequest) string {
	block, _ := pem.Decode([]byte(req.Request))
	if block == nil {
		f.t.Error("cfssltest: the sign request holds no PEM CSR")
		return ""
	}
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
	if f.Mutate != nil {
		if p := f.Mutate(n, tmpl); p != nil {
			pub = p
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.Signer.Cert, pub, f.Signer.Key.Signer)
	if err != nil {
		f.t.Error(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if f.Reply != nil {
		return f.Reply(certPEM)
	}
	return string(certPEM)
}
