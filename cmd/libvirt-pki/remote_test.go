package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// The remote-signing tests run the CLI in-process (run) against a real
// multirootca (internal/cfssltest) on 127.0.0.1 with TLS.

// cli runs libvirt-pki with args and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustCLI runs libvirt-pki and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, args...)
	if code != 0 {
		t.Fatalf("libvirt-pki %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// signerFlags are the --remote-* flags for s (url: its URL, or a proxy's
// in front of it), with the auth key and TLS CA in files.
func signerFlags(t *testing.T, s *cfssltest.Signer, url string) []string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "auth-key.hex")
	if err := os.WriteFile(key, []byte(s.AuthKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--remote-signer", url, "--remote-auth-key-file", key, "--remote-label", s.Label, "--remote-ca-cert", s.TLSCAFile}
}

func hostList(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("h%03d.example.org", i+1)
	}
	return strings.Join(names, ",")
}

// checkPairs checks every host bundle of a --layout libvirt tree: each pair
// is absent or a certificate for its key that ca signed; it returns how
// many pairs it found. No temporary file or journal may be left.
func checkPairs(t *testing.T, out string, ca *pki.CA) int {
	t.Helper()
	if left := leftovers(out); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "h*"))
	pairs := 0
	for _, d := range dirs {
		for _, p := range []string{"server", "client"} {
			certPEM, certErr := os.ReadFile(filepath.Join(d, "etc/pki/libvirt", p+"cert.pem"))
			keyPEM, keyErr := os.ReadFile(filepath.Join(d, "etc/pki/libvirt/private", p+"key.pem"))
			if os.IsNotExist(certErr) && os.IsNotExist(keyErr) {
				continue
			}
			certs, err := pki.ParseCertsPEM(certPEM)
			if err != nil || keyErr != nil {
				t.Fatalf("%s %s: half a pair (%v, %v)", d, p, err, keyErr)
			}
			key, err := pki.ParseKey(keyPEM)
			if err != nil || !pki.KeyMatches(key.Signer, certs[0]) || ca.Signed(certs[0]) != nil {
				t.Fatalf("%s %s: the pair does not match or is not the signer's", d, p)
			}
			pairs++
		}
	}
	return pairs
}

// TestRemoteCertificates issues 100 hosts (200 certificates) through a
// real multirootca with the CLI, re-runs it (nothing to do), renews
// every certificate through the signer, and refuses revoke.
func TestRemoteCertificates(t *testing.T) {
	s := cfssltest.Start(t, cfssltest.Options{})
	out := filepath.Join(t.TempDir(), "pki")
	base := append([]string{"certificates", "--layout", "libvirt", "--out", out, "--hosts", hostList(100)}, signerFlags(t, s, s.URL)...)
	stdout := mustCLI(t, base...)
	if !strings.Contains(stdout, "signing through "+s.URL) {
		t.Errorf("the report does not name the signer:\n%s", stdout)
	}
	if n := checkPairs(t, out, s.CA); n != 200 {
		t.Fatalf("%d pairs, want 200", n)
	}
	caPEM := pki.EncodeCertsPEM(s.CA.Cert)
	for _, f := range []string{"h001.example.org/etc/pki/CA/cacert.pem", "h100.example.org/etc/pki/CA/cacert.pem", "ca/cacert.pem"} {
		if got, _ := os.ReadFile(filepath.Join(out, f)); !bytes.Equal(got, caPEM) {
			t.Errorf("%s is not the signer's CA certificate", f)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "ca", "cakey.pem")); !os.IsNotExist(err) {
		t.Errorf("a remote CA left a cakey.pem: %v", err)
	}
	if stdout := mustCLI(t, base...); !strings.Contains(stdout, "All 200 certificates unchanged") {
		t.Errorf("the re-run changed something:\n%s", stdout)
	}
	before, _ := os.ReadFile(filepath.Join(out, "h042.example.org/etc/pki/libvirt/servercert.pem"))
	renew := append([]string{"renew", "--layout", "libvirt", "--out", out, "--all"}, signerFlags(t, s, s.URL)...)
	if stdout := mustCLI(t, renew...); !strings.Contains(stdout, "200 renewed") {
		t.Errorf("renew through the signer:\n%s", stdout)
	}
	after, _ := os.ReadFile(filepath.Join(out, "h042.example.org/etc/pki/libvirt/servercert.pem"))
	if bytes.Equal(before, after) || checkPairs(t, out, s.CA) != 200 {
		t.Error("renew did not re-issue through the signer")
	}
	for _, args := range [][]string{
		{"revoke", "--layout", "libvirt", "--out", out, "--host", "h001.example.org", "--remote-signer", s.URL},
		{"revoke", "--layout", "libvirt", "--out", out, "--host", "h001.example.org"},
	} {
		code, _, errOut := cli(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "signs no CRLs") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("revoke with a remote CA: exit %d, %q", code, errOut)
		}
	}
}

