package live

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// Integration tests against the real libvirtd (Debian 12: libvirt 9.0,
// Cyrus SASL 2.1.28, GnuTLS 3.7). They skip loudly outside CI when the
// programs are missing and fail with CI=true.

const testURI = "test:///default" // only the built-in test driver is loaded

// identityLogFilters makes libvirtd log the SASL identity it accepted:
// remoteSASLFinish (category "daemon.remote") logs
// "RPC_SERVER_CLIENT_AUTH_ALLOW: ... identity=nova" at info level (2).
// Filters such as "1:rpc.server 1:util.sasl" do not show it.
const identityLogFilters = "2:daemon.remote 3:rpc 3:util"

// saslRealm is the realm libvirtd's Cyrus server computes: the host's own
// name, lowercased.
func saslRealm(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(h)
}

// makeSASLDB builds a sasldb with the real saslpasswd2, as kolla does.
func makeSASLDB(t *testing.T, user, password string) string {
	t.Helper()
	bin := peer.Require(t, "saslpasswd2")[0]
	path := filepath.Join(t.TempDir(), "passwd.db")
	cmd := exec.Command(bin, "-p", "-c", "-f", path, "-u", saslRealm(t), "-a", "libvirt", user)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("saslpasswd2: %v\n%s", err, out)
	}
	return path
}

type daemonSetup struct {
	p      *pki
	d      *libvirttest.Daemon
	passwd string
}

func startDaemon(t *testing.T, p *pki, server leaf, cfg libvirttest.Config) *libvirttest.Daemon {
	t.Helper()
	return startDaemonCA(t, p.ca, server, cfg)
}

// startDaemonCA starts libvirtd trusting ca (its ca_file) and serving
// server.
func startDaemonCA(t *testing.T, ca *testCA, server leaf, cfg libvirttest.Config) *libvirttest.Daemon {
	t.Helper()
	dir := t.TempDir()
	cfg.CACert = writeFile(t, dir, "cacert.pem", ca.pem)
	cfg.ServerCert = writeFile(t, dir, "servercert.pem", server.certPEM)
	cfg.ServerKey = writeFile(t, dir, "serverkey.pem", server.keyPEM)
	return libvirttest.Start(t, cfg)
}

func saslDaemon(t *testing.T, mechs ...string) daemonSetup {
	t.Helper()
	p := newPKI(t)
	pw := "Kolla-Gen-40-chars-0123456789abcdefghijk"
	d := startDaemon(t, p, p.server, libvirttest.Config{
		AuthTLS: "sasl", SASLMechs: mechs, SASLDB: makeSASLDB(t, "nova", pw), LogFilters: identityLogFilters,
	})
	return daemonSetup{p: p, d: d, passwd: pw}
}

func checkDaemon(t *testing.T, addr, serverName string, c Credentials, mech string) Result {
	t.Helper()
	r := Check(context.Background(), Target{Host: "compute01", Addr: addr, ServerName: serverName}, c,
		Options{Timeout: 10 * time.Second, Mech: mech, URI: testURI})
	for _, s := range r.Steps {
		t.Logf("  %-14s %8s %s", s.Name, s.Duration.Round(time.Microsecond), s.Detail)
	}
	return r
}

func TestLibvirtdSASL(t *testing.T) {
	s := saslDaemon(t) // scram-sha-256 and digest-md5
	addr := s.d.Addr()

	for _, mech := range []string{"", "SCRAM-SHA-256", "DIGEST-MD5"} {
		t.Run("ok "+mech, func(t *testing.T) {
			for _, name := range []string{"localhost", "127.0.0.1"} {
				r := checkDaemon(t, addr, name, s.p.creds(s.passwd), mech)
				wantClass(t, r, ClassOK)
				want := mech
				if want == "" {
					want = "SCRAM-SHA-256" // preferred when offered
				}
				if r.Mechanism != want || r.Identity != "nova" || r.LibVersion == "" || r.Hostname == "" || r.TLSVersion == "" {
					t.Fatalf("result %+v", r)
				}
				t.Logf("mech %s identity %s host %s libvirt %s %s", r.Mechanism, r.Identity, r.Hostname, r.LibVersion, r.TLSVersion)
			}
		})
	}
	t.Run("daemon log shows identity", func(t *testing.T) {
		log := s.d.Log()
		// remoteSASLFinish logs "RPC_SERVER_CLIENT_AUTH_ALLOW: client=...
		// auth=1 identity=nova" at info level in category daemon.remote.
		if !strings.Contains(log, "RPC_SERVER_CLIENT_AUTH_ALLOW") || !strings.Contains(log, "identity=nova") {
			t.Fatalf("daemon log does not show the SASL identity:\n%s", tail(log, 4000))
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "nova") {
				t.Logf("log: %s", line)
			}
		}
		// Before the subtests below present certificates it refuses.
		s.d.NoCertificateWarnings(t)
	})
	t.Run("auth-failed", func(t *testing.T) {
		for _, mech := range []string{"SCRAM-SHA-256", "DIGEST-MD5"} {
			wantClass(t, checkDaemon(t, addr, "localhost", s.p.creds("wrong-password"), mech), ClassAuthFailed)
		}
	})
	t.Run("sasl-no-password", func(t *testing.T) {
		wantClass(t, checkDaemon(t, addr, "localhost", s.p.creds(""), ""), ClassSASLNoPassword)
	})
	t.Run("mech-not-offered GSSAPI", func(t *testing.T) {
		wantClass(t, checkDaemon(t, addr, "localhost", s.p.creds(s.passwd), "GSSAPI"), ClassMechNotOffered)
	})
	t.Run("unknown-ca", func(t *testing.T) {
		// The daemon's certificate comes from a CA the client does not
		// trust (the client trusts only the other CA).
		c := s.p.creds(s.passwd)
		c.CA = s.p.otherCA.pool()
		wantClass(t, checkDaemon(t, addr, "localhost", c, ""), ClassUnknownCA)
	})
	t.Run("name-mismatch", func(t *testing.T) {
		wantClass(t, checkDaemon(t, addr, "compute99.example.org", s.p.creds(s.passwd), ""), ClassNameMismatch)
	})
	t.Run("client-cert-rejected", func(t *testing.T) {
		c := s.p.creds(s.passwd)
		c.ClientCert = s.p.otherClient.tls
		wantClass(t, checkDaemon(t, addr, "localhost", c, ""), ClassClientCertRejected)
	})
	t.Run("open-failed", func(t *testing.T) {
		r := Check(context.Background(), Target{Addr: addr, ServerName: "localhost"}, s.p.creds(s.passwd),
			Options{Timeout: 10 * time.Second, URI: "qemu:///system"}) // qemu driver not loaded
		wantClass(t, r, ClassOpenFailed)
	})
}

