package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

func TestMain(m *testing.M) {
	// A child running a scenario (testhooks_test.go) is not a test run.
	if code, ok := runScenario(); ok {
		os.Exit(code)
	}
	testscript.Main(m, map[string]func(){
		"libvirt-pki": cliMain, // main, with the test hooks (testhooks_test.go)
	})
}

// TestScripts runs the whole-CLI sessions in testdata/*.txt.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			// The repository's own Kolla-shaped fixtures, read-only.
			samples, err := filepath.Abs("../../testdata/kolla")
			if err != nil {
				return err
			}
			env.Setenv("KOLLA_SAMPLES", samples)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"perm":    cmdPerm,
			"certsan": cmdCertSAN,
			"certcn":  cmdCertCN,
			"changed": cmdChanged,
		},
	})
}

// cmdPerm: perm MODE FILE... asserts each file's permission bits.
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: perm MODE FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	for _, f := range args[1:] {
		fi, err := os.Stat(ts.MkAbs(f))
		ts.Check(err)
		got := uint64(fi.Mode().Perm())
		if (got == want) == neg {
			ts.Fatalf("%s: mode %04o, want %s%04o", f, got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	}
}

func readCert(ts *testscript.TestScript, f string) *x509.Certificate {
	data, err := os.ReadFile(ts.MkAbs(f))
	ts.Check(err)
	certs, err := pki.ParseCertsPEM(data)
	ts.Check(err)
	return certs[0]
}

// cmdCertSAN: certsan FILE prints the certificate's SANs, one per line.
func cmdCertSAN(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: certsan FILE")
	}
	fmt.Fprintln(ts.Stdout(), strings.Join(pki.SANsOf(readCert(ts, args[0])).Strings(), "\n"))
}

// cmdCertCN: certcn FILE prints the subject and issuer common names.
func cmdCertCN(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: certcn FILE")
	}
	c := readCert(ts, args[0])
	fmt.Fprintf(ts.Stdout(), "subject=%s issuer=%s\n", c.Subject.CommonName, c.Issuer.CommonName)
}

// cmdChanged: changed OLD NEW prints "-line" / "+line" for every line that
// differs between two files of the same line count (a line-level diff
// good enough to show that an edit touched exactly one line).
func cmdChanged(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: changed OLD NEW")
	}
	a := strings.Split(ts.ReadFile(args[0]), "\n")
	b := strings.Split(ts.ReadFile(args[1]), "\n")
	if len(a) != len(b) {
		ts.Fatalf("%s has %d lines, %s has %d", args[0], len(a), args[1], len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			fmt.Fprintf(ts.Stdout(), "-%s\n+%s\n", a[i], b[i])
		}
	}
}