// TestRemoteWrongAuthKey: a key the signer does not hold is refused
// with the classified message, exit 1, nothing written.
func TestRemoteWrongAuthKey(t *testing.T) {
	s := cfssltest.Start(t, cfssltest.Options{})
	out := filepath.Join(t.TempDir(), "pki")
	flags := signerFlags(t, s, s.URL)
	if err := os.WriteFile(flags[3], []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, append([]string{"certificates", "--layout", "libvirt", "--out", out, "--hosts", "a,b"}, flags...)...)
	if code != exitFailure || !strings.Contains(errOut, "(auth-refused)") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	if files, _ := snapshotFiles(out); len(files) > 0 {
		t.Errorf("written after a refusal: %v", files)
	}
}

// TestRemoteSignerStopped stops the signer in the middle of a 100-host
// run (after a share of its answers went through a proxy): the run
// fails with nothing half-written and no temporary file, and a re-run
// with the signer back completes.
func TestRemoteSignerStopped(t *testing.T) {
	s := cfssltest.Start(t, cfssltest.Options{})
	out := filepath.Join(t.TempDir(), "pki")
	proxy := stoppingProxy(t, strings.TrimPrefix(s.URL, "https://"), 60_000, s.Stop)
	args := []string{"certificates", "--layout", "libvirt", "--out", out, "--hosts", hostList(100)}
	code, _, errOut := cli(t, append(args, signerFlags(t, s, "https://"+proxy)...)...)
	if code != exitFailure || !strings.Contains(errOut, "(unreachable)") {
		t.Fatalf("with the signer stopped: exit %d, %q", code, errOut)
	}
	if n := checkPairs(t, out, s.CA); n != 0 {
		t.Errorf("%d pairs written by a failed run", n)
	}
	s.Restart()
	mustCLI(t, append(args, signerFlags(t, s, s.URL)...)...)
	if n := checkPairs(t, out, s.CA); n != 200 {
		t.Errorf("the re-run made %d pairs, want 200", n)
	}
}

