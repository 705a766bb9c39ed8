package libvirttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/zlinttest"
)

// This file is the measurement behind docs/key-usage.md: which keyUsage
// extension on libvirt's server and client certificates makes libvirtd
// and virsh 9.0 (Debian 12) work without a certificate warning, and which
// passes zlint's RFC lints. It issues leaves with crypto/x509 (not with
// libvirt-pki's pki package), so it measures the peers, not our code.

// kuExt is one leaf's keyUsage extension; nil means no extension at all.
type kuExt struct {
	bits     x509.KeyUsage
	critical bool
}

func (k *kuExt) String() string {
	if k == nil {
		return "none"
	}
	var names []string
	for _, b := range []struct {
		bit  x509.KeyUsage
		name string
	}{{x509.KeyUsageDigitalSignature, "DS"}, {x509.KeyUsageKeyEncipherment, "KE"}, {x509.KeyUsageKeyAgreement, "KA"}} {
		if k.bits&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	s := strings.Join(names, "+")
	if k.critical {
		s += " critical"
	}
	return s
}

var (
	dsKE     = &kuExt{x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, false}
	dsKECrit = &kuExt{x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, true}
	ds       = &kuExt{x509.KeyUsageDigitalSignature, false}
	dsCrit   = &kuExt{x509.KeyUsageDigitalSignature, true}
)

// outcome is what one candidate did with one key family.
type outcome struct {
	starts, connects        bool // libvirtd started; virsh hostname worked
	daemonWarns, virshWarns bool // a certificate warning in the daemon's log, in virsh's output
	zlint                   string
}

func (o outcome) String() string {
	return fmt.Sprintf("starts=%v connects=%v daemon-warns=%v virsh-warns=%v zlint=[%s]", o.starts, o.connects, o.daemonWarns, o.virshWarns, o.zlint)
}

// keyUsageCandidates are the policies measured, each with what Debian 12
// did (the expectation the test holds libvirt and zlint to). Per key
// family ("rsa", "ecdsa"): the server's and the client's keyUsage.
var keyUsageCandidates = []struct {
	name           string
	server, client map[string]*kuExt
	want           map[string]outcome
}{
	{"A: DS+KE critical (libvirt-pki before issue 12)", both(dsKECrit), both(dsKECrit), map[string]outcome{
		"rsa":   {true, true, false, false, "clientcert:e_key_usage_and_extended_key_usage_inconsistent"},
		"ecdsa": {true, true, false, false, "clientcert:e_ecdsa_allowed_ku clientcert:e_key_usage_and_extended_key_usage_inconsistent servercert:e_ecdsa_allowed_ku"},
	}},
	{"A2: DS+KE non-critical", both(dsKE), both(dsKE), map[string]outcome{
		"rsa":   {true, true, false, false, "clientcert:e_key_usage_and_extended_key_usage_inconsistent clientcert:w_ext_key_usage_not_critical servercert:w_ext_key_usage_not_critical"},
		"ecdsa": {true, true, false, false, "clientcert:e_ecdsa_allowed_ku clientcert:e_key_usage_and_extended_key_usage_inconsistent clientcert:w_ext_key_usage_not_critical servercert:e_ecdsa_allowed_ku servercert:w_ext_key_usage_not_critical"},
	}},
	{"B: no keyUsage extension", both(nil), both(nil), map[string]outcome{
		"rsa":   {true, true, false, false, ""},
		"ecdsa": {true, true, false, false, ""},
	}},
	{"C: DS non-critical", both(ds), both(ds), map[string]outcome{
		"rsa":   {true, true, true, true, "clientcert:w_ext_key_usage_not_critical servercert:w_ext_key_usage_not_critical"},
		"ecdsa": {true, true, true, true, "clientcert:w_ext_key_usage_not_critical servercert:w_ext_key_usage_not_critical"},
	}},
	{"C2: DS critical", both(dsCrit), both(dsCrit), map[string]outcome{
		"rsa":   {false, false, true, false, ""},
		"ecdsa": {false, false, true, false, ""},
	}},
	{"C3: server none, client DS critical", both(nil), both(dsCrit), map[string]outcome{
		"rsa":   {true, false, false, true, ""},
		"ecdsa": {true, false, false, true, ""},
	}},
	{"D: RSA server DS+KE critical, ECDSA server none, clients none", map[string]*kuExt{"rsa": dsKECrit, "ecdsa": nil}, both(nil), map[string]outcome{
		"rsa":   {true, true, false, false, ""},
		"ecdsa": {true, true, false, false, ""},
	}},
}

func both(k *kuExt) map[string]*kuExt { return map[string]*kuExt{"rsa": k, "ecdsa": k} }

// TestKeyUsageCandidates measures every candidate policy for RSA and
// ECDSA leaves: a real libvirtd serving the candidate's server
// certificate, virsh holding its client certificate, and zlint's RFC
// lints on both. The log shows the table docs/key-usage.md records.
func TestKeyUsageCandidates(t *testing.T) {
	ca := newMeasureCA(t)
	for _, c := range keyUsageCandidates {
		for _, family := range []string{"rsa", "ecdsa"} {
			t.Run(c.name+"/"+family, func(t *testing.T) {
				got := measure(t, ca, family, c.server[family], c.client[family])
				t.Logf("| %s | %s | server %s, client %s | %s |", c.name, family, c.server[family], c.client[family], got)
				if got != c.want[family] {
					t.Errorf("got  %s\nwant %s", got, c.want[family])
				}
			})
		}
	}
}

// measure issues a server and a client leaf of family with the given
// keyUsage extensions, starts libvirtd and runs virsh hostname.
func measure(t *testing.T, ca *measureCA, family string, server, client *kuExt) outcome {
	dir := t.TempDir()
	ca.write(t, dir)
	var o outcome
	var findings []string
	for _, leaf := range []struct {
		name string
		eku  x509.ExtKeyUsage
		ku   *kuExt
	}{{"server", x509.ExtKeyUsageServerAuth, server}, {"client", x509.ExtKeyUsageClientAuth, client}} {
		der := ca.issue(t, dir, leaf.name, family, leaf.eku, leaf.ku)
		findings = append(findings, rfcFindings(t, leaf.name+"cert", der)...)
	}
	sort.Strings(findings)
	o.zlint = strings.Join(findings, " ")
	d, err := Launch(t, Config{CACert: filepath.Join(dir, "cacert.pem"), ServerCert: filepath.Join(dir, "servercert.pem"), ServerKey: filepath.Join(dir, "serverkey.pem")})
	if err != nil {
		o.daemonWarns = len(CertificateWarnings(err.Error())) > 0
		return o
	}
	o.starts = true
	out, err := Virsh(t, "test+tls://localhost:"+strconv.Itoa(d.Port)+"/default?pkipath="+dir, nil, "hostname")
	o.connects = err == nil && strings.TrimSpace(out) != ""
	o.virshWarns = len(CertificateWarnings(out)) > 0
	o.daemonWarns = len(d.CertificateWarnings()) > 0
	t.Logf("virsh: %s\nlibvirtd certificate lines: %q", out, d.CertificateWarnings())
	return o
}

// rfcFindings is zlint's RFC lints on der, as "role:lint" for each error
// or warning.
func rfcFindings(t *testing.T, role string, der []byte) []string {
	var out []string
	for _, name := range zlinttest.RFCFindings(t, der) {
		out = append(out, role+":"+name)
	}
	return out
}

// measureCA signs the measured leaves. Their keys are made once per
// family and role (RSA key generation is slow; the policy, not the key,
// is measured).
type measureCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
	keys map[string]crypto.Signer // "rsaserver", "ecdsaclient", ...
}

