package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"

	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// KeyAlgo names a private key type and size.
type KeyAlgo string

// The key algorithms libvirt-pki issues. ECDSA P-256 is the default: it is
// fast to generate at scale and GnuTLS has supported it for a decade.
const (
	ECDSAP256 KeyAlgo = "ecdsa-p256"
	ECDSAP384 KeyAlgo = "ecdsa-p384"
	RSA2048   KeyAlgo = "rsa-2048"
	RSA3072   KeyAlgo = "rsa-3072"
	RSA4096   KeyAlgo = "rsa-4096"
)

// KeyAlgos lists every supported algorithm, default first.
var KeyAlgos = []KeyAlgo{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096}

// ParseKeyAlgo accepts one of KeyAlgos.
func ParseKeyAlgo(s string) (KeyAlgo, error) {
	for _, a := range KeyAlgos {
		if string(a) == strings.ToLower(s) {
			return a, nil
		}
	}
	names := make([]string, len(KeyAlgos))
	for i, a := range KeyAlgos {
		names[i] = string(a)
	}
	return "", fmt.Errorf("unknown key algorithm %q (want one of %s)", s, strings.Join(names, ", "))
}

// keyRequest maps the algorithm onto cfssl's key request.
func (a KeyAlgo) keyRequest() *csr.KeyRequest {
	switch a {
	case ECDSAP384:
		return &csr.KeyRequest{A: "ecdsa", S: 384}
	case RSA2048:
		return &csr.KeyRequest{A: "rsa", S: 2048}
	case RSA3072:
		return &csr.KeyRequest{A: "rsa", S: 3072}
	case RSA4096:
		return &csr.KeyRequest{A: "rsa", S: 4096}
	default:
		return &csr.KeyRequest{A: "ecdsa", S: 256}
	}
}

// AlgoOf says which KeyAlgo a public key is, or "" for anything else.
func AlgoOf(pub crypto.PublicKey) KeyAlgo {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	}
	return ""
}

// The key policy: the weakest keys libvirt-pki signs with or certifies,
// and the rule verify reports as weak-key. RSA under 2048 bits has been
// disallowed for signatures by NIST SP 800-131A since 2014; every curve
// of KeyAlgos has 256 bits or more.
const (
	MinRSABits = 2048
	MinECBits  = 256
)

// KeyWeakness says how pub falls below the key policy ("a 1024-bit RSA
// key, under the 2048 bits libvirt-pki's key policy requires"), or ""
// when it does not.
func KeyWeakness(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return fmt.Sprintf("a %d-bit RSA key, under the %d bits libvirt-pki's key policy requires", n, MinRSABits)
		}
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().BitSize; n < MinECBits {
			return fmt.Sprintf("a %d-bit EC key, under the %d bits libvirt-pki's key policy requires", n, MinECBits)
		}
	}
	return ""
}

// Key is a private key with its PEM encoding.
type Key struct {
	Signer crypto.Signer
	PEM    []byte // the clear PEM, also for a key read from a vault file
	// Vaulted says the key was read from an ansible-vault file
	// (ParseKeyFile), as --encrypt-keys writes them.
	Vaulted bool
	// VaultID is that file's vault id ("" for a 1.1 header or a clear key).
	VaultID string
}

// GenerateKey makes a new private key with cfssl and encodes it as PEM
// (SEC 1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY", which GnuTLS, OpenSSL
// and cfssl all read).
func GenerateKey(a KeyAlgo) (*Key, error) {
	priv, err := a.keyRequest().Generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", a, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("generate %s key: not a signer", a)
	}
	var block *pem.Block
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case *rsa.PrivateKey:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	default:
		return nil, fmt.Errorf("generate %s key: unexpected key type %T", a, priv)
	}
	return &Key{Signer: signer, PEM: pem.EncodeToMemory(block)}, nil
}

// ParseKey reads a PEM private key (PKCS#1, SEC 1 or PKCS#8).
func ParseKey(data []byte) (*Key, error) {
	signer, err := parseSEC1(data)
	if err != nil {
		signer, err = helpers.ParsePrivateKeyPEM(data)
	}
	if err != nil {
		return nil, errors.New("not a PEM private key")
	}
	if _, ok := signer.(ed25519.PrivateKey); ok {
		return nil, errors.New("Ed25519 keys are not supported by libvirt's GnuTLS setup")
	}
	return &Key{Signer: signer, PEM: data}, nil
}

// parseSEC1 parses the key we write, an unencrypted SEC 1 "EC PRIVATE
// KEY", at once: cfssl's parser tries PKCS#8 and PKCS#1 first, a third
// of the time of checking a large tree. Anything else is cfssl's.
func parseSEC1(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "EC PRIVATE KEY" || len(block.Headers) > 0 {
		return nil, errors.New("not an unencrypted SEC 1 key")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

// ParseKeyFile reads a private key file as every command reads one: a
// PEM key (ParseKey), or a PEM key kept as an ansible-vault file
// (--encrypt-keys), opened with ring (nil holds no password). Errors are
// one line naming the file: a vaulted key without its password matches
// vault.ErrNoPassword, a wrong password vault.ErrWrongPassword.
func ParseKeyFile(name string, data []byte, ring *vault.Keyring) (*Key, error) {
	if !vault.IsEncrypted(data) {
		k, err := ParseKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return k, nil
	}
	opened, err := ring.Open(name, data)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(opened.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("%s: ansible-vault file: %w", name, err)
	}
	k.Vaulted, k.VaultID = true, opened.VaultID
	return k, nil
}

// VaultFile returns the key as an ansible-vault file for ring's password
// of vault id id ("" is the only password ring holds), as Ansible's copy
// module decrypts on deploy.
func (k *Key) VaultFile(ring *vault.Keyring, id string) ([]byte, error) {
	return ring.Encrypt(k.PEM, id)
}

// KeyMatches reports whether key is the private half of cert.
func KeyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	return PublicKeyMatches(key.Public(), cert)
}

// PublicKeyMatches reports whether pub is cert's public key.
func PublicKeyMatches(pub crypto.PublicKey, cert *x509.Certificate) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	p, ok := pub.(equaler)
	return ok && p.Equal(cert.PublicKey)
}
