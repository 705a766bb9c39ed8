// Package pki makes and loads the CA and issues the server and client
// certificates libvirt uses for TLS. It wraps cloudflare/cfssl for key
// generation, CSRs and profile-based signing, and encodes libvirt's rules
// (see Profiles) as data.
package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/initca"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer/local"
)

func init() {
	// cfssl logs every CSR and serial at INFO to stderr; a library must not
	// write to the caller's streams, and CI logs need no serials.
	cflog.Level = cflog.LevelFatal
}

// Default validity periods. Leaves last two years so a yearly maintenance
// window always has time to renew; the CA lasts ten, outliving many leaf
// generations so CA rotation is rare and planned.
const (
	DefaultLeafDays = 730
	DefaultCADays   = 3650
)

// CA is a certificate authority able to issue leaves.
type CA struct {
	Cert  *x509.Certificate   // the issuing certificate
	Chain []*x509.Certificate // its issuers, ending at the root (empty for a root CA)
	Key   *Key
	// CertPEM is the issuing certificate followed by Chain, as read or made.
	CertPEM []byte
	// signer signs leaves: cfssl's local signer with Key, or a remote
	// cfssl signer (RemoteCA), when Key is nil.
	signer leafSigner
}

// CAOptions describes a new root CA.
type CAOptions struct {
	CommonName string
	Org        string
	// OrgUnit (OU) gives CAs of one name subjects of their own
	// (rotate-ca's generations).
	OrgUnit string
	Algo    KeyAlgo
	Days    int
}

// NewCA makes a self-signed root CA with basicConstraints CA:TRUE and
// keyUsage keyCertSign+cRLSign, both critical.
func NewCA(o CAOptions) (*CA, error) {
	if o.Days <= 0 {
		o.Days = DefaultCADays
	}
	key, err := GenerateKey(o.Algo)
	if err != nil {
		return nil, err
	}
	req := &csr.CertificateRequest{
		CN:         o.CommonName,
		KeyRequest: o.Algo.keyRequest(),
		CA:         &csr.CAConfig{Expiry: fmt.Sprintf("%dh", o.Days*24)},
	}
	if o.Org != "" || o.OrgUnit != "" {
		req.Names = []csr.Name{{O: o.Org, OU: o.OrgUnit}}
	}
	certPEM, _, err := initca.NewFromSigner(req, key.Signer)
	if err != nil {
		return nil, fmt.Errorf("make CA: %w", err)
	}
	return LoadCA(certPEM, key.PEM)
}

// LoadCA reads a CA certificate file (the issuing certificate first, then
// any intermediates up to the root) and its private key. It refuses a
// certificate that is not a CA, a key that does not match, and a chain that
// is out of order or does not end at a self-signed root: cacert.pem must
// carry the whole chain or libvirt's peers cannot verify it.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %v", err)
	}
	if err := checkCAChain(certs); err != nil {
		return nil, err
	}
	leaf := certs[0]
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key: %v", err)
	}
	if !KeyMatches(key.Signer, leaf) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	s, err := local.NewSigner(key.Signer, leaf, signatureAlgorithm(key), signingPolicy())
	if err != nil {
		return nil, fmt.Errorf("CA signer: %w", err)
	}
	return &CA{Cert: leaf, Chain: certs[1:], Key: key, CertPEM: EncodeCertsPEM(certs...), signer: s}, nil
}

// checkCAChain refuses a first certificate that is not a CA, a chain
// with a key below the key policy (KeyWeakness), and a chain that is out
// of order or does not end at a self-signed root.
func checkCAChain(certs []*x509.Certificate) error {
	leaf := certs[0]
	if !leaf.BasicConstraintsValid || !leaf.IsCA {
		return fmt.Errorf("CA certificate %q is not a CA (basicConstraints CA:TRUE missing)", leaf.Subject.CommonName)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("CA certificate %q lacks keyUsage keyCertSign", leaf.Subject.CommonName)
	}
	for _, c := range certs {
		if w := KeyWeakness(c.PublicKey); w != "" {
			return fmt.Errorf("CA certificate %q has %s: libvirt-pki does not sign with it (verify would report every leaf as weak-key); use a CA with an RSA key of %d bits or more, or an ECDSA key", c.Subject.CommonName, w, MinRSABits)
		}
	}
	for i := 1; i < len(certs); i++ {
		if err := certs[i-1].CheckSignatureFrom(certs[i]); err != nil {
			return fmt.Errorf("CA certificate chain: certificate %d (%q) is not signed by certificate %d (%q)", i, certs[i-1].Subject.CommonName, i+1, certs[i].Subject.CommonName)
		}
	}
	root := certs[len(certs)-1]
	if !bytes.Equal(root.RawIssuer, root.RawSubject) || root.CheckSignatureFrom(root) != nil {
		return fmt.Errorf("CA certificate chain ends at %q, which is not a self-signed root: append its issuers up to the root", root.Subject.CommonName)
	}
	return nil
}

// Bundle returns the issuing certificate and its chain: what cacert.pem holds.
func (ca *CA) Bundle() []*x509.Certificate {
	return append([]*x509.Certificate{ca.Cert}, ca.Chain...)
}

// Root is the self-signed certificate the chain ends at.
func (ca *CA) Root() *x509.Certificate {
	b := ca.Bundle()
	return b[len(b)-1]
}

// Verify checks that cert chains to this CA (through its intermediates) at
// time now, for any key usage: usages are judged separately, the way
// libvirt does.
func (ca *CA) Verify(cert *x509.Certificate, now time.Time) error {
	return ca.verifyAt(cert, now)
}

// Signed checks that cert chains to this CA, whatever the dates: it asks at
// the latest NotBefore in the chain, when every link has begun. Expiry is
// a separate question with its own answer (renew, not re-sign).
func (ca *CA) Signed(cert *x509.Certificate) error {
	t := cert.NotBefore
	for _, c := range ca.Bundle() {
		if c.NotBefore.After(t) {
			t = c.NotBefore
		}
	}
	return ca.verifyAt(cert, t.Add(time.Second))
}

func (ca *CA) verifyAt(cert *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	inter := x509.NewCertPool()
	for _, c := range ca.Bundle()[:len(ca.Bundle())-1] {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func signatureAlgorithm(k *Key) x509.SignatureAlgorithm {
	switch AlgoOf(k.Signer.Public()) {
	case ECDSAP384:
		return x509.ECDSAWithSHA384
	case ECDSAP256:
		return x509.ECDSAWithSHA256
	default:
		return x509.SHA256WithRSA
	}
}

// signingPolicy turns Profiles into cfssl signing profiles, one for each
// key family: the usages depend on the key.
func signingPolicy() *config.Signing {
	p := &config.Signing{Profiles: map[string]*config.SigningProfile{}}
	for _, prof := range Profiles {
		for _, f := range KeyFamilies {
			p.Profiles[prof.cfsslName(f)] = &config.SigningProfile{
				Usage:        prof.cfsslUsages(f),
				Expiry:       DefaultLeafDays * 24 * time.Hour,
				ExpiryString: fmt.Sprintf("%dh", DefaultLeafDays*24),
			}
		}
	}
	p.Default = p.Profiles[ServerProfile.cfsslName(ECKeys)]
	return p
}
