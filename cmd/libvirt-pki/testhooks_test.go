package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// Test-only hooks of the libvirt-pki command run by the tests (the test
// binary re-executed as "libvirt-pki", see TestMain), set by environment:
//
//	LIBVIRT_PKI_TEST_KILL_AT=N    SIGKILL at the Nth commit point: every
//	                              journal made durable and every rename
//	                              (fsutil.FaultHook), counted from 1
//	LIBVIRT_PKI_TEST_COUNT=FILE   append one byte to FILE at each point
//	LIBVIRT_PKI_TEST_PAUSE_AT=N   at the Nth point, create DIR/paused and
//	LIBVIRT_PKI_TEST_PAUSE_DIR=DIR  wait until DIR/go exists
const (
	envKillAt   = "LIBVIRT_PKI_TEST_KILL_AT"
	envCount    = "LIBVIRT_PKI_TEST_COUNT"
	envPauseAt  = "LIBVIRT_PKI_TEST_PAUSE_AT"
	envPauseDir = "LIBVIRT_PKI_TEST_PAUSE_DIR"
	// envScenario runs a named test scenario in place of the tests (a
	// child in its own mount namespace, see faults_test.go).
	envScenario = "LIBVIRT_PKI_TEST_SCENARIO"
)

// cliMain is main with the test hooks the environment asks for.
func cliMain() {
	installTestHooks()
	main()
}

func installTestHooks() {
	killAt, _ := strconv.Atoi(os.Getenv(envKillAt))
	pauseAt, _ := strconv.Atoi(os.Getenv(envPauseAt))
	countFile := os.Getenv(envCount)
	if killAt == 0 && pauseAt == 0 && countFile == "" {
		return
	}
	var n atomic.Int64
	fsutil.SetFaultHook(func(int, string) {
		i := int(n.Add(1))
		if countFile != "" {
			if f, err := os.OpenFile(countFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
				f.Write([]byte{'.'})
				f.Close()
			}
		}
		if i == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		if i == pauseAt {
			pause(os.Getenv(envPauseDir))
		}
	})
}

// pause tells the test it is paused and waits for its go-ahead.
func pause(dir string) {
	os.WriteFile(filepath.Join(dir, "paused"), []byte(strconv.Itoa(os.Getpid())), 0o600)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runScenario runs the scenario named by envScenario, if any; ok is false
// when none is asked for.
func runScenario() (code int, ok bool) {
	name := os.Getenv(envScenario)
	if name == "" {
		return 0, false
	}
	f := scenarios[name]
	if f == nil {
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", name)
		return 3, true
	}
	if err := f(os.Getenv("LIBVIRT_PKI_TEST_DIR")); err != nil {
		fmt.Fprintf(os.Stderr, "scenario %s: %v\n", name, err)
		return 1, true
	}
	return 0, true
}

// scenarios are filled by the test files that define them.
var scenarios = map[string]func(dir string) error{}

// mountTmpfs mounts a tmpfs of size bytes at dir (in the caller's mount
// namespace: run under unshare -m).
func mountTmpfs(dir string, size int) error {
	return unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size))
}

// bindReadOnly makes dir read-only by bind-mounting it over itself.
func bindReadOnly(dir string) error {
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
}

// leftovers lists the temporary and journal files and the staged
// directory copies under dir.
func leftovers(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if (!d.IsDir() && (strings.Contains(name, ".tmp-") || name == fsutil.JournalFileName)) ||
			(d.IsDir() && strings.HasPrefix(name, ".") && strings.Contains(name, ".swap-")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// snapshotFiles maps every regular file under dir to
// its content; directories it may not read are left out.
func snapshotFiles(dir string) (map[string]string, error) {
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil && d != nil && d.IsDir() && errors.Is(err, fs.ErrPermission) {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[p] = string(data)
		}
		return nil
	})
	return m, err
}

// sameFiles says how two snapshots differ, or nil.
func sameFiles(before, after map[string]string) error {
	for p, data := range before {
		if got, ok := after[p]; !ok || got != data {
			return fmt.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			return fmt.Errorf("%s appeared", p)
		}
	}
	return nil
}
