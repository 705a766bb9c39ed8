package fsutil

import "sync/atomic"

// FaultHook is called by Batch.Commit at the points where a crash matters
// most, so tests can kill the process there (for example with
// syscall.Kill(os.Getpid(), syscall.SIGKILL)) and check what Recover makes
// of it. i is -1 once the journal is durable and before the first rename
// (path is the journal); then i is the index of each rename just done, in
// staging order (path is its target: a file, or the directory a
// WriteFileIn swap exchanged). Commits without a Root call it only
// after renames.
type FaultHook func(i int, path string)

var afterRename atomic.Pointer[FaultHook]

// SetFaultHook installs hook (nil removes it) for every Batch in the
// process. Test-only: production code never sets it. It returns a
// function that restores the previous hook, for t.Cleanup.
func SetFaultHook(hook FaultHook) (restore func()) {
	var p *FaultHook
	if hook != nil {
		p = &hook
	}
	old := afterRename.Swap(p)
	return func() { afterRename.Store(old) }
}

func faultHook(i int, path string) {
	if h := afterRename.Load(); h != nil {
		(*h)(i, path)
	}
}
