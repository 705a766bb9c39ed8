// Package libvirttest starts a real, unprivileged libvirtd on loopback for
// integration tests, serving TLS (and optionally SASL) with files the test
// provides, and runs the real virsh against it.
//
// The recipe follows the verified facts in shared/reference (section 5): an
// empty LIBVIRT_DRIVER_DIR keeps the qemu and network drivers from loading,
// the built-in test driver answers "test+tls://host:port/default", and the
// daemon runs as nobody when the tests run as root.
package libvirttest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// Config says what the daemon serves. File paths are copied into the
// daemon's own directory, so tests may pass files from anywhere.
type Config struct {
	CACert, ServerCert, ServerKey string // PEM files (required)
	CRL                           string // optional crl_file
	// AuthTLS is libvirtd's auth_tls: "none" (default) or "sasl".
	AuthTLS string
	// SASLMechs is the mech_list for sasl2/libvirt.conf (default
	// scram-sha-256 and digest-md5); SASLDB is the sasldb file to serve.
	SASLMechs []string
	SASLDB    string
	// TLSAllowedDNList sets tls_allowed_dn_list when non-empty.
	TLSAllowedDNList []string
	// LogFilters sets log_filters, e.g. "1:rpc 1:sasl" to see SASL identities.
	LogFilters string
	// Extra is appended to libvirtd.conf verbatim.
	Extra string
	// SystemEtc is a host bundle's etc directory. When set, libvirtd
	// runs as root in a private mount namespace where an overlay lays
	// that directory over /etc (and empty file systems lie over /run and
	// libvirt's state directories), and libvirtd.conf names no
	// certificate file unless Extra does: the daemon reads them from
	// /etc/pki as a host's does. CACert, ServerCert, ServerKey and CRL
	// must be empty. Cyrus then reads /etc/sasl2/libvirt.conf (the
	// bundle's, else the system's) as a host's libvirtd does, unless
	// SASLMechs or SASLDB is given. Needs root.
	SystemEtc string
	// Hostname, with SystemEtc, runs libvirtd in a new UTS namespace
	// too, under this host name; HostsFile, when set, lies over
	// /etc/hosts there. A hosts file listing the FQDN first
	// ("127.0.0.1 compute01.example.org compute01") makes the FQDN the
	// host's canonical name, so the SASL realm libvirtd computes.
	Hostname, HostsFile string
	// PKIDir, a directory that stands for a host's /etc/pki, runs
	// libvirtd as root in a private mount namespace where PKIDir is
	// bound over /etc/pki (on an overlay of /etc holding an empty pki
	// directory, or SystemEtc's), so the daemon reads libvirt's default
	// paths there and sees every later change made to PKIDir from
	// outside: what an install on a host does under a running daemon.
	// Its admin socket is <Dir>/run/libvirt-admin-sock. Needs root.
	PKIDir string
	// QEMUConf, with PKIDir, loads libvirt's QEMU driver (only it) and
	// gives it this qemu.conf at /etc/libvirt/qemu.conf, so the daemon
	// runs real QEMU guests reading /etc/pki (URI
	// Daemon.QEMUURI). A test qemu.conf wants security_driver "none",
	// user and group "root", cgroup_controllers [] and stdio_handler
	// "file" (no virtlogd), vnc_listen "127.0.0.1".
	QEMUConf string
}

// QEMUURI is the URI of the daemon's QEMU driver (Config.QEMUConf).
func (d *Daemon) QEMUURI() string {
	return "qemu:///system?socket=" + filepath.Join(d.Dir, "run", "libvirt-sock")
}

// AdminSocket is the daemon's admin socket, for virt-admin.
func (d *Daemon) AdminSocket() string { return filepath.Join(d.Dir, "run", "libvirt-admin-sock") }

// PID is the daemon's process id (the process libvirtd runs as).
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Daemon is a running libvirtd.
type Daemon struct {
	Port int    // TLS port on 127.0.0.1
	Dir  string // the daemon's private directory (config, logs, sockets)
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// Addr is "127.0.0.1:<port>".
func (d *Daemon) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port)) }

