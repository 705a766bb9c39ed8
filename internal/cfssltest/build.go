// Package cfssltest runs a real cfssl signer for tests: cfssl's
// multirootca, built from the cfssl version go.mod requires, serving a CA
// made with pki over TLS on 127.0.0.1, with pki.SignerConfig's profiles
// and an HMAC auth key (see docs/remote-signing.md).
//
// Building needs the Go module proxy the first time for each cfssl
// version (about a minute and a half); the programs are then kept under
// $(go env GOCACHE)/libvirt-pki-cfssltest/VERSION. Outside CI a failed
// build skips the test, loudly; with CI=true it fails it (internal/peer's
// rule).
//
// NewFake is an in-process stand-in that speaks the same JSON API and can
// spoil what it signs, for tests of what we refuse from a signer.
package cfssltest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// cfsslModule is the module the programs come from.
const cfsslModule = "github.com/cloudflare/cfssl"

// Tools are cfssl's programs, built from the version go.mod requires.
type Tools struct {
	Version     string
	Multirootca string // cmd/multirootca: the multi-root signing server
	CFSSL       string // cmd/cfssl: the CLI (gencert -remote, for the benchmark)
	CFSSLJSON   string // cmd/cfssljson: writes cfssl's JSON output as files
}

var (
	buildOnce  sync.Once
	builtTools Tools
	buildErr   error
)

// Build returns the tools, building them once per cfssl version. A
// failure stops the test: t.Fatalf with CI=true, t.Skipf otherwise.
func Build(t testing.TB) Tools {
	t.Helper()
	buildOnce.Do(func() { builtTools, buildErr = build() })
	if buildErr != nil {
		if peer.InCI() {
			t.Fatalf("building cfssl's multirootca (CI=true): %v", buildErr)
		}
		t.Skipf("SKIPPING: cannot build cfssl's multirootca (network?): %v (CI=true makes this a failure)", buildErr)
	}
	return builtTools
}

// build finds the cfssl version and the cache, and builds there under a
// lock unless an earlier run did.
func build() (Tools, error) {
	goBin := goCommand()
	version, err := output(goBin, "list", "-m", "-f", "{{.Version}}", cfsslModule)
	if err != nil {
		return Tools{}, fmt.Errorf("cfssl's version in go.mod: %v", err)
	}
	cache, err := output(goBin, "env", "GOCACHE")
	if err != nil || cache == "" || cache == "off" {
		return Tools{}, fmt.Errorf("go env GOCACHE: %q %v", cache, err)
	}
	parent := filepath.Join(cache, "libvirt-pki-cfssltest")
	dir := filepath.Join(parent, version)
	tools := Tools{Version: version, Multirootca: filepath.Join(dir, "multirootca"),
		CFSSL: filepath.Join(dir, "cfssl"), CFSSLJSON: filepath.Join(dir, "cfssljson")}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Tools{}, err
	}
	// Test binaries of several packages may build at once.
	lock, err := os.OpenFile(filepath.Join(parent, version+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return Tools{}, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return Tools{}, err
	}
	if built(tools) {
		return tools, nil
	}
	return tools, install(goBin, version, parent, dir)
}

func built(t Tools) bool {
	for _, p := range []string{t.Multirootca, t.CFSSL, t.CFSSLJSON} {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// install runs `go install pkg@version` for the programs into a new
// directory and renames it into place. It is cfssl's own build (its
// go.mod's dependencies), the one `go install` gives users, and leaves
// our go.mod and go.sum alone; CGO_ENABLED=0 needs no C compiler.
func install(goBin, version, parent, dir string) error {
	tmp, err := os.MkdirTemp(parent, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goBin, "install", cfsslModule+"/cmd/multirootca@"+version,
		cfsslModule+"/cmd/cfssl@"+version, cfsslModule+"/cmd/cfssljson@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install cfssl %s: %v: %s", version, err, lastLines(out.String(), 5))
	}
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// goCommand is the go command running these tests: go test puts its
// GOROOT/bin first on the tests' PATH.
func goCommand() string { return "go" }

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, lastLines(string(ee.Stderr), 3))
	}
	return strings.TrimSpace(string(out)), err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
