// Package reload makes the running daemons of a compute host load the
// credentials installed under its root, without a restart, and proves
// it: libvirtd or virtproxyd through the admin socket (virt-admin
// server-update-tls), every running QEMU guest's VNC server through QMP
// display-reload. SPICE has no reload: a guest still serving an old
// SPICE certificate is listed as needing a migration or restart. Each
// listener is then checked live with verify's stale-certificate check.
package reload

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Statuses of a listener after a reload.
const (
	StatusReloaded  = "reloaded"  // now serves the certificate on disk, and served another before
	StatusUnchanged = "unchanged" // served the certificate on disk before and after
	StatusFailed    = "failed"    // the daemon refused the reload (its message in Message)
	StatusStale     = "stale"     // still serves another certificate than the one on disk
	StatusRestart   = "needs-restart"
)

// Options says what to reload and where the credentials lie.
type Options struct {
	// Root is the directory the credentials are installed under ("/").
	Root string
	// Force reloads although libvirtd.conf overrides the TLS file paths
	// (the live reload reads libvirt's default paths).
	Force bool
	// AdminSockets are libvirt daemons' admin sockets ("" stands for
	// none); nil: the default sockets of libvirtd and virtproxyd that
	// accept a connection.
	AdminSockets []string
	// VirtAdmin and Virsh are the programs (default: found in PATH).
	VirtAdmin, Virsh string
	// QEMUURI is the libvirt URI whose running domains get a VNC reload
	// ("" for none); QMPSockets are bare QEMUs' QMP sockets.
	QEMUURI    string
	QMPSockets []string
	// LibvirtdAddr is where libvirtd's TLS listener is checked
	// (HOST:PORT); ServerName the name its certificate must carry.
	LibvirtdAddr, ServerName string
	// VNCClient are the files a VeNCrypt client presents to QEMU's VNC
	// servers (nova-novncproxy's); none: the root's novncproxy pair if
	// it holds one.
	VNCCACert, VNCClientCert, VNCClientKey string
	Timeout                                time.Duration
}

// defaultTimeout bounds each live check.
const defaultTimeout = 10 * time.Second

// Listener is one server's outcome.
type Listener struct {
	// Kind is "libvirtd", "virtproxyd", "vnc" or "spice"; Name the daemon
	// or guest, Addr where its TLS was checked.
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Addr    string `json:"addr,omitempty"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Serial is the serial of the certificate served after the reload.
	Serial string `json:"serial,omitempty"`
	// Check is the live check's class after the reload ("ok", ...).
	Check string `json:"check,omitempty"`
}

// Report is a whole reload.
type Report struct {
	Root      string     `json:"root"`
	Listeners []Listener `json:"listeners"`
	Notes     []string   `json:"notes,omitempty"`
}

// Failed reports whether a listener failed or still serves an old
// certificate (exit 1).
func (r *Report) Failed() bool {
	for _, l := range r.Listeners {
		switch l.Status {
		case StatusFailed, StatusStale, StatusRestart:
			return true
		}
	}
	return false
}

// rooted is the path of a layout role's file under root.
func rooted(root string, role layout.Role) string {
	spec, _ := layout.Libvirt.Spec(role)
	return filepath.Join(root, filepath.FromSlash(spec.Rel))
}

// status decides a listener's status from what it served before and
// after its reload and the certificate on disk.
func status(before, after *x509.Certificate, stale bool) string {
	switch {
	case stale:
		return StatusStale
	case before != nil && after != nil && before.Equal(after):
		return StatusUnchanged
	}
	return StatusReloaded
}

// Run reloads everything found and checks each listener.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	rep := &Report{Root: o.Root, Listeners: []Listener{}}
	if err := checkOverrides(o, rep); err != nil {
		return nil, err
	}
	daemons, err := findDaemons(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, d := range daemons {
		rep.Listeners = append(rep.Listeners, reloadDaemon(ctx, o, d))
	}
	mons, failed, notes := findGuests(ctx, o)
	rep.Listeners = append(rep.Listeners, failed...)
	rep.Notes = append(rep.Notes, notes...)
	for _, m := range mons {
		rep.Listeners = append(rep.Listeners, reloadGuest(ctx, o, m)...)
		m.Close()
	}
	if len(rep.Listeners) == 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no running libvirtd or virtproxyd (admin socket) and no QEMU guest found: nothing reloaded; the files under %s apply when the daemons start", o.Root))
	}
	return rep, nil
}
