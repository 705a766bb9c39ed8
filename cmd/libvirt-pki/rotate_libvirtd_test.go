package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// rotClientDir makes a pkipath directory for virsh: a cacert.pem and a
// client pair, copied so later steps cannot change them underneath.
func rotClientDir(t *testing.T, cacert, cert, key string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, cacert, filepath.Join(dir, "cacert.pem"))
	copyFile(t, cert, filepath.Join(dir, "clientcert.pem"))
	copyFile(t, key, filepath.Join(dir, "clientkey.pem"))
	return dir
}

// rotKeep copies a file aside, as it is now.
func rotKeep(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	copyFile(t, src, dst)
	return dst
}

// TestRotateCAWithRealLibvirtd walks a Kolla layout through rotate-ca with
// real libvirtd daemons standing in for hosts at each deploy stage:
//
//   - after start, a libvirtd whose cacert.pem is the bundle (still serving
//     its old-CA server certificate) accepts an old-CA client;
//   - after reissue, both a host not yet given its new leaves (old server
//     certificate) and one that has them (new server certificate) accept
//     virsh clients holding old-CA and new-CA client certificates, each
//     with the bundle as its cacert.pem: the mixed fleet a rolling deploy
//     passes through;
//   - after finish, a libvirtd with the new cacert.pem alone rejects the
//     old-CA client (whose own cacert.pem, the bundle, trusts the server, so
//     the refusal is the daemon's) and accepts the new-CA client.
func TestRotateCAWithRealLibvirtd(t *testing.T) {
	peer.Require(t, "libvirtd", "virsh")
	kolla := filepath.Join(t.TempDir(), "kolla")
	nl := filepath.Join(kolla, "config/nova/nova-libvirt")
	runCLI(t, "certificates", "--config-dir", kolla, "--host", "server=localhost", "--hosts", "alice", "--org", "Example")
	oldServer := [2]string{rotKeep(t, filepath.Join(nl, "server/servercert.pem")), rotKeep(t, filepath.Join(nl, "server/serverkey.pem"))}
	oldAlice := [2]string{rotKeep(t, filepath.Join(nl, "alice/clientcert.pem")), rotKeep(t, filepath.Join(nl, "alice/clientkey.pem"))}

	runCLI(t, "rotate-ca", "start", "--config-dir", kolla)
	bundle := rotKeep(t, filepath.Join(nl, "cacert.pem"))
	if n := strings.Count(rotReadFile(t, bundle), "BEGIN CERTIFICATE"); n != 2 {
		t.Fatalf("bundle holds %d certificates, want 2", n)
	}
	hostA := libvirttest.Start(t, libvirttest.Config{CACert: bundle, ServerCert: oldServer[0], ServerKey: oldServer[1]})
	oldClient := rotClientDir(t, bundle, oldAlice[0], oldAlice[1])
	if out, ok := virshOK(t, hostA, oldClient); !ok {
		t.Fatalf("after start: the bundle refused an old-CA client:\n%s\n%s", out, hostA.Log())
	}

	runCLI(t, "rotate-ca", "reissue", "--config-dir", kolla)
	newServer := [2]string{rotKeep(t, filepath.Join(nl, "server/servercert.pem")), rotKeep(t, filepath.Join(nl, "server/serverkey.pem"))}
	newAlice := [2]string{rotKeep(t, filepath.Join(nl, "alice/clientcert.pem")), rotKeep(t, filepath.Join(nl, "alice/clientkey.pem"))}
	if rotReadFile(t, newAlice[0]) == rotReadFile(t, oldAlice[0]) || rotReadFile(t, newAlice[1]) != rotReadFile(t, oldAlice[1]) {
		t.Fatal("reissue should give alice a new certificate for the same key")
	}
	hostB := libvirttest.Start(t, libvirttest.Config{CACert: bundle, ServerCert: newServer[0], ServerKey: newServer[1]})
	newClientBundle := rotClientDir(t, bundle, newAlice[0], newAlice[1])
	for _, host := range []struct {
		name string
		d    *libvirttest.Daemon
	}{{"old server certificate", hostA}, {"new server certificate", hostB}} {
		for _, client := range []struct{ name, dir string }{{"old-CA client", oldClient}, {"new-CA client", newClientBundle}} {
			if out, ok := virshOK(t, host.d, client.dir); !ok {
				t.Errorf("during rotation: libvirtd with the bundle and its %s refused the %s:\n%s\n%s", host.name, client.name, out, host.d.Log())
			}
		}
		host.d.NoCertificateWarnings(t)
	}

	runCLI(t, "rotate-ca", "finish", "--config-dir", kolla)
	newOnly := rotKeep(t, filepath.Join(nl, "cacert.pem"))
	if n := strings.Count(rotReadFile(t, newOnly), "BEGIN CERTIFICATE"); n != 1 {
		t.Fatalf("after finish cacert.pem holds %d certificates, want 1", n)
	}
	hostC := libvirttest.Start(t, libvirttest.Config{CACert: newOnly, ServerCert: newServer[0], ServerKey: newServer[1]})
	if out, ok := virshOK(t, hostC, oldClient); ok {
		t.Errorf("after finish: libvirtd with the new cacert.pem accepted an old-CA client:\n%s", out)
	} else if !strings.Contains(hostC.Log(), "Failed to verify peer's certificate") {
		// The daemon, not the client, must be the one saying no.
		t.Errorf("after finish: the old-CA client failed, but libvirtd did not refuse its certificate:\n%s\n%s", out, hostC.Log())
	}
	if out, ok := virshOK(t, hostC, rotClientDir(t, newOnly, newAlice[0], newAlice[1])); !ok {
		t.Errorf("after finish: libvirtd refused the new-CA client:\n%s\n%s", out, hostC.Log())
	}
	// The same old-CA client still reaches a host that kept the bundle:
	// its refusal above is the new cacert.pem's doing, not a broken pair.
	if out, ok := virshOK(t, hostB, oldClient); !ok {
		t.Errorf("control: the old-CA client no longer reaches a bundle host:\n%s", out)
	}
}

