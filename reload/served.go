package reload

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"strconv"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// Served is a certificate a running listener presents, with the role
// of the file it comes from.
type Served struct {
	Role layout.Role
	Addr string
	Cert *x509.Certificate
}

// ServedCerts reads, without reloading anything, the certificates the
// listeners Run would reload present now: libvirtd's (when an admin
// socket is found), each guest's VNC and SPICE TLS listeners. install
// checks its new CA files still trust them. Listeners that do not
// answer are left out.
func ServedCerts(ctx context.Context, o Options) ([]Served, error) {
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	var out []Served
	daemons, err := findDaemons(ctx, o)
	if err != nil {
		return nil, err
	}
	creds := credentials(o.Root, layout.CACert, layout.ClientCert, layout.ClientKey)
	for _, d := range daemons {
		addr := libvirtdAddr(o)
		if r := served(ctx, o, live.Target{Host: d.server, Addr: addr, ServerName: o.ServerName}, creds); r.ServerCert != nil {
			out = append(out, Served{layout.ServerCert, addr, r.ServerCert})
		}
	}
	mons, _, _ := findGuests(ctx, o)
	for _, m := range mons {
		out = append(out, guestServed(ctx, o, m)...)
		m.Close()
	}
	return out, nil
}

// guestServed reads the certificates of a guest's VNC and SPICE TLS
// listeners.
func guestServed(ctx context.Context, o Options, m monitor) []Served {
	var out []Served
	var servers []vncServer
	if raw, err := m.Command(ctx, `{"execute":"query-vnc-servers"}`); err == nil && json.Unmarshal(raw, &servers) == nil {
		creds := vncCredentials(o)
		for _, a := range vncTLSAddrs(servers) {
			t := live.Target{Host: m.Name(), Addr: a, ServerName: o.ServerName, Service: live.ServiceVNC}
			if r := served(ctx, o, t, creds); r.ServerCert != nil {
				out = append(out, Served{layout.VNCServerCert, a, r.ServerCert})
			}
		}
	}
	var info spiceInfo
	if raw, err := m.Command(ctx, `{"execute":"query-spice"}`); err == nil && json.Unmarshal(raw, &info) == nil && info.Enabled && info.TLSPort != 0 {
		addr := net.JoinHostPort(dialHost(info.Host), strconv.Itoa(info.TLSPort))
		if cert, err := presented(ctx, o, addr); err == nil {
			out = append(out, Served{layout.SpiceServerCert, addr, cert})
		}
	}
	return out
}
