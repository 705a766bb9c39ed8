package main

import (
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// envSASLKillAt makes the test binary, run as libvirt-pki by the SASL kill
// trials (sasl_kill_test.go), kill itself with SIGKILL at the Nth commit
// point of fsutil.Batch.Commit (the journal made durable, then each
// rename), counted from 1. It is set in init, so it holds however the
// binary is entered, and it is a name of its own so it never meets the
// other test hooks (testhooks_test.go).
const envSASLKillAt = "LIBVIRT_PKI_TEST_SASL_KILL_AT"

func init() {
	killAt, err := strconv.Atoi(os.Getenv(envSASLKillAt))
	if err != nil || killAt < 1 {
		return
	}
	var n atomic.Int64
	fsutil.SetFaultHook(func(int, string) {
		if int(n.Add(1)) == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	})
}