func newMeasureCA(t *testing.T) *measureCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "measure CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &measureCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keys: map[string]crypto.Signer{}}
	for _, name := range []string{"server", "client"} {
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ca.keys["rsa"+name], ca.keys["ecdsa"+name] = rsaKey, ecKey
	}
	return ca
}

func (ca *measureCA) write(t *testing.T, dir string) {
	writeFile(t, filepath.Join(dir, "cacert.pem"), ca.pem, 0o600)
}

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// issue writes <name>cert.pem and <name>key.pem in dir: a leaf for
// localhost with eku and the keyUsage extension ku, and returns its DER.
func (ca *measureCA) issue(t *testing.T, dir, name, family string, eku x509.ExtKeyUsage, ku *kuExt) []byte {
	key := ca.keys[family+name]
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	// A subject key identifier, as cfssl gives every leaf (RFC 5280
	// SHOULD; zlint warns without one).
	ski := sha1.Sum(pub)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(2)), Subject: pkix.Name{CommonName: "localhost"}, SubjectKeyId: ski[:],
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour),
		BasicConstraintsValid: true, ExtKeyUsage: []x509.ExtKeyUsage{eku},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ku != nil {
		// crypto/x509 marks keyUsage critical; its encoding, with the
		// criticality asked for, goes in as an extra extension.
		tmpl.KeyUsage = ku.bits
		probe, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := x509.ParseCertificate(probe)
		for _, e := range parsed.Extensions {
			if e.Id.Equal(oidKeyUsage) {
				tmpl.ExtraExtensions = []pkix.Extension{{Id: oidKeyUsage, Critical: ku.critical, Value: e.Value}}
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, name+"cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	writeFile(t, filepath.Join(dir, name+"key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	os.Chmod(dir, 0o755)
	return der
}