// stoppingProxy relays TCP to addr and calls stop once limit bytes have
// come back from it.
func stoppingProxy(t *testing.T, addr string, limit int64, stop func()) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var relayed atomic.Int64
	var once sync.Once
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				buf := make([]byte, 4096)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
						if relayed.Add(int64(n)) > limit {
							once.Do(stop)
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestRemoteRotation rotates a CA libvirt-pki made to a signer's CA
// (rotate-ca start --remote-signer A, reissue through A, finish), then
// A's to signer B's: the CA directory keeps no key of a remote CA, the
// bundles hold both CAs mid-rotation, and signing with a CA other than
// the directory's is refused until the rotation makes it current.
func TestRemoteRotation(t *testing.T) {
	a := cfssltest.Start(t, cfssltest.Options{})
	b := cfssltest.Start(t, cfssltest.Options{})
	out := filepath.Join(t.TempDir(), "pki")
	tree := []string{"--layout", "libvirt", "--out", out}
	hosts := append([]string{"certificates", "--hosts", hostList(3)}, tree...)
	mustCLI(t, hosts...)
	step := func(name string, s *cfssltest.Signer) string {
		args := append([]string{"rotate-ca", name}, tree...)
		if s != nil {
			args = append(args, signerFlags(t, s, s.URL)...)
		}
		return mustCLI(t, args...)
	}
	caKey := filepath.Join(out, "ca", "cakey.pem")
	if code, _, errOut := cli(t, append(hosts, signerFlags(t, a, a.URL)...)...); code != exitUsage || !strings.Contains(errOut, "rotate-ca start --remote-signer") {
		t.Fatalf("signing with another CA than the directory's: exit %d, %q", code, errOut)
	}
	for i, s := range []*cfssltest.Signer{a, b} {
		step("start", s)
		bundle, _ := os.ReadFile(filepath.Join(out, "h001.example.org/etc/pki/CA/cacert.pem"))
		if certs, _ := pki.ParseCertsPEM(bundle); len(certs) != 2 || !certs[1].Equal(s.CA.Cert) {
			t.Fatalf("rotation %d: the bundle does not end with the signer's CA", i)
		}
		if code, _, errOut := cli(t, append([]string{"rotate-ca", "reissue"}, tree...)...); code != exitUsage || !strings.Contains(errOut, "give --remote-signer") {
			t.Fatalf("rotation %d: reissue without the signer: exit %d, %q", i, code, errOut)
		}
		step("reissue", s)
		if _, err := os.Stat(caKey); !os.IsNotExist(err) {
			t.Errorf("rotation %d: the CA directory kept a key: %v", i, err)
		}
		if n := checkPairs(t, out, s.CA); n != 6 {
			t.Errorf("rotation %d: %d pairs signed by the signer, want 6", i, n)
		}
		step("finish", nil)
		mustCLI(t, append(hosts, signerFlags(t, s, s.URL)...)...)
	}
	cacert, _ := os.ReadFile(filepath.Join(out, "h003.example.org/etc/pki/CA/cacert.pem"))
	if !bytes.Equal(cacert, pki.EncodeCertsPEM(b.CA.Cert)) {
		t.Error("after the rotations, cacert.pem is not B's CA alone")
	}
}

// TestRemoteEverySet issues every set's leaves (a console proxy host
// too) through the signer: each leaf is the signer's, each CA copy is
// the signer's CA certificate.
func TestRemoteEverySet(t *testing.T) {
	s := cfssltest.Start(t, cfssltest.Options{})
	out := filepath.Join(t.TempDir(), "pki")
	mustCLI(t, append([]string{"certificates", "--layout", "libvirt", "--out", out, "--hosts", "c1,c2", "--proxy-host", "proxy1",
		"--sets", "libvirt,qemu,vnc,spice,novncproxy"}, signerFlags(t, s, s.URL)...)...)
	leaves, copies := 0, 0
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pem") {
			return err
		}
		data, _ := os.ReadFile(p)
		certs, err := pki.ParseCertsPEM(data)
		if err != nil {
			return nil // a key
		}
		switch {
		case certs[0].IsCA && !bytes.Equal(data, pki.EncodeCertsPEM(s.CA.Cert)):
			t.Errorf("%s is not the signer's CA certificate", p)
		case certs[0].IsCA:
			copies++
		case s.CA.Signed(certs[0]) != nil:
			t.Errorf("%s is not signed by the signer", p)
		default:
			leaves++
		}
		return nil
	})
	// 2 x (libvirt and qemu server and client, vnc and spice server) and
	// the proxy's client; 2 x 4 CA copies, the proxy's and the CA
	// directory's record.
	if err != nil || leaves != 13 || copies != 10 {
		t.Errorf("%v: %d leaves, %d CA copies", err, leaves, copies)
	}
}
