package verify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/sasl"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// LiveOptions configures the live checks.
type LiveOptions struct {
	// Endpoints are HOST[:PORT] to check; each uses the credentials of the
	// host it names (its own directory, else the shared files).
	Endpoints []string
	// All adds every name and address of every host, at live.DefaultPort.
	All bool
	// VNCEndpoints are QEMU VNC servers, HOST[:PORT] (port 5900 by
	// default), reached with VeNCrypt and the console proxy's client
	// pair, VNCFiles.
	VNCEndpoints []string
	VNCFiles     VNCFiles
	Authname     string
	Password     string // "" when none is known: a daemon requiring SASL then fails with sasl-no-password
	Mech         string
	URI          string
	Timeout      time.Duration
	Concurrency  int
}

// VNCFiles are the PEM files of the VeNCrypt client (nova-novncproxy's
// vencrypt_ca_certs, vencrypt_client_cert and vencrypt_client_key).
// None given: the console proxy host's files in the tree.
type VNCFiles struct{ CACert, ClientCert, ClientKey string }

// CodeLiveStale is the finding for a server presenting another
// certificate than the one its host's files hold: they were renewed and
// the daemon (or the guest's QEMU) still runs with the old one.
const CodeLiveStale Code = "live-stale-certificate"

// LiveCheck runs the live checks and adds their results, and a finding
// for each failure and each stale server certificate, to rep. hosts are
// the hosts the offline check used.
func LiveCheck(ctx context.Context, o Options, lo LiveOptions, hosts []layout.Host, rep *Report) error {
	hosts, err := hostsToCheck(o, hosts)
	if err != nil {
		return err
	}
	c := &checker{o: o, tree: o.tree()}
	jobs, err := c.libvirtdJobs(lo, hosts)
	if err != nil {
		return err
	}
	vnc, err := c.vncJobs(lo, hosts)
	if err != nil {
		return err
	}
	rep.Live = live.CheckAll(ctx, append(jobs, vnc...), lo.Concurrency)
	for _, r := range rep.Live {
		if !r.OK {
			f := Finding{Error, Code("live-" + string(r.Class)), r.Target.Host, r.Target.Addr, r.Err}
			if r.Class == live.ClassSASLUnknownUser {
				f.Message += "; " + c.realmHint(r.Target.Host, lo.Authname, r.ServerRealm)
			}
			rep.Findings = append(rep.Findings, f)
		}
		if f, stale := c.staleFinding(r); stale {
			rep.Findings = append(rep.Findings, f)
		}
	}
	return nil
}

// libvirtdJobs are the libvirtd logins: the endpoints given, and with
// lo.All every name of every host.
func (c *checker) libvirtdJobs(lo LiveOptions, hosts []layout.Host) ([]live.Job, error) {
	endpoints := append([]string(nil), lo.Endpoints...)
	if lo.All {
		for _, h := range hosts {
			for _, n := range h.Names() {
				endpoints = append(endpoints, net.JoinHostPort(n, live.DefaultPort))
			}
		}
	}
	creds := map[string]live.Credentials{}
	var jobs []live.Job
	for _, ep := range endpoints {
		name, port, err := splitEndpoint("--live", ep, live.DefaultPort)
		if err != nil {
			return nil, err
		}
		host := ownerOf(name, hosts)
		cr, ok := creds[host]
		if !ok {
			if cr, err = c.liveCredentials(host, name, lo); err != nil {
				return nil, err
			}
			creds[host] = cr
		}
		jobs = append(jobs, live.Job{
			Target:      live.Target{Host: hostLabel(host), Addr: net.JoinHostPort(name, port), ServerName: name},
			Credentials: cr,
			Options:     live.Options{Timeout: lo.Timeout, Mech: lo.Mech, URI: lo.URI},
		})
	}
	return jobs, nil
}

