package reload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/verify"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// findGuests connects to every QMP socket given and lists the running
// domains of o.QEMUURI. A socket that does not answer is a failed
// listener; a URI that lists nothing is a note.
func findGuests(ctx context.Context, o Options) (mons []monitor, failed []Listener, notes []string) {
	for _, s := range o.QMPSockets {
		m, err := dialQMP(ctx, s)
		if err != nil {
			failed = append(failed, Listener{Kind: "qemu", Name: s, Status: StatusFailed, Message: fmt.Sprintf("QMP socket: %v", err)})
			continue
		}
		mons = append(mons, m)
	}
	if o.QEMUURI == "" {
		return mons, failed, notes
	}
	out, err := runTool(ctx, o.Virsh, "-c", o.QEMUURI, "list", "--name", "--state-running")
	if err != nil {
		notes = append(notes, fmt.Sprintf("no guests listed through %s (%v): their VNC servers were not reloaded", o.QEMUURI, err))
		return mons, failed, notes
	}
	for _, dom := range strings.Fields(string(out)) {
		mons = append(mons, &virshMonitor{virsh: o.Virsh, uri: o.QEMUURI, domain: dom})
	}
	return mons, failed, notes
}

// vncServer is one entry of QMP query-vnc-servers.
type vncServer struct {
	ID     string `json:"id"`
	Server []struct {
		Host     string `json:"host"`
		Service  string `json:"service"`
		Auth     string `json:"auth"`
		VeNCrypt string `json:"vencrypt"`
	} `json:"server"`
	Auth     string `json:"auth"`
	VeNCrypt string `json:"vencrypt"`
}

// spiceInfo is what QMP query-spice says of the TLS port.
type spiceInfo struct {
	Enabled bool   `json:"enabled"`
	Host    string `json:"host"`
	TLSPort int    `json:"tls-port"`
}

// reloadGuest reloads one guest's VNC TLS credentials and checks its
// VNC and SPICE TLS listeners.
func reloadGuest(ctx context.Context, o Options, m monitor) []Listener {
	var out []Listener
	raw, err := m.Command(ctx, `{"execute":"query-vnc-servers"}`)
	var servers []vncServer
	if err == nil {
		err = json.Unmarshal(raw, &servers)
	}
	if err != nil {
		return []Listener{{Kind: "vnc", Name: m.Name(), Status: StatusFailed, Message: fmt.Sprintf("query-vnc-servers: %v", err)}}
	}
	if addrs := vncTLSAddrs(servers); len(addrs) > 0 {
		out = append(out, reloadVNC(ctx, o, m, addrs)...)
	}
	if l, ok := checkSpice(ctx, o, m); ok {
		out = append(out, l)
	}
	return out
}

// vncTLSAddrs are the addresses of the VeNCrypt (TLS) VNC listeners.
func vncTLSAddrs(servers []vncServer) []string {
	var out []string
	for _, s := range servers {
		for _, l := range s.Server {
			if l.Auth == "vencrypt" || (l.Auth == "" && s.Auth == "vencrypt") {
				out = append(out, net.JoinHostPort(dialHost(l.Host), l.Service))
			}
		}
	}
	return out
}

// dialHost is the address to reach a listener bound to host (a wildcard
// is reached on loopback).
func dialHost(host string) string {
	switch host {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return host
}

// reloadVNC runs display-reload on m and judges each VNC listener.
func reloadVNC(ctx context.Context, o Options, m monitor, addrs []string) []Listener {
	creds := vncCredentials(o)
	target := func(addr string) live.Target {
		return live.Target{Host: m.Name(), Addr: addr, ServerName: o.ServerName, Service: live.ServiceVNC}
	}
	var before []*x509.Certificate
	for _, a := range addrs {
		before = append(before, served(ctx, o, target(a), creds).ServerCert)
	}
	_, rerr := m.Command(ctx, `{"execute":"display-reload","arguments":{"type":"vnc","tls-certs":true}}`)
	var out []Listener
	for i, a := range addrs {
		l := Listener{Kind: "vnc", Name: m.Name(), Addr: a}
		after := served(ctx, o, target(a), creds)
		judge(&l, before[i], after, rooted(o.Root, layout.VNCServerCert))
		if rerr != nil {
			l.Status, l.Message = StatusFailed, fmt.Sprintf("QEMU refused display-reload: %v; it keeps serving serial %s", rerr, l.Serial)
		}
		out = append(out, l)
	}
	return out
}

// vncCredentials are the VeNCrypt client's: the files given, else the
// root's console proxy pair, else the root's VNC CA copy alone (enough
// to see the certificate served).
func vncCredentials(o Options) live.Credentials {
	if o.VNCClientCert != "" {
		if c, err := verify.LoadCredentials(o.VNCCACert, o.VNCClientCert, o.VNCClientKey); err == nil {
			return c
		}
	}
	c := credentials(o.Root, layout.ProxyCACert, layout.ProxyClientCert, layout.ProxyClientKey)
	if len(c.ClientCert.Certificate) == 0 {
		return caOnly(rooted(o.Root, layout.VNCCACert))
	}
	return c
}

// checkSpice compares the certificate a guest's SPICE TLS port serves
// with the file on disk: SPICE has no reload, so a stale one needs the
// guest migrated or restarted.
func checkSpice(ctx context.Context, o Options, m monitor) (Listener, bool) {
	raw, err := m.Command(ctx, `{"execute":"query-spice"}`)
	var info spiceInfo
	if err != nil || json.Unmarshal(raw, &info) != nil || !info.Enabled || info.TLSPort == 0 {
		return Listener{}, false
	}
	addr := net.JoinHostPort(dialHost(info.Host), strconv.Itoa(info.TLSPort))
	l := Listener{Kind: "spice", Name: m.Name(), Addr: addr}
	cert, err := presented(ctx, o, addr)
	if err != nil {
		l.Status, l.Message = StatusFailed, fmt.Sprintf("SPICE TLS port: %v", err)
		return l, true
	}
	path := rooted(o.Root, layout.SpiceServerCert)
	judge(&l, cert, live.Result{ServerCert: cert, Class: live.ClassOK}, path)
	if l.Status == StatusStale {
		l.Status = StatusRestart
		l.Message += ": SPICE has no live reload; migrate the guest (or stop and start it) to load the new certificate"
	}
	return l, true
}

// presented is the leaf a TLS server at addr presents (not verified:
// only compared with the file on disk).
func presented(ctx context.Context, o Options, addr string) (*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: o.Timeout}, Config: &tls.Config{InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate presented")
	}
	return certs[0], nil
}
