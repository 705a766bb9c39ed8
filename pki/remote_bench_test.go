package pki_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// remoteBenchParallel is the requests in flight for BenchmarkRemoteIssue:
// the engine's worker pool size on a small deploy host.
const remoteBenchParallel = 16

// benchHost is host i's name and SANs, the same in both benchmarks.
func benchHost(i int) (string, pki.SANs) {
	host := fmt.Sprintf("compute%05d", i)
	return host, pki.SANs{DNS: []string{host, host + ".example.org"}}
}

// BenchmarkRemoteIssue is one certificate (a new ECDSA key, a CSR, the
// signature by a real multirootca on loopback, our checks, the key and
// certificate written to files), 16 in flight through pki.RemoteCA.
// Operations alternate between a host's server and client certificate:
// -benchtime 2000x is 1,000 hosts. bench/remote.sh compares it with
// BenchmarkCFSSLGencertRemote.
func BenchmarkRemoteIssue(b *testing.B) {
	s := cfssltest.Start(b, cfssltest.Options{Config: signerConfig(b)})
	o := remoteOpts(s)
	o.Limit = remoteBenchParallel
	ca, err := pki.RemoteCA(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	var next atomic.Int64
	b.SetParallelism(max(1, remoteBenchParallel/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) - 1
			prof := pki.Profiles[i%2]
			host, sans := benchHost(i / 2)
			if err := issueToFiles(ca, filepath.Join(out, host), prof, host, sans); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func issueToFiles(ca *pki.CA, dir string, prof pki.Profile, host string, sans pki.SANs) error {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return err
	}
	_, certPEM, err := ca.Issue(pki.LeafRequest{Profile: prof, CommonName: host, Org: "Example", Key: key, SANs: sans})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, prof.Name+"-key.pem"), key.PEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, prof.Name+".pem"), certPEM, 0o644)
}

// BenchmarkCFSSLGencertRemote is the same certificate the way an
// operator's script gets it from the same signer: one `cfssl gencert
// -remote ... | cfssljson -bare` per certificate, one after another
// (cfssl makes the key and CSR, the signer signs, cfssljson writes the
// files).
func BenchmarkCFSSLGencertRemote(b *testing.B) {
	s := cfssltest.Start(b, cfssltest.Options{Config: signerConfig(b)})
	dir := b.TempDir()
	clientConfig := fmt.Sprintf(`{"signing": {"default": {"auth_remote": {"remote": "signer", "auth_key": "key"}}},
 "auth_keys": {"key": {"type": "standard", "key": "file:%s"}},
 "remotes": {"signer": %q}}`, filepath.Join(s.Dir, cfssltest.AuthKeyFile), s.URL)
	files := map[string]string{"client.json": clientConfig, "csr.json": `{"key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "Example"}]}`}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	const script = `set -eo pipefail; mkdir -p "$OUT"
"$CFSSL" gencert -loglevel 5 -remote "$URL" -tls-remote-ca "$TLSCA" -config "$DIR/client.json" -label "$LABEL" \
	-profile "$PROFILE" -cn "$HOST" -hostname "$HOST,$HOST.example.org" "$DIR/csr.json" | "$CFSSLJSON" -bare "$OUT/$NAME"`
	for i := 0; b.Loop(); i++ {
		prof := pki.Profiles[i%2]
		host, _ := benchHost(i / 2)
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "CFSSL="+s.Tools.CFSSL, "CFSSLJSON="+s.Tools.CFSSLJSON, "URL="+s.URL,
			"TLSCA="+s.TLSCAFile, "DIR="+dir, "LABEL="+s.Label, "PROFILE="+prof.Name+"-ecdsa", "HOST="+host,
			"OUT="+filepath.Join(dir, "out", host), "NAME="+prof.Name)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("cfssl gencert -remote for %s: %v: %s", host, err, out)
		}
	}
}
