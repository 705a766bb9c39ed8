package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/install"
	"github.com/libvirt-pki/libvirt-pki/reload"
)

// reloadFlags are the flags saying where the daemons and guests are;
// install --reload takes them too.
type reloadFlags struct {
	AdminSockets []string
	QEMUURI      string
	QMPSockets   []string
	LibvirtdAddr string
	ServerName   string
	VNCCACert    string
	VNCCert      string
	VNCKey       string
	VirtAdmin    string
	Virsh        string
	Timeout      time.Duration
}

func (f *reloadFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.AdminSockets, "admin-socket", nil, "a libvirt daemon's admin `SOCKET` (repeatable; \"\" for none; default: libvirtd's and virtproxyd's under /run/libvirt that answer)")
	fl.StringVar(&f.QEMUURI, "qemu-uri", "qemu:///system", "libvirt `URI` whose running guests get a VNC reload (\"\" for none)")
	fl.StringArrayVar(&f.QMPSockets, "qmp-socket", nil, "a bare QEMU's QMP `SOCKET` whose VNC server is reloaded too (repeatable)")
	fl.StringVar(&f.LibvirtdAddr, "libvirtd-addr", "", "libvirtd's TLS listener, `HOST:PORT` (default: this host's name, port 16514)")
	fl.StringVar(&f.ServerName, "server-name", "", "the `NAME` the served certificates must carry (default: this host's name)")
	fl.StringVar(&f.VNCCACert, "vnc-ca-cert", "", "VeNCrypt client's CA `FILE` for checking VNC servers (default: the console proxy's under the root, else the VNC CA copy)")
	fl.StringVar(&f.VNCCert, "vnc-client-cert", "", "VeNCrypt client certificate `FILE`")
	fl.StringVar(&f.VNCKey, "vnc-client-key", "", "VeNCrypt client key `FILE`")
	fl.StringVar(&f.VirtAdmin, "virt-admin", "virt-admin", "the virt-admin `PROGRAM`")
	fl.StringVar(&f.Virsh, "virsh", "virsh", "the virsh `PROGRAM`")
	durationVar(fl, &f.Timeout, "timeout", 10*time.Second, "timeout of each live check")
}

// reloadReport is reload.Report as the CLI writes it.
type reloadReport struct{ *reload.Report }

// ReloadOptions holds the parsed flags of `reload`.
type ReloadOptions struct {
	IO *IOStreams

	Root   string
	Force  bool
	Output string
	reloadFlags
}

// NewCmdReload parses flags and hands them to runF (runReload by default).
func NewCmdReload(ios *IOStreams, runF func(*ReloadOptions) error) *cobra.Command {
	opts := &ReloadOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make running libvirtd and QEMU guests load the installed credentials, without a restart, and prove it",
		Long: `Reload the TLS credentials installed under --root into the running daemons:
libvirtd or virtproxyd through its admin socket (virt-admin server-update-tls:
same process, connections kept), and every running guest's VNC server through
QMP display-reload (QEMU checks the new files first and keeps the old ones if
it refuses them). SPICE has no reload: a guest still serving an old SPICE
certificate is listed as needing a migration or restart.

Each listener is then checked live (verify's stale-certificate check) and
reported as reloaded, unchanged, failed (with the daemon's own message) or
stale. Exit status 1 when any listener failed or still serves an old
certificate.

server-update-tls reads libvirt's default paths: when libvirtd.conf sets
key_file, cert_file, ca_file or crl_file, reload refuses (exit 2) unless --force.`,
		Example: `  libvirt-pki reload
  libvirt-pki reload --qemu-uri '' --qmp-socket /run/guest1.qmp -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runReload(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Root, "root", "/", "the credentials are installed below this `DIR`")
	fl.BoolVar(&opts.Force, "force", false, "reload although libvirtd.conf overrides the TLS file paths")
	outputFlag(cmd, &opts.Output, textFormats)
	opts.reloadFlags.register(fl)
	return cmd
}

func runReload(opts *ReloadOptions) error {
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	rr, err := runReloadFor(context.Background(), opts.reloadFlags, opts.Root, opts.Force)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		err = writeJSONTo(opts.IO.Out, rr.Report)
	} else {
		rr.writeText(opts.IO.Out)
	}
	if err != nil {
		return err
	}
	return reloadVerdict(rr)
}

// reloadOptions are reload.Options from the flags.
func reloadOptions(f reloadFlags, root string, force bool) (reload.Options, error) {
	name := f.ServerName
	if name == "" {
		var err error
		if name, err = os.Hostname(); err != nil {
			return reload.Options{}, err
		}
	}
	return reload.Options{Root: root, Force: force, AdminSockets: f.AdminSockets, VirtAdmin: f.VirtAdmin, Virsh: f.Virsh,
		QEMUURI: f.QEMUURI, QMPSockets: f.QMPSockets, LibvirtdAddr: f.LibvirtdAddr, ServerName: name,
		VNCCACert: f.VNCCACert, VNCClientCert: f.VNCCert, VNCClientKey: f.VNCKey, Timeout: f.Timeout}, nil
}

// runReloadFor runs reload.Run with the flags.
func runReloadFor(ctx context.Context, f reloadFlags, root string, force bool) (*reloadReport, error) {
	o, err := reloadOptions(f, root, force)
	if err != nil {
		return nil, err
	}
	rep, err := reload.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	return &reloadReport{rep}, nil
}

// servedNow reads the certificates the listeners reload would reload
// present now, for install's CA-continuity check.
func servedNow(ctx context.Context, f reloadFlags, root string) ([]install.ServedCert, error) {
	o, err := reloadOptions(f, root, true)
	if err != nil {
		return nil, err
	}
	served, err := reload.ServedCerts(ctx, o)
	var out []install.ServedCert
	for _, s := range served {
		out = append(out, install.ServedCert{Role: s.Role, Addr: s.Addr, Cert: s.Cert})
	}
	return out, err
}

// reloadVerdict is exit 1 when a listener failed or is stale.
func reloadVerdict(rr *reloadReport) error {
	if rr != nil && rr.Failed() {
		return exitError{exitFailure}
	}
	return nil
}

func (rr *reloadReport) writeText(w io.Writer) {
	for _, n := range rr.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	for _, l := range rr.Listeners {
		line := fmt.Sprintf("%-13s %-10s %s", l.Status, l.Kind, l.Name)
		if l.Addr != "" {
			line += " at " + l.Addr
		}
		if l.Serial != "" {
			line += " serves serial " + l.Serial
		}
		if l.Message != "" {
			line += ": " + l.Message
		}
		fmt.Fprintln(w, line)
	}
}
