package pki_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// signerConfig is the signer-side config docs/remote-signing.md shows,
// handed to multirootca as it is.
func signerConfig(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/cfssl-signer.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSignerConfig keeps testdata/cfssl-signer.json what SignerConfig
// makes, and checks cfssl accepts it.
func TestSignerConfig(t *testing.T) {
	want, err := pki.SignerConfig("", "file:"+cfssltest.AuthKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := signerConfig(t); !bytes.Equal(got, want) {
		t.Fatalf("testdata/cfssl-signer.json is not pki.SignerConfig's output: regenerate it\n%s", want)
	}
	withKey, err := pki.SignerConfig("libvirt-", strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadConfig(withKey)
	if err != nil {
		t.Fatalf("cfssl refuses the config: %v", err)
	}
	for _, p := range []string{"libvirt-server-ecdsa", "libvirt-server-rsa", "libvirt-client-ecdsa", "libvirt-client-rsa"} {
		if prof := cfg.Signing.Profiles[p]; prof == nil || prof.Provider == nil {
			t.Errorf("profile %s missing or without auth key", p)
		}
	}
}

func startSigner(t *testing.T) *cfssltest.Signer {
	t.Helper()
	return cfssltest.Start(t, cfssltest.Options{Config: signerConfig(t)})
}

func remoteOpts(s *cfssltest.Signer) pki.RemoteOptions {
	return pki.RemoteOptions{URL: s.URL, AuthKey: s.AuthKey, Label: s.Label, TLSRoots: s.TLSRoots, Limit: 8}
}

func remoteCA(t *testing.T, o pki.RemoteOptions) *pki.CA {
	t.Helper()
	ca, err := pki.RemoteCA(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// hostLeaf is one host's leaf request and the checks on what comes back.
func hostLeaf(t testing.TB, i int, prof pki.Profile, algo pki.KeyAlgo) pki.LeafRequest {
	key, err := pki.GenerateKey(algo)
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("compute%03d", i)
	return pki.LeafRequest{Profile: prof, CommonName: host, Org: "Example", Key: key, Days: 7,
		SANs: pki.SANs{DNS: []string{host, host + ".example.org"}, IPs: []net.IP{net.IPv4(10, 0, byte(i/256), byte(i%256))}}}
}

func checkLeaf(ca *pki.CA, req pki.LeafRequest, cert *x509.Certificate) error {
	if err := ca.Verify(cert, time.Now()); err != nil {
		return err
	}
	if got, want := pki.SANsOf(cert).Strings(), req.SANs.Strings(); !slices.Equal(got, want) {
		return fmt.Errorf("SANs %v, want %v", got, want)
	}
	if p := pki.UsageProblems(cert, req.Profile); p != nil {
		return fmt.Errorf("usages: %v", p)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{req.Profile.ExtUsage}) || !pki.KeyMatches(req.Key.Signer, cert) {
		return fmt.Errorf("EKU %v or key mismatch", cert.ExtKeyUsage)
	}
	return nil
}

// TestRemoteIssue100 issues 100 leaves (50 hosts, a server and a client
// each) through a real multirootca, 8 at a time, and an RSA pair.
func TestRemoteIssue100(t *testing.T) {
	s := startSigner(t)
	ca := remoteCA(t, remoteOpts(s))
	if !ca.Cert.Equal(s.CA.Cert) || ca.Key != nil || len(ca.Chain) != 0 {
		t.Fatalf("remote CA %q (key %v, chain %d), want the signer's %q", ca.Cert.Subject, ca.Key != nil, len(ca.Chain), s.CA.Cert.Subject)
	}
	if !bytes.Equal(ca.CertPEM, pki.EncodeCertsPEM(s.CA.Cert)) {
		t.Fatal("CertPEM is not the signer's certificate")
	}
	var reqs []pki.LeafRequest
	for i := range 50 {
		for _, prof := range pki.Profiles {
			reqs = append(reqs, hostLeaf(t, i, prof, pki.ECDSAP256))
		}
	}
	for _, prof := range pki.Profiles {
		reqs = append(reqs, hostLeaf(t, 99, prof, pki.RSA2048))
	}
	errs := make([]error, len(reqs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				cert, _, err := ca.Issue(reqs[i])
				if err == nil {
					err = checkLeaf(ca, reqs[i], cert)
				}
				errs[i] = err
			}
		})
	}
	for i := range reqs {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func wantClass(t *testing.T, err error, class pki.RemoteClass, text string) {
	t.Helper()
	var re *pki.RemoteError
	if !errors.As(err, &re) || re.Class != class {
		t.Fatalf("error %v, want class %s", err, class)
	}
	t.Logf("%s: %v", class, err)
	if msg := err.Error(); !strings.Contains(msg, text) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line saying %q", msg, text)
	}
}

func TestRemoteRefusals(t *testing.T) {
	s := startSigner(t)
	ctx := context.Background()
	o := remoteOpts(s)
	o.AuthKey = strings.Repeat("00", 32)
	_, err := pki.RemoteCA(ctx, o)
	wantClass(t, err, pki.RemoteAuthRefused, "the auth key file must hold the hex key")

	o = remoteOpts(s)
	o.Label = "nosuch"
	_, err = pki.RemoteCA(ctx, o)
	wantClass(t, err, pki.RemoteProfileRefused, "bad label")

	o = remoteOpts(s)
	o.ProfilePrefix = "nosuch-"
	_, err = pki.RemoteCA(ctx, o)
	wantClass(t, err, pki.RemoteProfileRefused, `its profile "nosuch-server-rsa" has usages`)

	o = remoteOpts(s)
	o.TLSRoots = x509.NewCertPool()
	_, err = pki.RemoteCA(ctx, o)
	wantClass(t, err, pki.RemoteTLS, "trust the CA that issued the signer's TLS certificate")

	o = remoteOpts(s)
	o.URL = strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	_, err = pki.RemoteCA(ctx, o)
	wantClass(t, err, pki.RemoteTLS, "not valid for any names")
}

func TestRemoteBadOptions(t *testing.T) {
	for _, o := range []pki.RemoteOptions{
		{URL: "http://127.0.0.1:1", AuthKey: strings.Repeat("ab", 32)},
		{URL: "https://127.0.0.1:1", AuthKey: "not hex"},
		{URL: "https://127.0.0.1:1", AuthKey: "abcd"},
	} {
		_, err := pki.RemoteCA(context.Background(), o)
		var re *pki.RemoteError
		if err == nil || errors.As(err, &re) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want a plain one-line refusal", o.URL, err)
		} else if strings.Contains(err.Error(), o.AuthKey) {
			t.Errorf("%s: error %q echoes the key", o.URL, err)
		}
	}
}

// TestRemoteSignerStops stops the signer mid-run: an issue fails as
// unreachable after its retries, and goes on once the signer is back.
func TestRemoteSignerStops(t *testing.T) {
	s := startSigner(t)
	ca := remoteCA(t, remoteOpts(s))
	for i := range 3 {
		if _, _, err := ca.Issue(hostLeaf(t, i, pki.ServerProfile, pki.ECDSAP256)); err != nil {
			t.Fatal(err)
		}
	}
	s.Stop()
	_, _, err := ca.Issue(hostLeaf(t, 3, pki.ServerProfile, pki.ECDSAP256))
	wantClass(t, err, pki.RemoteUnreachable, "no answer after 3 tries")
	if !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %q does not name the cause", err)
	}
	s.Restart()
	req := hostLeaf(t, 3, pki.ClientProfile, pki.ECDSAP256)
	cert, _, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if err := checkLeaf(ca, req, cert); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = pki.RemoteCA(context.Background(), pki.RemoteOptions{URL: "https://" + addr, AuthKey: strings.Repeat("ab", 32)})
	wantClass(t, err, pki.RemoteUnreachable, "check the URL and that the signer is running")
}

// TestRemoteCFSSLServe: `cfssl serve` with the same config is a signer
// too (it has no labels), and refuses a wrong key the same way. Its
// authsign drops the dates we ask for and uses its profile's expiry
// (pki.SignerConfig's is DefaultLeafDays), so a leaf of another length
// comes back with the wrong dates and is refused.
func TestRemoteCFSSLServe(t *testing.T) {
	// A CA that outlives the profile's expiry: cfssl serve does not cap a
	// leaf at its CA's end, as LeafDates does.
	signing, err := pki.NewCA(pki.CAOptions{CommonName: "cfssl serve CA", Algo: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	s := cfssltest.Start(t, cfssltest.Options{Config: signerConfig(t), Serve: true, CA: signing})
	o := remoteOpts(s)
	o.Label = ""
	ca := remoteCA(t, o)
	for _, algo := range []pki.KeyAlgo{pki.ECDSAP256, pki.RSA2048} {
		for _, prof := range pki.Profiles {
			req := hostLeaf(t, 7, prof, algo)
			req.Days = 0
			cert, _, err := ca.Issue(req)
			if err == nil {
				err = checkLeaf(ca, req, cert)
			}
			if err != nil {
				t.Fatalf("%s %s: %v", algo, prof.Name, err)
			}
		}
	}
	_, _, err = ca.Issue(hostLeaf(t, 8, pki.ServerProfile, pki.ECDSAP256))
	wantClass(t, err, pki.RemoteBadCertificate, "it runs")
	o.AuthKey = strings.Repeat("00", 32)
	_, err = pki.RemoteCA(context.Background(), o)
	wantClass(t, err, pki.RemoteAuthRefused, "invalid token")
	o = remoteOpts(s)
	o.ProfilePrefix = "nosuch-"
	_, err = pki.RemoteCA(context.Background(), o)
	wantClass(t, err, pki.RemoteProfileRefused, "has usages")
}

// TestRemoteIntermediate: a signer whose CA is an intermediate. Its info
// endpoint gives only the intermediate, so RemoteCA wants the issuers up
// to the root (RemoteOptions.Issuers) and refuses to guess.
func TestRemoteIntermediate(t *testing.T) {
	root, err := pki.NewCA(pki.CAOptions{CommonName: "Site-Root", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	interKey, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Libvirt-Intermediate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(20 * 24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, root.Cert, interKey.Signer.Public(), root.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	signing, err := pki.LoadCA(pki.EncodeCertsPEM(inter, root.Cert), interKey.PEM)
	if err != nil {
		t.Fatal(err)
	}
	s := cfssltest.Start(t, cfssltest.Options{Config: signerConfig(t), CA: signing})
	o := remoteOpts(s)
	_, err = pki.RemoteCA(context.Background(), o)
	wantClass(t, err, pki.RemoteBadCertificate, `"Libvirt-Intermediate", which is not a self-signed root`)
	o.Issuers = []*x509.Certificate{root.Cert}
	ca := remoteCA(t, o)
	if !bytes.Equal(ca.CertPEM, pki.EncodeCertsPEM(inter, root.Cert)) || !ca.Root().Equal(root.Cert) {
		t.Fatal("the remote CA's chain is not the intermediate and the root")
	}
	req := hostLeaf(t, 1, pki.ServerProfile, pki.ECDSAP256)
	cert, _, err := ca.Issue(req)
	if err == nil {
		err = checkLeaf(ca, req, cert)
	}
	if err != nil {
		t.Fatal(err)
	}
}
