package qemutest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// StartSPICE runs qemu-system-x86_64 with no machine serving SPICE on
// 127.0.0.1 over TLS only, with the server files in dir (QEMU's x509-dir:
// ca-cert.pem, server-cert.pem, server-key.pem), until the test ends.
// SPICE authenticates no client certificate: only the server's is proved.
// extra is appended to QEMU's arguments.
func StartSPICE(t testing.TB, dir string, extra ...string) *Process {
	t.Helper()
	qemu := peer.Require(t, "qemu-system-x86_64")[0]
	if !safeOption(dir) {
		t.Fatalf("qemutest: a comma in %s would split QEMU's option string", dir)
	}
	return start(t, func(port int) *exec.Cmd {
		spice := fmt.Sprintf("tls-port=%d,addr=127.0.0.1,x509-dir=%s,disable-ticketing=on", port, dir)
		return exec.Command(qemu, append([]string{"-machine", "none", "-display", "none", "-nodefaults", "-spice", spice}, extra...)...)
	}, testutil.FreePort)
}

// SPICEConnect opens a SPICE session to p with spice-gtk's client library
// (SpiceClientGLib through PyGObject: Debian's gir1.2-spiceclientglib-2.0
// and python3-gi, no display needed), trusting caFile and checking the
// server certificate against host, as remote-viewer does. It returns the
// main channel's event ("opened" on success, "error-tls" when the
// certificate is refused) followed by the library's log, whose lines say
// why, and an error unless the channel opened.
func SPICEConnect(t testing.TB, p *Process, caFile, host string) (string, error) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = peer.Require(t, "python3")[0]
	}
	probe := exec.Command(py, "-c", "import gi; gi.require_version('SpiceClientGLib', '2.0'); from gi.repository import SpiceClientGLib")
	if err := probe.Run(); err != nil {
		if peer.InCI() {
			t.Fatal("SpiceClientGLib's Python bindings are missing (CI=true): install gir1.2-spiceclientglib-2.0 and python3-gi (see .ci/run)")
		}
		t.Skip("SKIPPING: SpiceClientGLib's Python bindings are not installed (gir1.2-spiceclientglib-2.0, python3-gi)")
	}
	cmd := exec.Command(py, "-c", spiceScript, host, strconv.Itoa(p.Port), caFile)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + t.TempDir(), "SPICE_DEBUG=1"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// spiceScript connects a SpiceClientGLib session over TLS and prints the
// first event of its main channel; it gives up after 20 seconds.
const spiceScript = `import sys, gi
gi.require_version('SpiceClientGLib', '2.0')
from gi.repository import SpiceClientGLib as Spice, GLib, GObject
host, port, ca = sys.argv[1:4]
session = Spice.Session()
session.set_property('host', host)
session.set_property('tls-port', port)
session.set_property('ca-file', ca)
loop, result = GLib.MainLoop(), ['timeout']
def event(channel, ev):
    result[0] = ev.value_nick
    loop.quit()
def channel_new(s, channel):
    if isinstance(channel, Spice.MainChannel):
        GObject.Object.connect(channel, 'channel-event', event)
GObject.Object.connect(session, 'channel-new', channel_new)
GLib.timeout_add_seconds(20, loop.quit)
session.connect()
loop.run()
session.disconnect()
print(result[0], flush=True)
sys.exit(0 if result[0] == 'opened' else 1)
`
