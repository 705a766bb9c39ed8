package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

var benchSANs = SANs{DNS: []string{"compute01", "compute01.example.org"}, IPs: []net.IP{net.ParseIP("10.0.0.11")}}

// BenchmarkGenerateKey is one private key (with its PEM) per algorithm.
func BenchmarkGenerateKey(b *testing.B) {
	for _, algo := range KeyAlgos {
		b.Run(string(algo), func(b *testing.B) {
			for b.Loop() {
				if _, err := GenerateKey(algo); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssue is CA.Issue alone (CSR, cfssl signing, parsing the
// result) for a key made beforehand, per algorithm (CA and leaf alike).
func BenchmarkIssue(b *testing.B) {
	for _, algo := range KeyAlgos {
		b.Run(string(algo), func(b *testing.B) {
			ca, err := NewCA(CAOptions{CommonName: "bench CA", Algo: algo})
			if err != nil {
				b.Fatal(err)
			}
			key, err := GenerateKey(algo)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, _, err := ca.Issue(LeafRequest{Profile: ServerProfile, CommonName: "compute01", Key: key, SANs: benchSANs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFloor is the cryptography alone of one leaf: a key from
// crypto/ecdsa or crypto/rsa and a certificate with the extensions Issue
// gives, signed by crypto/x509.CreateCertificate. No cfssl, no CSR, no PEM.
func BenchmarkFloor(b *testing.B) {
	for _, algo := range KeyAlgos {
		b.Run(string(algo), func(b *testing.B) {
			ca := benchCA(b, algo)
			for b.Loop() {
				key, err := floorKey(algo)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := floorSign(ca, key.Public(), ServerProfile); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFloorSign is floor signing alone (no key generation): what
// BenchmarkIssue compares with.
func BenchmarkFloorSign(b *testing.B) {
	for _, algo := range KeyAlgos {
		b.Run(string(algo), func(b *testing.B) {
			ca := benchCA(b, algo)
			key, err := floorKey(algo)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := floorSign(ca, key.Public(), ServerProfile); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchCA(b *testing.B, algo KeyAlgo) *CA {
	b.Helper()
	ca, err := NewCA(CAOptions{CommonName: "bench CA", Algo: algo})
	if err != nil {
		b.Fatal(err)
	}
	return ca
}

func floorKey(algo KeyAlgo) (crypto.Signer, error) {
	switch algo {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	default:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
}

var floorSerialLimit = new(big.Int).Lsh(big.NewInt(1), 159)

func floorSign(ca *CA, pub crypto.PublicKey, prof Profile) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, floorSerialLimit)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "compute01"},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(DefaultLeafDays * 24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              prof.KeyUsage[FamilyOf(pub)],
		ExtKeyUsage:           []x509.ExtKeyUsage{prof.ExtUsage},
		DNSNames:              benchSANs.DNS,
		IPAddresses:           benchSANs.IPs,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key.Signer)
}
