package fsutil

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Tests that need a second process (a lock holder, a process killed in the
// middle of a commit, one in its own mount namespace) re-run this test
// binary with FSUTIL_CHILD naming what to do; TestMain runs that instead
// of the tests.
const childEnv = "FSUTIL_CHILD"

func TestMain(m *testing.M) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	var err error
	switch mode {
	case "lock":
		err = childLock(os.Getenv("FSUTIL_DIR"), os.Getenv("FSUTIL_TREE") != "")
	case "crash":
		err = childCrash(os.Getenv("FSUTIL_DIR"), os.Getenv("FSUTIL_KILL_AT"))
	case "swapcrash":
		err = childSwapCrash(os.Getenv("FSUTIL_DIR"), os.Getenv("FSUTIL_KILL_AT"))
	case "enospc":
		err = childENOSPC(os.Getenv("FSUTIL_DIR"))
	default:
		err = fmt.Errorf("unknown %s=%q", childEnv, mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// childLock takes the lock on dir (or the tree at dir), says "locked" on
// stdout and holds it until stdin closes or it is killed.
func childLock(dir string, tree bool) error {
	lock := Lock
	if tree {
		lock = LockTree
	}
	l, err := lock(context.Background(), dir, LockOptions{})
	if err != nil {
		return err
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	return l.Unlock()
}

// child is a running re-exec'd test binary.
type child struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

// startChild starts this test binary as a child doing mode, with env
// (KEY=VALUE) added, and checks that its first line of output is want.
func startChild(t *testing.T, mode string, env []string, want string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd, stdin}
	t.Cleanup(func() { c.kill() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != want {
		t.Fatalf("child %s said %q, want %q", mode, line, want)
	}
	return c
}

// kill SIGKILLs the child and reaps it, so its flocks are released when
// kill returns.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.stdin.Close()
	c.cmd.Wait()
}

func (c *child) pid() int { return c.cmd.Process.Pid }