// vncJobs are the VeNCrypt sessions to the VNC endpoints, all with the
// console proxy's credentials.
func (c *checker) vncJobs(lo LiveOptions, hosts []layout.Host) ([]live.Job, error) {
	var jobs []live.Job
	for _, ep := range lo.VNCEndpoints {
		name, port, err := splitEndpoint("--live-vnc", ep, live.DefaultVNCPort)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, live.Job{
			Target:  live.Target{Host: hostLabel(ownerOf(name, hosts)), Addr: net.JoinHostPort(name, port), ServerName: name, Service: live.ServiceVNC},
			Options: live.Options{Timeout: lo.Timeout},
		})
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	files := lo.VNCFiles
	if files == (VNCFiles{}) {
		var err error
		if files, err = c.proxyFiles(); err != nil {
			return nil, err
		}
	}
	cr, err := loadVNCCredentials(files)
	for i := range jobs {
		jobs[i].Credentials = cr
	}
	return jobs, err
}

// splitEndpoint parses HOST[:PORT] given to flag.
func splitEndpoint(flag, ep, defaultPort string) (name, port string, err error) {
	name, port, err = net.SplitHostPort(ep)
	if err != nil {
		name, port = strings.Trim(ep, "[]"), defaultPort
	}
	if layout.ValidateName(name) != nil {
		return "", "", fmt.Errorf("%s %q: not a host name or address", flag, ep)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("%s %q: not a port", flag, ep)
	}
	return name, port, nil
}

// hostLabel is how reports name the owner of an endpoint.
func hostLabel(host string) string {
	if host == "" {
		return SharedHost
	}
	return host
}

// ownerOf finds the host an endpoint name belongs to ("" for none).
func ownerOf(name string, hosts []layout.Host) string {
	for _, h := range hosts {
		if strings.EqualFold(h.Name, name) {
			return h.Name
		}
	}
	for _, h := range hosts {
		for _, n := range h.Names() {
			if strings.EqualFold(n, name) {
				return h.Name
			}
		}
	}
	return ""
}

// liveCredentials loads the CA and client pair a host's clients hold, and
// the SASL credentials (the options', else the host's auth.conf).
func (c *checker) liveCredentials(host, endpointName string, lo LiveOptions) (live.Credentials, error) {
	files := map[layout.Role]string{}
	for _, r := range c.tree.Resolve(host) {
		files[r.Role] = r.Path
	}
	for _, role := range []layout.Role{layout.CACert, layout.ClientCert, layout.ClientKey} {
		if files[role] == "" {
			if host == "" {
				return live.Credentials{}, fmt.Errorf("live check of %s: it is not a name of any host, and %s has no shared %s.pem: give --host NAME=%s to use that host's credentials", endpointName, c.o.Root, role, endpointName)
			}
			return live.Credentials{}, fmt.Errorf("live check of %s: host %s has no %s.pem under %s", endpointName, host, role, c.o.Root)
		}
	}
	cr, err := loadPair(files[layout.CACert], files[layout.ClientCert], files[layout.ClientKey])
	cr.Authname, cr.Password = lo.Authname, lo.Password
	cr.Realms, _ = c.sasldbRealms(host, lo.Authname)
	return cr, err
}

// loadVNCCredentials reads the VeNCrypt client's files.
func loadVNCCredentials(f VNCFiles) (live.Credentials, error) {
	if f.CACert == "" || f.ClientCert == "" || f.ClientKey == "" {
		return live.Credentials{}, fmt.Errorf("--live-vnc needs the console proxy's CA, client certificate and key: give all of --vnc-ca-cert, --vnc-client-cert and --vnc-client-key")
	}
	return loadPair(f.CACert, f.ClientCert, f.ClientKey)
}

