package reload

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// DefaultAdminSockets are where libvirtd and virtproxyd listen for
// virt-admin when run as root (their server names are the sockets'
// prefixes: libvirt-admin-sock is libvirtd's).
var DefaultAdminSockets = []string{"/run/libvirt/libvirt-admin-sock", "/run/libvirt/virtproxyd-admin-sock"}

// daemon is a libvirt daemon reachable through its admin socket.
type daemon struct{ socket, server string }

// serverOf names the daemon an admin socket belongs to.
func serverOf(socket string) string {
	base := strings.TrimSuffix(filepath.Base(socket), "-admin-sock")
	if base == "libvirt" {
		return "libvirtd"
	}
	return base
}

// findDaemons lists the daemons to reload: those given, else the
// default admin sockets that accept a connection.
func findDaemons(ctx context.Context, o Options) ([]daemon, error) {
	var out []daemon
	for _, s := range o.AdminSockets {
		if s == "" {
			continue // --admin-socket "": no daemon
		}
		if fi, err := os.Stat(s); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return nil, errs.Inputf("--admin-socket %s: not a socket (is the daemon running? libvirtd's is /run/libvirt/libvirt-admin-sock)", s)
		}
		out = append(out, daemon{s, serverOf(s)})
	}
	if len(o.AdminSockets) > 0 {
		return out, nil
	}
	for _, s := range DefaultAdminSockets {
		if answers(ctx, s) {
			out = append(out, daemon{s, serverOf(s)})
		}
	}
	return out, nil
}

// answers reports whether a daemon accepts a connection on its admin
// socket.
func answers(ctx context.Context, socket string) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// noTLSService is what libvirt 9.0's server-update-tls says when the
// daemon has no TLS listener.
const noTLSService = "no tls service found"

// overrideRE finds a TLS file path set in libvirtd.conf (or
// virtproxyd.conf): uncommented key_file, cert_file, ca_file, crl_file,
// with the quoted path it sets.
var overrideRE = regexp.MustCompile(`(?m)^\s*(key_file|cert_file|ca_file|crl_file)\s*=\s*"?([^"\n]*)"?`)

// tlsDefaults are the paths server-update-tls reads, by setting: the
// libvirt layout's rows, which hold libvirt's default paths (Kolla's
// libvirtd.conf sets exactly these, which is no override).
func tlsDefaults() map[string]string {
	path := func(role layout.Role) string {
		spec, _ := layout.Libvirt.Spec(role)
		return "/" + spec.Rel
	}
	ca := path(layout.CACert)
	return map[string]string{
		"key_file":  path(layout.ServerKey),
		"cert_file": path(layout.ServerCert),
		"ca_file":   ca,
		"crl_file":  filepath.Join(filepath.Dir(ca), layout.CRLFile),
	}
}

// overrides lists the settings of a daemon configuration that point
// the TLS files away from libvirt's default paths.
func overrides(conf []byte) []string {
	defaults := tlsDefaults()
	var keys []string
	for _, m := range overrideRE.FindAllSubmatch(conf, -1) {
		if filepath.Clean(strings.TrimSpace(string(m[2]))) != defaults[string(m[1])] {
			keys = append(keys, string(m[1]))
		}
	}
	return keys
}

// checkOverrides refuses (unless o.Force) a daemon configuration under
// o.Root that sets its TLS file paths: server-update-tls reads libvirt's
// default paths whatever the configuration says.
func checkOverrides(o Options, rep *Report) error {
	for _, name := range []string{"libvirtd.conf", "virtproxyd.conf"} {
		path := filepath.Join(o.Root, "etc", "libvirt", name)
		data, err := fsutil.ReadFileIfExists(path, fsutil.LimitConfig)
		if err != nil {
			return errs.Inputf("%v", err)
		}
		keys := overrides(data)
		if keys == nil {
			continue
		}
		msg := fmt.Sprintf("%s sets %s: the live reload (virt-admin server-update-tls) reads libvirt's default paths (/etc/pki/CA/cacert.pem, /etc/pki/CA/cacrl.pem, /etc/pki/libvirt/servercert.pem, /etc/pki/libvirt/private/serverkey.pem) and ignores these settings", path, strings.Join(keys, ", "))
		if !o.Force {
			return errs.Inputf("%s: remove them (the host bundle installs the default paths) or restart the daemon instead; --force reloads anyway", msg)
		}
		rep.Notes = append(rep.Notes, msg+" (--force: reloading anyway)")
	}
	return nil
}