func TestLibvirtdMechNotOffered(t *testing.T) {
	// Kolla's TLS default: SCRAM-SHA-256 only; a client insisting on
	// DIGEST-MD5 gets mech-not-offered.
	s := saslDaemon(t, "scram-sha-256")
	wantClass(t, checkDaemon(t, s.d.Addr(), "localhost", s.p.creds(s.passwd), "DIGEST-MD5"), ClassMechNotOffered)
	r := checkDaemon(t, s.d.Addr(), "localhost", s.p.creds(s.passwd), "")
	wantClass(t, r, ClassOK)
	if r.Mechanism != "SCRAM-SHA-256" {
		t.Fatalf("mechanism %q", r.Mechanism)
	}
}

func TestLibvirtdServerFromOtherCA(t *testing.T) {
	// A daemon deployed with another PKI (its own CA and a server cert
	// from it) seen by a client that trusts only our CA.
	p := newPKI(t)
	d := startDaemonCA(t, p.otherCA, p.otherServer, libvirttest.Config{AuthTLS: "none"})
	wantClass(t, checkDaemon(t, d.Addr(), "localhost", p.creds(""), ""), ClassUnknownCA)
	// Sanity: with the right CA and a client cert it trusts, all is well.
	c := Credentials{CA: p.otherCA.pool(), ClientCert: p.otherClient.tls}
	wantClass(t, checkDaemon(t, d.Addr(), "localhost", c, ""), ClassOK)
}

func TestLibvirtdAuthNone(t *testing.T) {
	p := newPKI(t)
	d := startDaemon(t, p, p.server, libvirttest.Config{AuthTLS: "none"})
	r := checkDaemon(t, d.Addr(), "localhost", p.creds(""), "")
	wantClass(t, r, ClassOK)
	if r.Mechanism != "none" || !strings.Contains(r.Identity, "nova-client") {
		t.Fatalf("mechanism %q identity %q", r.Mechanism, r.Identity)
	}
	d.NoCertificateWarnings(t)
}

func TestLibvirtdExpiredServerCert(t *testing.T) {
	// libvirtd 9.0 refuses to start with an already expired certificate
	// ("virNetTLSContextCheckCertTimes: The server certificate ... has
	// expired", exit 6), but keeps serving one that expires while it runs,
	// which is how this happens in production. So: a certificate that
	// expires a few seconds after the daemon starts.
	p := newPKI(t)
	notAfter := time.Now().Add(5 * time.Second)
	shortLived := p.ca.leaf(t, leafOpts{notBefore: time.Now().Add(-time.Hour), notAfter: notAfter})
	d := startDaemon(t, p, shortLived, libvirttest.Config{AuthTLS: "none"})
	if time.Now().After(notAfter) {
		t.Fatal("libvirtd took longer to start than the certificate lived; cannot stage the expiry")
	}
	wantClass(t, checkDaemon(t, d.Addr(), "localhost", p.creds(""), ""), ClassOK)
	time.Sleep(time.Until(notAfter) + 1500*time.Millisecond) // x509 times have 1s resolution
	r := checkDaemon(t, d.Addr(), "localhost", p.creds(""), "")
	wantClass(t, r, ClassServerCertExpired)
	if !r.ServerCertNotAfter.Equal(notAfter.Truncate(time.Second)) {
		t.Fatalf("ServerCertNotAfter = %s, want %s", r.ServerCertNotAfter, notAfter.Truncate(time.Second))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