// proxyFiles finds the console proxy's VeNCrypt files in the tree: those
// of the first --proxy-host, else of the first host directory holding a
// novncproxy client certificate.
func (c *checker) proxyFiles() (VNCFiles, error) {
	if !c.o.Layout.Has(layout.ProxyClientCert) {
		return VNCFiles{}, fmt.Errorf("--live-vnc: the %s layout holds no console proxy files: give --vnc-ca-cert, --vnc-client-cert and --vnc-client-key", c.o.Layout.Name)
	}
	var candidates []string
	for _, h := range c.o.ProxyHosts {
		candidates = append(candidates, h.Name)
	}
	if len(candidates) == 0 {
		dirs, err := c.tree.HostDirs()
		if err != nil {
			return VNCFiles{}, err
		}
		candidates = dirs
	}
	for _, host := range candidates {
		files := map[layout.Role]string{}
		for _, r := range c.tree.ResolveRoles(host, []layout.Role{layout.ProxyCACert, layout.ProxyClientCert, layout.ProxyClientKey}) {
			files[r.Role] = r.Path
		}
		if files[layout.ProxyClientCert] != "" {
			return VNCFiles{files[layout.ProxyCACert], files[layout.ProxyClientCert], files[layout.ProxyClientKey]}, nil
		}
	}
	return VNCFiles{}, fmt.Errorf("--live-vnc: no console proxy's client certificate under %s: issue the novncproxy set (--sets ...,novncproxy --proxy-host NAME), or give --vnc-ca-cert, --vnc-client-cert and --vnc-client-key", c.o.Root)
}

