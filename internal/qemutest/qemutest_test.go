package qemutest

import (
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// qemuDir is a tls-creds-x509 directory for one host made by ca: its CA
// file and a server and client pair, the server's SAN holding names.
func qemuDir(t *testing.T, ca *pki.CA, host string, names ...string) string {
	t.Helper()
	return mixedDir(t, []*pki.CA{ca}, ca, host, names...)
}

// mixedDir is qemuDir with the pairs issued by issuer and ca-cert.pem
// holding the certificates of trusted.
func mixedDir(t *testing.T, trusted []*pki.CA, issuer *pki.CA, host string, names ...string) string {
	t.Helper()
	var bundle []byte
	for _, ca := range trusted {
		bundle = append(bundle, ca.CertPEM...)
	}
	files := map[string][]byte{"ca-cert.pem": bundle}
	sans := pki.SANs{DNS: names}
	for _, leaf := range []struct {
		profile   pki.Profile
		cert, key string
		sans      pki.SANs
	}{
		{pki.ServerProfile, "server-cert.pem", "server-key.pem", sans},
		{pki.ClientProfile, "client-cert.pem", "client-key.pem", pki.SANs{}},
	} {
		key, err := pki.GenerateKey(pki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		_, certPEM, err := issuer.Issue(pki.LeafRequest{Profile: leaf.profile, CommonName: host, SANs: leaf.sans, Key: key, Days: 1})
		if err != nil {
			t.Fatal(err)
		}
		files[leaf.cert], files[leaf.key] = certPEM, key.PEM
	}
	return WriteDir(t, files)
}

func newCA(t *testing.T, name string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: name, Algo: pki.ECDSAP256, Days: 2})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestNBDHarness proves the harness against qemu-nbd and qemu-img with
// credentials from package pki: the migration name succeeds, a name
// outside the SAN and a client of another CA fail, each for its reason.
func TestNBDHarness(t *testing.T) {
	ca, other := newCA(t, "Harness CA"), newCA(t, "Other CA")
	srv := StartNBD(t, qemuDir(t, ca, "dst", "dst.migration.test"))
	client := qemuDir(t, ca, "src")

	out, err := NBDInfo(t, srv, client, "dst.migration.test")
	if err != nil || !strings.Contains(out, "virtual size: 1 MiB") {
		t.Fatalf("qemu-img by the migration name: %v\n%s\nqemu-nbd:\n%s", err, out, srv.Output())
	}
	out, err = NBDInfo(t, srv, client, "elsewhere.test")
	if err == nil || !strings.Contains(out, "does not match the hostname") {
		t.Fatalf("qemu-img by a name outside the SAN: %v\n%s", err, out)
	}
	// A client of another CA fails on its own (it does not trust the
	// server's CA, and QEMU checks its own pair against its CA file), so
	// this one trusts both CAs: the server must refuse it. (GnuTLS sends
	// no certificate the server's CA list does not name, so qemu-nbd sees
	// none.)
	before := len(srv.Output())
	out, err = NBDInfo(t, srv, mixedDir(t, []*pki.CA{other, ca}, other, "intruder"), "dst.migration.test")
	if err == nil {
		t.Fatalf("qemu-img with another CA's client pair succeeded:\n%s", out)
	}
	if refusal := srv.Output()[before:]; !strings.Contains(refusal, "Verify failed") {
		t.Fatalf("qemu-nbd did not refuse the other CA's client:\n%s\nqemu-img: %s", refusal, out)
	}
}
