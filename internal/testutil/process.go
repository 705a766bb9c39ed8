package testutil

import (
	"errors"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ErrExited is WaitListening's answer when the process ended first.
var ErrExited = errors.New("the process exited before it listened")

// WaitListening waits until addr accepts TCP connections (nil), the
// process whose end closes done exits (ErrExited), or timeout passes (the
// last dial error).
func WaitListening(addr string, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-done:
			return ErrExited
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StopGroup ends the process group cmd leads (started with Setpgid):
// SIGTERM, then SIGKILL after ten seconds; done closes when cmd.Wait
// returned.
func StopGroup(cmd *exec.Cmd, done <-chan struct{}) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