// loadPair reads a CA file and a client certificate and key.
func loadPair(caPath, certPath, keyPath string) (live.Credentials, error) {
	var pem [3][]byte
	for i, f := range []struct {
		path string
		role layout.Role
	}{{caPath, layout.CACert}, {certPath, layout.ClientCert}, {keyPath, layout.ClientKey}} {
		var err error
		if pem[i], err = readTreeFile(nil, f.path, f.role); err != nil {
			return live.Credentials{}, err
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem[0]) {
		return live.Credentials{}, fmt.Errorf("%s: no certificate", caPath)
	}
	pair, err := tls.X509KeyPair(pem[1], pem[2])
	if err != nil {
		return live.Credentials{}, fmt.Errorf("%s: %v", certPath, err)
	}
	return live.Credentials{CA: pool, ClientCert: pair}, nil
}

// servedRoles are, per service, the role of the certificate the server
// presents, as its host's files hold it.
var servedRoles = map[string]layout.Role{live.ServiceLibvirtd: layout.ServerCert, live.ServiceVNC: layout.VNCServerCert}

// staleFinding compares the certificate a server presented with the one
// on disk for its host. They differ when the files were renewed (or the
// CA rotated) and the server still runs with what it read at start.
func (c *checker) staleFinding(r live.Result) (Finding, bool) {
	role, ok := servedRoles[r.Target.Service]
	if r.ServerCert == nil || !ok || !c.o.Layout.Has(role) {
		return Finding{}, false
	}
	host := r.Target.Host
	if host == SharedHost {
		host = ""
	}
	var path string
	for _, res := range c.tree.Resolve(host) {
		if res.Role == role {
			path = res.Path
		}
	}
	if path == "" {
		return Finding{}, false // missing-file says so
	}
	disk, stale := StaleCertificate(r.ServerCert, path)
	if !stale {
		return Finding{}, false
	}
	served := r.ServerCert
	what, reload := "libvirtd", reloadHints[live.ServiceLibvirtd]
	if r.Target.Service == live.ServiceVNC {
		what, reload = "QEMU's VNC server", reloadHints[live.ServiceVNC]
	}
	return Finding{Warning, CodeLiveStale, r.Target.Host, r.Target.Addr, fmt.Sprintf(
		"%s at %s presents certificate serial %s (valid until %s), but %s holds serial %s (valid until %s): the files were renewed and the server still uses the old ones; %s",
		what, r.Target.Addr, untrusted.Clean(pki.SerialHex(served), untrusted.MaxName), served.NotAfter.UTC().Format(time.RFC3339),
		path, pki.SerialHex(disk), disk.NotAfter.UTC().Format(time.RFC3339), reload)}, true
}

// reloadHints say, per service, how to load renewed files into the running
// server without a restart (measured: libvirtd 9.0 keeps its PID and
// connections; QEMU validates the new files and keeps the old on error).
var reloadHints = map[string]string{
	live.ServiceLibvirtd: "reload them live on that host: libvirt-pki reload (or virt-admin server-update-tls libvirtd, which reads the default /etc/pki paths; " +
		"Kolla: docker exec nova_libvirt virt-admin server-update-tls libvirtd once the files are in the container, docs/rollout.md)",
	live.ServiceVNC: "reload them live on that host: libvirt-pki reload (QMP display-reload for each running guest: virsh qemu-monitor-command DOMAIN " +
		`'{"execute":"display-reload","arguments":{"type":"vnc","tls-certs":true}}'; libvirt >= 10.2: virsh domdisplay-reload DOMAIN)`,
}

// StaleCertificate compares served, the leaf a server presented, with
// the certificate file at path (its host's files): stale when they
// differ, the files having been renewed while the server kept what it
// read at start. disk is the file's leaf; an unreadable file is not
// stale (the offline check says why).
func StaleCertificate(served *x509.Certificate, path string) (disk *x509.Certificate, stale bool) {
	certs, err := pki.ReadCertsFile(path)
	if err != nil || served == nil {
		return nil, false
	}
	return certs[0], !bytes.Equal(certs[0].Raw, served.Raw)
}

// LoadCredentials reads the client credentials of a live check: a CA
// file and a client certificate and key (PEM, bounded reads).
func LoadCredentials(caPath, certPath, keyPath string) (live.Credentials, error) {
	return loadPair(caPath, certPath, keyPath)
}

// sasldbRealms reads the realms host's sasldb in the tree (the layout's
// SASL row) holds authname in, and its path; nil when the layout holds
// no sasldb (Kolla's container makes its own) or the file is not there
// or unreadable (the offline check says why).
func (c *checker) sasldbRealms(host, authname string) ([]string, string) {
	if host == "" || host == SharedHost {
		return nil, ""
	}
	path := c.tree.In(c.tree.HostUnit(host), layout.SASLDB)
	if path == "" {
		return nil, ""
	}
	data, err := fsutil.ReadFile(path, fsutil.LimitSASLDB)
	if err != nil {
		return nil, path
	}
	_, records, err := sasl.DecodeDB(data)
	if err != nil {
		return nil, path
	}
	realms := []string{}
	for _, r := range records {
		if r.AuthID == authname && !slices.Contains(realms, r.Realm) {
			realms = append(realms, r.Realm)
		}
	}
	return realms, path
}

// realmHint says, for a daemon that found no SASL user in its realm,
// which realms the host's sasldb holds the user in, what the daemon's
// realm is when its mechanism did not say it (serverRealm ""), and how
// to write the user there.
func (c *checker) realmHint(host, authname, serverRealm string) string {
	server := "libvirtd's realm is its host name, or its FQDN when the name resolves to one (virsh hostname shows it; SCRAM does not say it); "
	if serverRealm != "" {
		server = "" // the mechanism said it, and the error names it
	}
	realms, path := c.sasldbRealms(host, authname)
	held := "no sasldb of the host is in this tree to compare (Kolla's nova_libvirt makes its own with saslpasswd2, in the container's host name)"
	switch {
	case path != "" && realms == nil:
		held = fmt.Sprintf("the host's sasldb %s could not be read", path)
	case path != "" && len(realms) == 0:
		held = fmt.Sprintf("the host's sasldb %s has no user %q", path, authname)
	case path != "":
		held = fmt.Sprintf("the host's sasldb %s holds %q in %s", path, authname, quoteJoin(realms))
	}
	return fmt.Sprintf("%s%s: write the user in that realm with libvirt-pki sasl --domain DOMAIN (each host's FQDN beside its name) or --realm REALM, then deploy passwd.db", server, held)
}
