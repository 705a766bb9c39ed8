package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// The certmonger helper, driven as certmonger drives it: the operation
// and the request in CERTMONGER_* variables, the settings in a config
// file, the answer on stdout and in the exit status (doc/helpers.txt).

var (
	ekuServer = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	ekuClient = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
)

// helperCSR is a CSR as certmonger makes one: CN, DNS and IP SANs and,
// when eku is set, the extended key usage of getcert -U.
func helperCSR(t *testing.T, key crypto.Signer, cn string, dns []string, ips []net.IP, eku asn1.ObjectIdentifier) string {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns, IPAddresses: ips}
	if eku != nil {
		v, _ := asn1.Marshal([]asn1.ObjectIdentifier{eku})
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: v}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// helperConfig writes a certmonger.conf for a signer and returns its name.
func helperConfig(t *testing.T, url, authKey, label, tlsCA string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "auth-key.hex")
	os.WriteFile(key, []byte(authKey+"\n"), 0o600)
	conf := fmt.Sprintf("# written by the test\nremote-signer = %s\nremote-auth-key-file = %s\n", url, key)
	if label != "" {
		conf += "remote-label = " + label + "\n"
	}
	if tlsCA != "" {
		conf += "remote-ca-cert = " + tlsCA + "\n"
	}
	name := filepath.Join(dir, "certmonger.conf")
	os.WriteFile(name, []byte(conf), 0o600)
	return name
}

// whitelistConfig is pki.SignerConfig with every profile limited to
// names under example.org: a signer's policy.
func whitelistConfig(t *testing.T) []byte {
	var cfg map[string]any
	data, _ := pki.SignerConfig("", "file:"+cfssltest.AuthKeyFile)
	json.Unmarshal(data, &cfg)
	for _, p := range cfg["signing"].(map[string]any)["profiles"].(map[string]any) {
		p.(map[string]any)["name_whitelist"] = `^([a-z0-9-]+\.)*example\.org$`
	}
	out, _ := json.Marshal(cfg)
	return out
}

type helperCase struct {
	name   string
	conf   string            // --config FILE ("": none)
	env    map[string]string // CERTMONGER_*
	code   int
	stdout []string          // substrings of stdout
	check  func(string) bool // on stdout
}

