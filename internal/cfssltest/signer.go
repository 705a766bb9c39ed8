package cfssltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// AuthKeyFile is the file, in the signer's working directory, that
// holds the hex auth key: the default config names it "file:auth-key.hex".
const AuthKeyFile = "auth-key.hex"

// Options describe a signer. The zero value is a signer with a new ECDSA
// root CA, label "libvirt" and pki.SignerConfig("", "file:auth-key.hex").
type Options struct {
	CA      *pki.CA // the CA it signs with (it needs the key)
	Label   string
	Config  []byte // cfssl signing config JSON
	AuthKey string // hex HMAC key (default: 32 random bytes)
	// Serve runs `cfssl serve` (one CA, no labels) instead of multirootca.
	Serve bool
}

// Signer is a running multirootca (or cfssl serve).
type Signer struct {
	URL     string // https://127.0.0.1:PORT
	Label   string
	AuthKey string // hex
	CA      *pki.CA
	// TLSRoots trusts the signer's TLS certificate; TLSCAFile is the same
	// CA as a PEM file (for cfssl -tls-remote-ca).
	TLSRoots  *x509.CertPool
	TLSCAFile string
	Dir       string // its working directory: roots.conf, keys, log
	Tools     Tools

	t     testing.TB
	serve bool
	addr  string
	cmd   *exec.Cmd
	done  chan struct{}
}

// Start builds (or finds) multirootca, writes its files and starts it
// on a free port of 127.0.0.1 with TLS; it returns once the signer
// answers. The test's cleanup stops it.
func Start(t testing.TB, o Options) *Signer {
	t.Helper()
	tools := Build(t)
	s := &Signer{Label: o.Label, AuthKey: o.AuthKey, CA: o.CA, Dir: t.TempDir(), Tools: tools, t: t, serve: o.Serve}
	if err := s.setup(o.Config); err != nil {
		t.Fatalf("cfssltest: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	s.URL = "https://" + s.addr
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "signer.log"))
			t.Logf("signer log (last lines): %s", lastLines(string(log), 15))
		}
	})
	s.Restart()
	return s
}

// setup fills in the defaults and writes the CA, the TLS pair, the auth
// key, the signing config and roots.conf into s.Dir.
func (s *Signer) setup(config []byte) error {
	var err error
	if s.CA == nil {
		if s.CA, err = pki.NewCA(pki.CAOptions{CommonName: "cfssltest signing CA", Org: "Example", Algo: pki.ECDSAP256, Days: 30}); err != nil {
			return err
		}
	}
	if s.Label == "" {
		s.Label = "libvirt"
	}
	if s.AuthKey == "" {
		b := make([]byte, 32)
		rand.Read(b)
		s.AuthKey = hex.EncodeToString(b)
	}
	if config == nil {
		if config, err = pki.SignerConfig("", "file:"+AuthKeyFile); err != nil {
			return err
		}
	}
	tlsCA, tlsCert, tlsKey, err := tlsPair()
	if err != nil {
		return err
	}
	s.TLSRoots = x509.NewCertPool()
	s.TLSRoots.AddCert(tlsCA.Cert)
	s.TLSCAFile = filepath.Join(s.Dir, "tls-ca.pem")
	roots := fmt.Sprintf("[ %s ]\nprivate = file://%s\ncertificate = %s\nconfig = %s\n", s.Label,
		filepath.Join(s.Dir, "ca-key.pem"), filepath.Join(s.Dir, "ca.pem"), filepath.Join(s.Dir, "signer.json"))
	files := []struct {
		name string
		data []byte
	}{
		{"ca.pem", pki.EncodeCertsPEM(s.CA.Cert)}, {"ca-key.pem", s.CA.Key.PEM},
		{AuthKeyFile, []byte(s.AuthKey + "\n")}, {"signer.json", config}, {"roots.conf", []byte(roots)},
		{"tls-ca.pem", tlsCA.CertPEM}, {"tls.pem", tlsCert}, {"tls-key.pem", tlsKey},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(s.Dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// tlsPair is a CA of its own and the signer's TLS certificate for
// 127.0.0.1, made with pki.
func tlsPair() (ca *pki.CA, certPEM, keyPEM []byte, err error) {
	if ca, err = pki.NewCA(pki.CAOptions{CommonName: "cfssltest TLS CA", Algo: pki.ECDSAP256, Days: 30}); err != nil {
		return nil, nil, nil, err
	}
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return nil, nil, nil, err
	}
	_, certPEM, err = ca.Issue(pki.LeafRequest{Profile: pki.ServerProfile, CommonName: "127.0.0.1", Key: key, Days: 30,
		SANs: pki.SANs{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}})
	return ca, certPEM, key.PEM, err
}

// Stop kills the signer, if it runs, and waits for it to go.
func (s *Signer) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the signer (again) on the same address and waits until
// it answers. Start calls it.
func (s *Signer) Restart() {
	s.t.Helper()
	s.Stop()
	log, err := os.OpenFile(filepath.Join(s.Dir, "signer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	cmd := s.command()
	cmd.Dir = s.Dir // the config's "file:auth-key.hex" is relative to it
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start the signer: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.done)
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		s.t.Fatalf("the signer (%s): %v", filepath.Base(s.command().Path), err)
	}
}

// command is multirootca's (or cfssl serve's) command line.
func (s *Signer) command() *exec.Cmd {
	tlsFlags := []string{"-tls-cert", filepath.Join(s.Dir, "tls.pem"), "-tls-key", filepath.Join(s.Dir, "tls-key.pem")}
	if s.serve {
		host, port, _ := net.SplitHostPort(s.addr)
		return exec.Command(s.Tools.CFSSL, append([]string{"serve", "-address", host, "-port", port,
			"-ca", filepath.Join(s.Dir, "ca.pem"), "-ca-key", filepath.Join(s.Dir, "ca-key.pem"),
			"-config", filepath.Join(s.Dir, "signer.json")}, tlsFlags...)...)
	}
	return exec.Command(s.Tools.Multirootca, append([]string{"-a", s.addr, "-l", s.Label,
		"-roots", filepath.Join(s.Dir, "roots.conf")}, tlsFlags...)...)
}

// waitReady polls the info endpoint until the signer answers, it exits
// or the limit passes (a bound on a hang, not a timed assertion).
func (s *Signer) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.TLSRoots}}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	body := fmt.Appendf(nil, `{"label":%q}`, s.Label)
	for {
		resp, err := client.Post(s.URL+"/api/v1/cfssl/info", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("info answered HTTP %d", resp.StatusCode)
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "signer.log"))
			return fmt.Errorf("exited before answering: %s", lastLines(string(log), 5))
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s: %v", limit, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
