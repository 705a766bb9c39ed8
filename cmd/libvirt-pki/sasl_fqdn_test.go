package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// openAuthScript logs in as nova-compute does: libvirt.openAuth with
// AUTHNAME and PASSPHRASE credentials and a callback, which must never
// be asked when LIBVIRT_AUTH_FILE names an auth.conf holding them.
const openAuthScript = `import sys, libvirt
asked = []
def cb(creds, data):
    asked.append([c[0] for c in creds])
    return -1
conn = libvirt.openAuth(sys.argv[1], [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], cb, None], 0)
print("hostname=%s callback-asked=%d" % (conn.getHostname(), len(asked)))
conn.close()
`

// openAuth runs openAuthScript with python3-libvirt against uri, with
// LIBVIRT_AUTH_FILE set to authFile, and returns its combined output.
func openAuth(t *testing.T, uri, authFile string) (string, error) {
	t.Helper()
	python := debianPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, python, "-c", openAuthScript, uri)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config", "LIBVIRT_AUTH_FILE=" + authFile}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// debianPython is the distribution's python3, which python3-libvirt is
// built for (a python3 earlier on PATH, pyenv's say, lacks it).
func debianPython(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/usr/bin/python3"); err == nil && !fi.IsDir() {
		return "/usr/bin/python3"
	}
	return peer.Require(t, "python3")[0]
}

// requirePythonLibvirt stops the test when python3-libvirt (nova's
// client) is missing: a failure in CI, a skip elsewhere.
func requirePythonLibvirt(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(debianPython(t), "-c", "import libvirt").CombinedOutput(); err != nil {
		if peer.InCI() {
			t.Fatalf("python3-libvirt is missing (CI=true): install it (see .ci/run): %v\n%s", err, out)
		}
		t.Skipf("SKIPPING: python3-libvirt is missing: %v", err)
	}
}

// bundleClient is a pkipath directory holding a host bundle's client
// files (CA, client certificate and key).
func bundleClient(t *testing.T, hostDir string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(hostDir, "etc/pki/CA/cacert.pem"), filepath.Join(dir, "cacert.pem"))
	copyFile(t, filepath.Join(hostDir, "etc/pki/libvirt/clientcert.pem"), filepath.Join(dir, "clientcert.pem"))
	copyFile(t, filepath.Join(hostDir, "etc/pki/libvirt/private/clientkey.pem"), filepath.Join(dir, "clientkey.pem"))
	return dir
}

// fqdnDaemon starts libvirtd as a host bundle's host runs it (root, the
// bundle's etc over /etc, Cyrus reading the bundle's
// /etc/sasl2/libvirt.conf and passwd.db, auth_tls = "sasl") on a host
// named compute01 whose /etc/hosts lists its FQDN first: libvirtd's SASL
// realm is then compute01.example.org.
func fqdnDaemon(t *testing.T, hostDir, hostsFile string) *libvirttest.Daemon {
	t.Helper()
	add, err := os.ReadFile(filepath.Join(hostDir, "etc/libvirt-pki/libvirtd.conf.add"))
	if err != nil {
		t.Fatal(err)
	}
	return libvirttest.Start(t, libvirttest.Config{
		SystemEtc: filepath.Join(hostDir, "etc"), Extra: string(add), AuthTLS: "sasl",
		Hostname: "compute01", HostsFile: hostsFile, LogFilters: "2:daemon.remote 3:rpc 3:util",
	})
}