func TestCertmongerHelper(t *testing.T) {
	signer := cfssltest.Start(t, cfssltest.Options{})
	policy := cfssltest.Start(t, cfssltest.Options{Config: whitelistConfig(t)})
	fake := cfssltest.NewFake(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fake.Mutate = func(n int, c *x509.Certificate) crypto.PublicKey {
		switch c.Subject.CommonName {
		case "otherkey.example.org":
			return other.Public()
		case "othername.example.org":
			c.DNSNames = append(c.DNSNames, "intruder.example.org")
		}
		return nil
	}
	fake.Refuse = []cfssltest.Refusal{{Status: http.StatusBadRequest, Message: "bad request"},
		{Status: 503, Message: "busy"}, {Status: 503, Message: "busy"}, {Status: 503, Message: "busy"}}

	good := helperConfig(t, signer.URL, signer.AuthKey, signer.Label, signer.TLSCAFile)
	wrongKey := helperConfig(t, signer.URL, strings.Repeat("cd", 32), signer.Label, signer.TLSCAFile)
	untrusted := helperConfig(t, signer.URL, signer.AuthKey, signer.Label, "")
	down := helperConfig(t, "https://127.0.0.1:"+fmt.Sprint(testutil.FreePort(t)), signer.AuthKey, "", signer.TLSCAFile)
	fakeConf := helperConfig(t, fake.URL, fake.AuthKey, "", fake.TLSCAFile)
	policyConf := helperConfig(t, policy.URL, policy.AuthKey, policy.Label, policy.TLSCAFile)
	noKey := filepath.Join(t.TempDir(), "certmonger.conf")
	os.WriteFile(noKey, []byte("remote-signer = "+signer.URL+"\n"), 0o600)
	badLine := filepath.Join(t.TempDir(), "certmonger.conf")
	os.WriteFile(badLine, []byte("remote-auth-key = 0011\n"), 0o600)

	host := []string{"compute1.example.org", "compute1"}
	ips := []net.IP{net.ParseIP("192.0.2.10")}
	serverCSR := helperCSR(t, ecKey, "compute1.example.org", host, ips, ekuServer)
	clientCSR := helperCSR(t, ecKey, "compute1.example.org", host, nil, ekuClient)
	issued := func(key crypto.Signer, profile pki.Profile, names ...string) func(string) bool {
		return func(out string) bool {
			certs, err := pki.ParseCertsPEM([]byte(out))
			if err != nil || len(certs) != 1 || !pki.KeyMatches(key, certs[0]) || signer.CA.Signed(certs[0]) != nil {
				return false
			}
			return len(pki.UsageProblems(certs[0], profile)) == 0 && strings.Join(pki.SANsOf(certs[0]).Strings(), ",") == strings.Join(names, ",")
		}
	}
	sub := func(csr, profile string) map[string]string {
		return map[string]string{"CERTMONGER_OPERATION": "SUBMIT", "CERTMONGER_CSR": csr, "CERTMONGER_CA_PROFILE": profile}
	}
	cases := []helperCase{
		{name: "submit server EC", conf: good, env: sub(serverCSR, "server"), check: issued(ecKey, pki.ServerProfile, "compute1", "compute1.example.org", "192.0.2.10")},
		{name: "submit RSA server", conf: good, env: sub(helperCSR(t, rsaKey, "compute1.example.org", host, ips, ekuServer), "server"), check: issued(rsaKey, pki.ServerProfile, "compute1", "compute1.example.org", "192.0.2.10")},
		{name: "operation unset, profile from the CSR", conf: good, env: map[string]string{"CERTMONGER_CSR": clientCSR}, check: issued(ecKey, pki.ClientProfile, "compute1", "compute1.example.org")},
		{name: "poll", conf: good, env: map[string]string{"CERTMONGER_OPERATION": "POLL", "CERTMONGER_CSR": clientCSR, "CERTMONGER_CA_COOKIE": "x"}, check: issued(ecKey, pki.ClientProfile, "compute1", "compute1.example.org")},
		{name: "identify", conf: good, env: map[string]string{"CERTMONGER_OPERATION": "IDENTIFY"}, stdout: []string{"libvirt-pki certmonger-helper"}},
		{name: "fetch roots", conf: good, env: map[string]string{"CERTMONGER_OPERATION": "FETCH-ROOTS"},
			check: func(out string) bool {
				return out == "cfssltest signing CA\n"+string(pki.EncodeCertsPEM(signer.CA.Cert))
			}},
		{name: "templates", conf: good, env: map[string]string{"CERTMONGER_OPERATION": "GET-SUPPORTED-TEMPLATES"}, check: func(out string) bool { return out == "server\nclient\n" }},
		{name: "default template", conf: good, env: map[string]string{"CERTMONGER_OPERATION": "GET-DEFAULT-TEMPLATE"}, check: func(out string) bool { return out == "" }},
		{name: "unknown operation", conf: good, env: map[string]string{"CERTMONGER_OPERATION": "FETCH-SCEP-CA-CAPS"}, code: 6, stdout: []string{"not supported"}},
		{name: "no settings", conf: filepath.Join(t.TempDir(), "absent.conf"), env: sub(serverCSR, "server"), code: 4, stdout: []string{"--config", "absent.conf"}},
		{name: "no auth key", conf: noKey, env: sub(serverCSR, "server"), code: 4, stdout: []string{"--remote-auth-key-file"}},
		{name: "unknown setting", conf: badLine, env: sub(serverCSR, "server"), code: 4, stdout: []string{"certmonger.conf:1"}},
		{name: "wrong auth key", conf: wrongKey, env: sub(serverCSR, "server"), code: 4, stdout: []string{"auth-refused"}},
		{name: "untrusted signer", conf: untrusted, env: sub(serverCSR, "server"), code: 4, stdout: []string{"(tls)"}},
		{name: "signer down", conf: down, env: sub(serverCSR, "server"), code: 3, stdout: []string{"unreachable"}},
		{name: "unknown profile", conf: good, env: sub(serverCSR, "webserver"), code: 2, stdout: []string{`unknown profile "webserver"`}},
		{name: "no profile, no EKU", conf: good, env: sub(helperCSR(t, ecKey, "c", []string{"c"}, nil, nil), ""), code: 2, stdout: []string{"-T server|client"}},
		{name: "garbage CSR", conf: good, env: sub("not a CSR", "server"), code: 2, stdout: []string{"CERTMONGER_CSR"}},
		{name: "name outside the signer's policy", conf: policyConf, env: sub(helperCSR(t, ecKey, "compute1.example.com", []string{"compute1.example.com"}, nil, ekuServer), "server"), code: 2, stdout: []string{"profile-refused"}},
		{name: "signer refuses", conf: fakeConf, env: sub(serverCSR, "server"), code: 2, stdout: []string{"bad request"}},
		{name: "signer failing 5xx", conf: fakeConf, env: sub(serverCSR, "server"), code: 3, stdout: []string{"503", "busy"}},
		{name: "certificate for another key", conf: fakeConf, env: sub(helperCSR(t, ecKey, "otherkey.example.org", []string{"otherkey.example.org"}, nil, ekuServer), "server"), code: 2, stdout: []string{"for another key"}},
		{name: "certificate with other names", conf: fakeConf, env: sub(helperCSR(t, ecKey, "othername.example.org", []string{"othername.example.org"}, nil, ekuServer), "server"), code: 2, stdout: []string{"intruder.example.org"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runHelperCase(t, c) })
	}
	// The policy signer signs a name it allows.
	t.Run("name inside the signer's policy", func(t *testing.T) {
		csr := helperCSR(t, ecKey, "compute1.example.org", []string{"compute1.example.org"}, ips, ekuServer)
		runHelperCase(t, helperCase{conf: policyConf, env: sub(csr, "server"), check: func(out string) bool { return strings.HasPrefix(out, "-----BEGIN CERTIFICATE") }})
	})
}

// runHelperCase runs certmonger-helper with the case's environment (and
// nothing else of certmonger's) and checks its answer.
func runHelperCase(t *testing.T, c helperCase) {
	for _, v := range []string{"CERTMONGER_OPERATION", "CERTMONGER_CSR", "CERTMONGER_CA_PROFILE", "CERTMONGER_CA_COOKIE"} {
		t.Setenv(v, c.env[v])
	}
	args := []string{"certmonger-helper"}
	if c.conf != "" {
		args = append(args, "--config", c.conf)
	}
	code, out, errOut := cli(t, args...)
	if code != c.code {
		t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, c.code, out, errOut)
	}
	for _, s := range c.stdout {
		if !strings.Contains(out, s) {
			t.Errorf("stdout %q lacks %q", out, s)
		}
	}
	if c.code != 0 && strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Errorf("a certificate printed with exit %d: %q", c.code, out)
	}
	if c.code != 0 && strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("the message is not one line: %q", out)
	}
	if c.check != nil && !c.check(out) {
		t.Errorf("stdout fails the check: %q", out)
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
}
