package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// ParseKey reads every PEM form openssl and cfssl write, each to the key
// it holds: SEC 1 (ours, read at once), SEC 1 after openssl's EC
// PARAMETERS block, PKCS#8 and PKCS#1; a damaged SEC 1 key or one with
// encryption headers is refused.
func TestParseKeyForms(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	ecPKCS8, _ := x509.MarshalPKCS8PrivateKey(ec)
	rsaPKCS8, _ := x509.MarshalPKCS8PrivateKey(rk)
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	params := block("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	for _, c := range []struct {
		name string
		pem  []byte
		want crypto.PublicKey
	}{
		{"SEC 1", block("EC PRIVATE KEY", sec1), &ec.PublicKey},
		{"SEC 1 after EC PARAMETERS", append(params, block("EC PRIVATE KEY", sec1)...), &ec.PublicKey},
		{"PKCS#8 EC", block("PRIVATE KEY", ecPKCS8), &ec.PublicKey},
		{"PKCS#1 RSA", block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), &rk.PublicKey},
		{"PKCS#8 RSA", block("PRIVATE KEY", rsaPKCS8), &rk.PublicKey},
	} {
		k, err := ParseKey(c.pem)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if pub, ok := k.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(c.want) {
			t.Errorf("%s: parsed to another key", c.name)
		}
	}
	damaged := block("EC PRIVATE KEY", sec1[:len(sec1)-5])
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: sec1})
	for name, data := range map[string][]byte{"damaged SEC 1": damaged, "encrypted SEC 1": encrypted, "not PEM": []byte("key")} {
		if _, err := ParseKey(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