// TestSASLBundleFQDNRealmRealPeers: a host bundle's SASL files let virsh
// (root's auth.conf) and python3-libvirt's openAuth as nova calls it
// (nova-compute's auth.conf; the callback never asked) log in, with
// SCRAM-SHA-256 and DIGEST-MD5, to a libvirtd whose host name resolves
// to its FQDN; the same daemon refuses a sasldb holding only the
// short-name realm, so the FQDN realm is what makes it work.
func TestSASLBundleFQDNRealmRealPeers(t *testing.T) {
	peer.Require(t, "libvirtd", "virsh", "unshare")
	requirePythonLibvirt(t)
	dir := t.TempDir()
	kolla, out := filepath.Join(dir, "kolla"), filepath.Join(dir, "out")
	hostSpec := "compute01=compute01.example.org,127.0.0.1"
	runCLI(t, "certificates", "--layout", "libvirt", "--out", out, "--host", hostSpec)
	if err := os.Mkdir(kolla, 0o755); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "passwords", "--config-dir", kolla)
	hostsFile := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 compute01.example.org compute01\n127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(out, "compute01")
	client := bundleClient(t, hostDir)
	rootAuth := filepath.Join(hostDir, "root/.config/libvirt/auth.conf")
	novaAuth := filepath.Join(hostDir, "var/lib/nova/.config/libvirt/auth.conf")
	for _, mech := range []string{"SCRAM-SHA-256", "DIGEST-MD5"} {
		t.Run(mech, func(t *testing.T) {
			o := runCLI(t, "sasl", "--layout", "libvirt", "--out", out, "--config-dir", kolla, "--host", hostSpec, "--mech", strings.ToLower(mech))
			if !strings.Contains(o, "compute01: realms compute01, compute01.example.org") {
				t.Fatalf("sasl: %s", o)
			}
			d := fqdnDaemon(t, hostDir, hostsFile)
			// The URI names the address (in the server certificate's SAN):
			// only the daemon resolves compute01.
			uri := "test+tls://127.0.0.1:" + strconv.Itoa(d.Port) + "/default?pkipath=" + client
			o, err := libvirttest.Virsh(t, uri, []string{"LIBVIRT_AUTH_FILE=" + rootAuth}, "hostname")
			if err != nil || strings.TrimSpace(o) != "compute01.example.org" {
				t.Fatalf("virsh with root's auth.conf: %v\n%s\nlog:\n%s", err, o, d.Log())
			}
			o, err = openAuth(t, uri, novaAuth)
			if err != nil || strings.TrimSpace(o) != "hostname=compute01.example.org callback-asked=0" {
				t.Fatalf("python3-libvirt openAuth with nova-compute's auth.conf: %v\n%s\nlog:\n%s", err, o, d.Log())
			}
			if !strings.Contains(d.Log(), "identity=nova") {
				t.Fatalf("libvirtd did not log the authenticated identity:\n%s", d.Log())
			}
			d.NoCertificateWarnings(t)
		})
	}

	// The short-name realm alone: the same daemon refuses both clients,
	// and verify --live says the realm is the matter.
	for _, mech := range []string{"SCRAM-SHA-256", "DIGEST-MD5"} {
		t.Run(mech+"/short-realm", func(t *testing.T) {
			runCLI(t, "sasl", "--layout", "libvirt", "--out", out, "--config-dir", kolla, "--host", hostSpec, "--realm", "compute01", "--mech", strings.ToLower(mech))
			refusedShortRealm(t, fqdnDaemon(t, hostDir, hostsFile), client, rootAuth, novaAuth, mech,
				"verify", "--layout", "libvirt", "--out", out, "--config-dir", kolla, "--host", hostSpec)
		})
	}
}

// refusedShortRealm checks that daemon d, whose sasldb holds the user
// only in the short-name realm, refuses virsh and openAuth, and that
// verify (verifyArgs) --live reports live-sasl-unknown-user with a hint
// naming the sasldb's realm, the daemon's (DIGEST-MD5 says it) and the
// sasl option that fixes it.
func refusedShortRealm(t *testing.T, d *libvirttest.Daemon, client, rootAuth, novaAuth, mech string, verifyArgs ...string) {
	t.Helper()
	uri := "test+tls://127.0.0.1:" + strconv.Itoa(d.Port) + "/default?pkipath=" + client
	if o, err := libvirttest.Virsh(t, uri, []string{"LIBVIRT_AUTH_FILE=" + rootAuth}, "hostname"); err == nil {
		t.Fatalf("virsh logged in with only the short-name realm in the sasldb:\n%s", o)
	}
	if o, err := openAuth(t, uri, novaAuth); err == nil {
		t.Fatalf("openAuth logged in with only the short-name realm in the sasldb:\n%s", o)
	}
	if !strings.Contains(d.Log(), "user not found: unable to canonify user") {
		t.Fatalf("libvirtd did not refuse an unknown user:\n%s", d.Log())
	}
	o := runExit(t, exitFailure, append(verifyArgs, "--live", d.Addr(), "--uri", "test:///default")...)
	want := []string{"live-sasl-unknown-user", `holds "nova" in "compute01":`, "libvirt-pki sasl --domain DOMAIN"}
	if mech == "DIGEST-MD5" {
		want = append(want, `libvirtd's realm is "compute01.example.org"`)
	}
	for _, w := range want {
		if !strings.Contains(o, w) {
			t.Errorf("verify --live against a sasldb with only the short-name realm: no %q in\n%s", w, o)
		}
	}
	if strings.Contains(o, "live-auth-failed") {
		t.Errorf("verify --live reported live-auth-failed for an unknown user:\n%s", o)
	}
}
