package main

import (
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
	"github.com/cloudflare/cfssl/signer"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// badThirdSigner speaks multirootca's API and signs correctly with its
// CA, except the third certificate, which gets a SAN nobody asked for.
type badThirdSigner struct {
	t     *testing.T
	ca    *pki.CA
	signs atomic.Int32
}

func (f *badThirdSigner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, result any, msg string) {
		w.WriteHeader(status)
		ans := map[string]any{"success": status == http.StatusOK, "result": result, "errors": []any{}}
		if msg != "" {
			ans["errors"] = []any{map[string]any{"code": 1, "message": msg}}
		}
		json.NewEncoder(w).Encode(ans)
	}
	switch r.URL.Path {
	case "/api/v1/cfssl/info":
		var req struct{ Profile string }
		json.NewDecoder(r.Body).Decode(&req)
		usages := []string{"client auth"}
		switch req.Profile {
		case "server-rsa":
			usages = []string{"digital signature", "key encipherment", "server auth"}
		case "server-ecdsa":
			usages = []string{"server auth"}
		}
		reply(http.StatusOK, map[string]any{"certificate": string(pki.EncodeCertsPEM(f.ca.Cert)), "usages": usages}, "")
	case "/api/v1/cfssl/authsign":
		var areq auth.AuthenticatedRequest
		var req signer.SignRequest
		json.NewDecoder(r.Body).Decode(&areq)
		json.Unmarshal(areq.Request, &req)
		if req.Request == "" {
			reply(http.StatusBadRequest, nil, "invalid request")
			return
		}
		reply(http.StatusOK, map[string]string{"certificate": f.sign(req, f.signs.Add(1) == 3)}, "")
	default:
		http.NotFound(w, r)
	}
}

// sign makes what multirootca makes for an ECDSA key; spoil adds a SAN.
func (f *badThirdSigner) sign(req signer.SignRequest, spoil bool) string {
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
	if spoil {
		tmpl.DNSNames = append(tmpl.DNSNames, "intruder.example.org")
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.ca.Cert, csr.PublicKey, f.ca.Key.Signer)
	if err != nil {
		f.t.Error(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestRemoteBadCertificateWritesNothing: the signer's third certificate
// carries a SAN we did not ask for; the run exits 1 naming it, and not
// one file is written, though other certificates were signed fine.
func TestRemoteBadCertificateWritesNothing(t *testing.T) {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "fake signer CA", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	fake := &badThirdSigner{t: t, ca: ca}
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tlsCA, key := filepath.Join(dir, "tls-ca.pem"), filepath.Join(dir, "key.hex")
	os.WriteFile(tlsCA, pki.EncodeCertsPEM(srv.Certificate()), 0o644)
	os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600)
	out := filepath.Join(dir, "pki")
	code, _, errOut := cli(t, "certificates", "--layout", "libvirt", "--out", out, "--hosts", hostList(10),
		"--remote-signer", srv.URL, "--remote-auth-key-file", key, "--remote-ca-cert", tlsCA)
	if code != exitFailure || !strings.Contains(errOut, "(bad-certificate)") || !strings.Contains(errOut, "intruder.example.org") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	if fake.signs.Load() < 3 {
		t.Fatalf("only %d signing requests", fake.signs.Load())
	}
	files, err := snapshotFiles(out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(files) > 0 || len(leftovers(out)) > 0 {
		t.Errorf("written after a bad certificate: %v %v", files, leftovers(out))
	}
}