// TestRotateCAExitCodes pins the exit codes of the steps out of order
// (testscript's "! exec" cannot tell 1 from 2).
func TestRotateCAExitCodes(t *testing.T) {
	kolla := filepath.Join(t.TempDir(), "kolla")
	runExit(t, exitUsage, "rotate-ca", "start", "--config-dir", kolla)
	runExit(t, exitUsage, "renew", "--config-dir", kolla)
	runCLI(t, "certificates", "--config-dir", kolla, "--hosts", "compute01")
	ca := filepath.Join(kolla, "certificates/libvirt")
	runExit(t, exitUsage, "rotate-ca", "reissue", "--config-dir", kolla)
	runExit(t, exitUsage, "rotate-ca", "finish", "--config-dir", kolla)
	runExit(t, exitUsage, "rotate-ca", "start", "--config-dir", kolla, "--ca-cert", filepath.Join(ca, "cacert.pem"), "--ca-key", filepath.Join(ca, "cakey.pem"))
	runExit(t, exitUsage, "rotate-ca")
	runExit(t, exitUsage, "rotate-ca", "sideways")
	runExit(t, exitOK, "rotate-ca", "start", "--config-dir", kolla)
	runExit(t, exitUsage, "rotate-ca", "start", "--config-dir", kolla)
	runExit(t, exitUsage, "rotate-ca", "finish", "--config-dir", kolla)
	runExit(t, exitOK, "rotate-ca", "reissue", "--config-dir", kolla)
	runExit(t, exitUsage, "rotate-ca", "reissue", "--config-dir", kolla)
	runExit(t, exitOK, "rotate-ca", "finish", "--config-dir", kolla)
	runExit(t, exitOK, "renew", "--config-dir", kolla)
}

func rotReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
