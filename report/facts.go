package report

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// fileFacts is what the page shows of a certificate file beyond audit's
// row: its mode and, by serial, each certificate it holds.
type fileFacts struct {
	mode  string
	certs map[string]*x509.Certificate
}

// readFacts reads a certificate file as audit did (bounded, never through
// a symlink); a file that fails now is shown without the facts.
func readFacts(files *fsutil.Files, path string) *fileFacts {
	f := &fileFacts{certs: map[string]*x509.Certificate{}}
	if fi, err := files.Lstat(path); err == nil {
		f.mode = fmt.Sprintf("%04o", fi.Mode().Perm())
	}
	data, err := files.ReadFile(path, fsutil.LimitCert)
	if err != nil {
		return f
	}
	cs, err := pki.ParseTreeCerts(files, path, data)
	if err != nil {
		return f
	}
	for _, c := range cs {
		f.certs[pki.SerialHex(c)] = c
	}
	return f
}

// keyAlgo names a certificate's key as certificates' --key-algo does.
func keyAlgo(c *x509.Certificate) string {
	if a := pki.AlgoOf(c.PublicKey); a != "" {
		return string(a)
	}
	return c.PublicKeyAlgorithm.String()
}

// usageVerdict grades a certificate with the one usage rule
// (pki.CheckUsage) for its kind's profile: "ok", "ok (old policy)" or the
// problems. A CA is judged only on being one.
func usageVerdict(r audit.Row, c *x509.Certificate) string {
	k, ok := credential.ByName(r.Kind)
	if !ok || k.IsCA() {
		if c.BasicConstraintsValid && c.IsCA {
			return "CA"
		}
		return "not a CA"
	}
	probs := pki.UsageProblems(c, k.Profile)
	if len(probs) > 0 {
		return strings.Join(probs, "; ")
	}
	if len(pki.CheckPolicy(c)) > 0 {
		return "ok (old policy)"
	}
	return "ok"
}