// reloadDaemon runs virt-admin server-update-tls on d and checks its TLS
// listener before and after.
func reloadDaemon(ctx context.Context, o Options, d daemon) Listener {
	addr := libvirtdAddr(o)
	l := Listener{Kind: d.server, Name: d.socket, Addr: addr}
	creds := credentials(o.Root, layout.CACert, layout.ClientCert, layout.ClientKey)
	before := served(ctx, o, live.Target{Host: d.server, Addr: addr, ServerName: o.ServerName}, creds)
	uri := d.server + ":///system?socket=" + d.socket
	if _, err := runTool(ctx, o.VirtAdmin, "-c", uri, "server-update-tls", d.server); err != nil {
		l.Status, l.Message = StatusFailed, fmt.Sprintf("virt-admin server-update-tls %s: %v", d.server, err)
		switch {
		case strings.Contains(err.Error(), noTLSService):
			// libvirt 9.0 with listen_tls = 0: nothing serves TLS.
			l.Status, l.Message = StatusUnchanged, d.server+" has no TLS listener (listen_tls = 0): nothing to reload"
		case !answers(ctx, d.socket):
			l.Message = fmt.Sprintf("%s exited during server-update-tls (%v). libvirt 9.0 was measured to crash (SIGSEGV in GnuTLS) when a TLS handshake runs during the reload; systemd restarts it (Restart=on-failure) and it then reads the installed files: check systemctl status %s, then run libvirt-pki reload again", d.server, err, d.server)
		}
		return l
	}
	after := served(ctx, o, live.Target{Host: d.server, Addr: addr, ServerName: o.ServerName}, creds)
	judge(&l, before.ServerCert, after, rooted(o.Root, layout.ServerCert))
	return l
}

// libvirtdAddr is where libvirtd's TLS listener is checked.
func libvirtdAddr(o Options) string {
	if o.LibvirtdAddr != "" {
		return o.LibvirtdAddr
	}
	return net.JoinHostPort(o.ServerName, live.DefaultPort)
}

// judge sets a listener's status from what it served (after the reload)
// and the certificate file at path: verify's stale-certificate check.
func judge(l *Listener, before *x509.Certificate, after live.Result, path string) {
	l.Check = string(after.Class)
	if after.ServerCert == nil {
		l.Status, l.Message = StatusReloaded, fmt.Sprintf("reloaded; no TLS listener answered at %s (%s), nothing served to check", l.Addr, after.Err)
		return
	}
	l.Serial = pki.SerialHex(after.ServerCert)
	disk, stale := verify.StaleCertificate(after.ServerCert, path)
	l.Status = status(before, after.ServerCert, stale)
	if stale {
		dserial := "?"
		if disk != nil {
			dserial = pki.SerialHex(disk)
		}
		l.Message = fmt.Sprintf("still serves serial %s, but %s holds serial %s", l.Serial, path, dserial)
	}
}

// served checks t live and returns its result (ServerCert nil when no
// certificate arrived).
func served(ctx context.Context, o Options, t live.Target, c live.Credentials) live.Result {
	return live.Check(ctx, t, c, live.Options{Timeout: o.Timeout})
}

// credentials loads a CA file and client pair under root for a live
// check; without a client pair (or CA) the check still sees the
// certificate the server presents, which is what the stale check needs.
func credentials(root string, ca, cert, key layout.Role) live.Credentials {
	c, err := verify.LoadCredentials(rooted(root, ca), rooted(root, cert), rooted(root, key))
	if err == nil {
		return c
	}
	return caOnly(rooted(root, ca))
}

// caOnly are credentials holding only the CA file at path (if readable).
func caOnly(path string) live.Credentials {
	c := live.Credentials{CA: x509.NewCertPool()}
	if data, err := fsutil.ReadFile(path, fsutil.LimitCert); err == nil {
		c.CA.AppendCertsFromPEM(data)
	}
	return c
}