// Log returns what the daemon has written to its log so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// Start launches libvirtd with cfg and stops it when the test ends. It
// fails the test (or skips it outside CI) when libvirtd is not installed,
// and when the daemon exits at start.
func Start(t testing.TB, cfg Config) *Daemon {
	t.Helper()
	d, err := Launch(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Launch is Start for a daemon that may refuse to start (a certificate
// libvirtd rejects): it returns an error holding the daemon's output and
// log when libvirtd exits before it listens. A daemon that neither exits
// nor listens still fails the test.
func Launch(t testing.TB, cfg Config) (*Daemon, error) {
	t.Helper()
	bins := peer.Require(t, "libvirtd")
	dir := daemonDir(t)
	files := daemonFiles{
		sasldb: copyIn(t, dir, cfg.SASLDB, "passwd.db"),
		log:    filepath.Join(dir, "libvirtd.log"),
	}
	if cfg.PKIDir != "" && cfg.SystemEtc == "" {
		cfg.SystemEtc = filepath.Join(dir, "etc")
		if err := os.MkdirAll(filepath.Join(cfg.SystemEtc, "pki"), 0o755); err != nil {
			t.Fatal(err)
		}
		if cfg.QEMUConf != "" {
			enableQEMUDriver(t, dir, cfg)
		}
	}
	switch {
	case cfg.SystemEtc != "":
		requireRoot(t)
		if cfg.CACert != "" || cfg.ServerCert != "" || cfg.ServerKey != "" || cfg.CRL != "" {
			t.Fatal("libvirttest: SystemEtc serves the bundle's files; CACert, ServerCert, ServerKey and CRL must be empty")
		}
	case cfg.CACert == "" || cfg.ServerCert == "" || cfg.ServerKey == "":
		t.Fatal("libvirttest: CACert, ServerCert and ServerKey are required")
	default:
		files.ca = copyIn(t, dir, cfg.CACert, "cacert.pem")
		files.cert = copyIn(t, dir, cfg.ServerCert, "servercert.pem")
		files.key = copyIn(t, dir, cfg.ServerKey, "serverkey.pem")
		files.crl = copyIn(t, dir, cfg.CRL, "cacrl.pem")
	}
	port := testutil.FreePort(t)
	confPath := filepath.Join(dir, "libvirtd.conf")
	writeFile(t, confPath, []byte(libvirtdConf(cfg, port, dir, files)), 0o644)
	writeFile(t, filepath.Join(dir, "sasl2", "libvirt.conf"), []byte(saslConf(cfg.SASLMechs, files.sasldb)), 0o644)

	cmd := daemonCommand(t, bins[0], dir, confPath, cfg)
	var stderr testutil.SyncBuffer // read while the daemon writes it
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("libvirttest: start libvirtd: %v", err)
	}
	d := &Daemon{Port: port, Dir: dir, cmd: cmd, log: files.log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(d.stop)
	return d, d.waitListening(t, &stderr)
}

// enableQEMUDriver writes cfg.QEMUConf as the overlay's
// libvirt/qemu.conf and links libvirt's QEMU driver module alone into
// the daemon's driver directory.
func enableQEMUDriver(t testing.TB, dir string, cfg Config) {
	t.Helper()
	mods, _ := filepath.Glob("/usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so")
	if len(mods) == 0 {
		t.Fatal("libvirttest: libvirt's QEMU driver (libvirt_driver_qemu.so) is not installed (Debian: libvirt-daemon-driver-qemu)")
	}
	if err := os.Symlink(mods[0], filepath.Join(dir, "nodrivers", filepath.Base(mods[0]))); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(cfg.SystemEtc, "libvirt"), 0o755)
	writeFile(t, filepath.Join(cfg.SystemEtc, "libvirt", "qemu.conf"), []byte(cfg.QEMUConf), 0o644)
}

// daemonFiles are the paths of the daemon's own copies of the files Config
// names ("" for those not given) and of its log.
type daemonFiles struct{ ca, cert, key, crl, sasldb, log string }

// daemonDir makes the daemon's private directory, removed when the test
// ends. The daemon runs as nobody, so the directory must be reachable by
// it; t.TempDir's parents are 0700 and root-owned.
func daemonDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "libvirttest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, sub := range []string{"run", "home", "xdg", "nodrivers", "sasl2", "pki"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyIn copies src to dir/pki/name and returns the copy's path, or ""
// when src is "" (an optional file not given).
func copyIn(t testing.TB, dir, src, name string) string {
	t.Helper()
	if src == "" {
		return ""
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("libvirttest: %v", err)
	}
	dst := filepath.Join(dir, "pki", name)
	writeFile(t, dst, data, 0o600)
	return dst
}

func writeFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}

// libvirtdConf is the libvirtd.conf for cfg: TLS only, on 127.0.0.1:port,
// with sockets under dir and logging to files.log.
func libvirtdConf(cfg Config, port int, dir string, files daemonFiles) string {
	auth := cfg.AuthTLS
	if auth == "" {
		auth = "none"
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "listen_tls = 1\nlisten_tcp = 0\ntls_port = \"%d\"\nlisten_addr = \"127.0.0.1\"\n", port)
	fmt.Fprintf(&conf, "unix_sock_dir = %q\nauth_tls = %q\n", filepath.Join(dir, "run"), auth)
	if files.key != "" {
		fmt.Fprintf(&conf, "key_file = %q\ncert_file = %q\nca_file = %q\n", files.key, files.cert, files.ca)
	}
	if files.crl != "" {
		fmt.Fprintf(&conf, "crl_file = %q\n", files.crl)
	}
	if len(cfg.TLSAllowedDNList) > 0 {
		fmt.Fprintf(&conf, "tls_allowed_dn_list = [%s]\n", quoteList(cfg.TLSAllowedDNList))
	}
	fmt.Fprintf(&conf, "log_outputs = \"1:file:%s\"\n", files.log)
	filters := cfg.LogFilters
	if filters == "" {
		filters = "3:rpc 3:util 3:remote 3:access"
	}
	fmt.Fprintf(&conf, "log_filters = %q\n", filters)
	conf.WriteString(cfg.Extra)
	return conf.String()
}

// saslConf is sasl2/libvirt.conf: the mechanisms libvirtd offers and, when
// given, the sasldb file it checks passwords against.
func saslConf(mechs []string, sasldb string) string {
	if len(mechs) == 0 {
		mechs = []string{"scram-sha-256", "digest-md5"}
	}
	conf := "mech_list: " + strings.Join(mechs, " ") + "\n"
	if sasldb != "" {
		conf += "sasldb_path: " + sasldb + "\n"
	}
	return conf
}

// daemonCommand is the libvirtd command line for confPath with a clean
// environment confined to dir; with cfg.SystemEtc, in a private mount
// (and with cfg.Hostname, UTS) namespace (see Config.SystemEtc).
func daemonCommand(t testing.TB, libvirtd, dir, confPath string, cfg Config) *exec.Cmd {
	t.Helper()
	args := []string{"-f", confPath, "--listen", "--pid-file", filepath.Join(dir, "run", "libvirtd.pid")}
	name := libvirtd
	if (cfg.Hostname != "" || cfg.HostsFile != "") && cfg.SystemEtc == "" {
		t.Fatal("libvirttest: Hostname and HostsFile need SystemEtc")
	}
	if cfg.SystemEtc != "" {
		if strings.ContainsAny(cfg.SystemEtc, ",:") {
			t.Fatalf("libvirttest: %s cannot be an overlay's lower directory", cfg.SystemEtc)
		}
		unshare := peer.Require(t, "unshare", "mount")[0]
		flags := "-m"
		if cfg.Hostname != "" {
			flags = "-mu"
		}
		if strings.ContainsAny(cfg.PKIDir, ",:") {
			t.Fatalf("libvirttest: %s cannot be bound by this script", cfg.PKIDir)
		}
		args = append([]string{flags, "sh", "-c", namespaceScript, "sh", cfg.SystemEtc, cfg.Hostname, cfg.HostsFile, cfg.PKIDir, name}, args...)
		name = unshare
	} else if os.Geteuid() == 0 {
		// Root: drop to nobody, as the facts file recipe does, so the
		// test daemon cannot touch the real system.
		if err := chownTree(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		setpriv := peer.Require(t, "setpriv")[0]
		args = append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", name}, args...)
		name = setpriv
	}
	cmd := exec.Command(name, args...)
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/bin",
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg"),
		"LIBVIRT_DRIVER_DIR=" + filepath.Join(dir, "nodrivers"),
	}
	if cfg.SystemEtc == "" || len(cfg.SASLMechs) > 0 || cfg.SASLDB != "" {
		cmd.Env = append(cmd.Env, "SASL_CONF_PATH="+filepath.Join(dir, "sasl2"))
	}
	return cmd
}

// namespaceScript runs in a new mount namespace: it makes every mount
// private (nothing leaks to the host), lays $1 over /etc with an overlay
// and empty file systems over the directories a root libvirtd writes,
// sets the host name to $2 (in a new UTS namespace), lays $3 over
// /etc/hosts and binds $4 over /etc/pki when given, then runs the rest
// of its arguments.
const namespaceScript = `set -e
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$1:/etc" /etc
if [ -n "$2" ]; then echo "$2" > /proc/sys/kernel/hostname; fi
if [ -n "$3" ]; then mount --bind "$3" /etc/hosts; fi
if [ -n "$4" ]; then mount --bind "$4" /etc/pki; fi
for d in /run /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
shift 4
exec "$@"`

// requireRoot stops a test that needs root: a failure in CI (which runs
// as root), a skip elsewhere.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if peer.InCI() {
		t.Fatal("libvirttest: a daemon in a private mount namespace needs root (CI runs as root)")
	}
	t.Skip("SKIPPING: a daemon in a private mount namespace needs root")
}

