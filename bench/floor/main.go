// Command floor measures the cost of the cryptography alone behind a
// `libvirt-pki certificates` run: for every host, two private keys and two
// certificates (server and client) signed with crypto/x509 directly, with
// the extensions libvirt-pki's leaves carry (CA:FALSE; keyUsage
// digitalSignature+keyEncipherment; extendedKeyUsage serverAuth or
// clientAuth; SANs), on runtime.NumCPU() goroutines. No cfssl, no CSR, no
// file unless -out is given. It prints the elapsed seconds.
//
//	go run ./bench/floor -hosts 1000 -algo ecdsa-p256 [-out DIR]
//
// bench/compare.sh uses it as the lower bound the other tools are
// compared with.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

func main() {
	hosts := flag.Int("hosts", 100, "number of hosts (2 keys and 2 certificates each)")
	algo := flag.String("algo", "ecdsa-p256", "key algorithm: ecdsa-p256 or rsa-3072")
	out := flag.String("out", "", "write DIR/<host>/{server,client}{cert,key}.pem and DIR/cacert.pem (default: write nothing)")
	flag.Parse()
	if *hosts < 1 {
		fail(fmt.Errorf("-hosts must be at least 1"))
	}
	gen, err := keyGen(*algo)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	if err := run(*hosts, gen, *out); err != nil {
		fail(err)
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}

func keyGen(algo string) (func() (crypto.Signer, error), error) {
	switch algo {
	case "ecdsa-p256":
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }, nil
	case "rsa-3072":
		return func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) }, nil
	}
	return nil, fmt.Errorf("-algo %q: want ecdsa-p256 or rsa-3072", algo)
}

var serialLimit = new(big.Int).Lsh(big.NewInt(1), 159)

func run(n int, gen func() (crypto.Signer, error), out string) error {
	caKey, err := gen()
	if err != nil {
		return err
	}
	caSerial, err := rand.Int(rand.Reader, serialLimit)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "floor CA"},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := write(filepath.Join(out, "cacert.pem"), "CERTIFICATE", caDER, 0o644); err != nil {
			return err
		}
	}

	jobs := make(chan int)
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := host(i, gen, ca, caKey, now, out); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

func host(i int, gen func() (crypto.Signer, error), ca *x509.Certificate, caKey crypto.Signer, now time.Time, out string) error {
	name := fmt.Sprintf("compute%05d", i)
	ip := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))
	for _, p := range []struct {
		name string
		eku  x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		key, err := gen()
		if err != nil {
			return err
		}
		serial, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             now.Add(-5 * time.Minute),
			NotAfter:              now.AddDate(0, 0, 730),
			BasicConstraintsValid: true,
			IsCA:                  false,
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:           []x509.ExtKeyUsage{p.eku},
			DNSNames:              []string{name, name + ".example.org"},
			IPAddresses:           []net.IP{ip},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			return err
		}
		if out == "" {
			continue
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		dir := filepath.Join(out, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := write(filepath.Join(dir, p.name+"key.pem"), "PRIVATE KEY", keyDER, 0o600); err != nil {
			return err
		}
		if err := write(filepath.Join(dir, p.name+"cert.pem"), "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func write(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
