package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestOfflineParallelIsSerial checks that hosts checked on many workers
// give the report of one worker byte for byte, on a tree whose shared
// files (a too-large CA file, an untrusted shared CRL, a world-readable
// shared key used by several hosts) and per-host files (junk, a host's
// own unreadable CRL) have findings.
func TestOfflineParallelIsSerial(t *testing.T) {
	var specs []string
	for i := range 24 {
		specs = append(specs, fmt.Sprintf("h%02d", i))
	}
	f := newFixture(t, false, specs...)
	ca, _ := os.ReadFile(f.path("cacert.pem"))
	os.WriteFile(f.path("cacert.pem"), append(ca, bytes.Repeat([]byte("# padding between PEM blocks\n"), 2500)...), 0o644)
	other, _ := pki.NewCA(pki.CAOptions{CommonName: "other", Algo: pki.ECDSAP256})
	crl, err := other.CRL(nil, big.NewInt(1), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.path("cacrl.pem"), crl, 0o644)
	os.WriteFile(f.path("h07/cacrl.pem"), []byte("junk"), 0o644)
	key, _ := os.ReadFile(f.path("h01/serverkey.pem"))
	os.WriteFile(f.path("serverkey.pem"), key, 0o644)
	for _, h := range []string{"h05", "h13", "h20"} {
		os.Remove(f.path(h + "/serverkey.pem"))
	}
	os.WriteFile(f.path("h11/servercert.pem"), []byte("junk"), 0o644)

	for _, hosts := range [][]string{nil, specs} {
		o := Options{Layout: layout.Kolla, Root: f.root, WarnDays: 30}
		if hosts != nil {
			o.Hosts = f.hosts
		}
		serial := offlineJSON(t, o, 1)
		for _, want := range []string{`"host": "(shared)"`, string(CodeCATooLarge), string(CodeCRLUntrusted), string(CodeKeyMismatch), string(CodePartialShadow)} {
			if !bytes.Contains(serial, []byte(want)) {
				t.Fatalf("the tree should have a %s finding:\n%s", want, serial)
			}
		}
		for range 10 {
			if got := offlineJSON(t, o, 8); !bytes.Equal(got, serial) {
				t.Fatalf("8 workers differ from 1:\n%s\nserial:\n%s", got, serial)
			}
		}
	}
}

func offlineJSON(t *testing.T, o Options, workers int) []byte {
	t.Helper()
	rep, err := offline(o, workers)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