// waitListening returns once the daemon accepts TCP connections; it
// returns an error with the daemon's output (stderr) and log if it exits
// first, and fails the test if it has not listened within 30 seconds.
func (d *Daemon) waitListening(t testing.TB, stderr *testutil.SyncBuffer) error {
	t.Helper()
	switch err := testutil.WaitListening(d.Addr(), d.done, 30*time.Second); {
	case err == nil:
		return nil
	case errors.Is(err, testutil.ErrExited):
		return fmt.Errorf("libvirttest: libvirtd exited at start: %s\n%s\nlog:\n%s", d.cmd.ProcessState, stderr.String(), d.Log())
	default:
		t.Fatalf("libvirttest: libvirtd did not listen on %s: %v\n%s\nlog:\n%s", d.Addr(), err, stderr.String(), d.Log())
		return err
	}
}

func (d *Daemon) stop() { testutil.StopGroup(d.cmd, d.done) }

// Virsh runs the real virsh with the given connection URI and arguments,
// with a clean environment plus env ("LIBVIRT_AUTH_FILE=..."), and returns
// its combined output. A hung virsh is killed after 60 seconds.
func Virsh(t testing.TB, uri string, env []string, args ...string) (string, error) {
	t.Helper()
	virsh := peer.Require(t, "virsh")[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, virsh, append([]string{"-q", "-c", uri}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// certWarning matches the log lines of libvirt's certificate checks
// (virNetTLSContextCheckCert*, virNetTLSContextValidCertificate, ...) at
// warning or error level, as the daemon's log file and virsh's stderr
// print them: "<time>: <pid>: warning : virNetTLSContextCheckCertKeyUsage:257 : ...".
// virsh reports a fatal one as "error: Certificate ... usage does not
// permit key encipherment". TLS session lines (a handshake the harness's
// own listening probe cuts short) are not about certificates.
var certWarning = regexp.MustCompile(`(?m)^(.*: (warning|error) : virNetTLSContext\w*:\d+ : .*|error: .*[Cc]ertificate.*)$`)

// CertificateWarnings returns the lines of text (a daemon log, virsh's
// output) in which libvirt's certificate checks warn or fail.
func CertificateWarnings(text string) []string {
	return certWarning.FindAllString(text, -1)
}

// CertificateWarnings returns the lines of the daemon's log in which its
// certificate checks warned or failed, about its own certificate or a
// client's.
func (d *Daemon) CertificateWarnings() []string { return CertificateWarnings(d.Log()) }

// NoCertificateWarnings fails the test when the daemon's log holds a
// certificate warning or error: about its own certificate (logged at
// start) or a client's. Call it after the connections that must be clean
// and before any that presents a certificate libvirtd refuses, which is
// logged too.
func (d *Daemon) NoCertificateWarnings(t testing.TB) {
	t.Helper()
	if w := d.CertificateWarnings(); len(w) > 0 {
		t.Errorf("libvirtd logged certificate warnings:\n%s", strings.Join(w, "\n"))
	}
}
