package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// crashUnits are the units of the crash test: three hosts, each a
// certificate and key pair that must never end up half old, half new.
var crashUnits = []string{"host0", "host1", "host2"}

var pairFiles = []string{"cert.pem", "key.pem"}

func unitContent(age, host, file string) string { return age + " " + host + " " + file }

// writeUnits writes the old content of every unit under root.
func writeUnits(t *testing.T, root string) {
	for _, h := range crashUnits {
		os.MkdirAll(filepath.Join(root, h), 0o755)
		for _, f := range pairFiles {
			if err := os.WriteFile(filepath.Join(root, h, f), []byte(unitContent("old", h, f)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// unitAges says, for each unit, "old", "new" or "torn".
func unitAges(t *testing.T, root string) []string {
	var ages []string
	for _, h := range crashUnits {
		var age string
		for i, f := range pairFiles {
			data, err := os.ReadFile(filepath.Join(root, h, f))
			if err != nil {
				t.Fatal(err)
			}
			a, _, _ := strings.Cut(string(data), " ")
			if string(data) != unitContent(a, h, f) {
				t.Fatalf("%s/%s holds %q", h, f, data)
			}
			if i > 0 && a != age {
				a = "torn"
			}
			age = a
		}
		ages = append(ages, age)
	}
	return ages
}

// childCrash stages the new content of every unit under root and commits,
// SIGKILLing itself at the hook point killAt ("stage": before Commit).
func childCrash(root, killAt string) error {
	b := NewBatch(root)
	for _, h := range crashUnits {
		for _, f := range pairFiles {
			if err := b.WriteFile(filepath.Join(root, h, f), []byte(unitContent("new", h, f)), 0o600); err != nil {
				return err
			}
		}
	}
	return commitKilledAt(b, killAt)
}

// Kill a writer at every point of a 3-unit commit; after Recover and
// SweepTemp every unit must be entirely old or entirely new, with nothing
// left behind.
func TestKillAtEveryRename(t *testing.T) {
	renames := len(crashUnits) * len(pairFiles)
	points := []string{"stage"}
	for i := -1; i < renames; i++ {
		points = append(points, strconv.Itoa(i))
	}
	for _, at := range points {
		t.Run("kill at "+at, func(t *testing.T) {
			root := t.TempDir()
			writeUnits(t, root)
			runKilled(t, root, at)
			before := unitAges(t, root)
			if at == "0" && before[0] != "torn" {
				t.Fatalf("killed after the first rename, host0 is %s before Recover; the test cannot see a torn pair", before[0])
			}
			done, err := Recover(root)
			if err != nil {
				t.Fatal(err)
			}
			want := "new"
			if at == "stage" {
				want = "old"
			}
			if n, _ := strconv.Atoi(at); at != "stage" && len(done) != renames-1-n {
				t.Errorf("Recover completed %d renames, want %d", len(done), renames-1-n)
			}
			if _, err := SweepTemp(root, -1); err != nil {
				t.Fatal(err)
			}
			for i, age := range unitAges(t, root) {
				if age != want {
					t.Errorf("%s is %s after Recover, want %s (before Recover: %s)", crashUnits[i], age, want, before[i])
				}
			}
			if left := tempsUnder(root); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// runKilled runs childCrash and checks it died of SIGKILL.
func runKilled(t *testing.T, root, at string) {
	t.Helper()
	c := startChild(t, "crash", []string{"FSUTIL_DIR=" + root, "FSUTIL_KILL_AT=" + at}, "")
	err := c.cmd.Wait()
	st, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !st.Signaled() || st.Signal() != syscall.SIGKILL {
		t.Fatalf("the writer was not killed at %s: %v", at, err)
	}
}

func TestBatchWithRoot(t *testing.T) {
	root := t.TempDir()
	writeUnits(t, root)
	b := NewBatch(root)
	var journalSeen bool
	defer SetFaultHook(func(i int, path string) {
		if i == -1 {
			data, err := ReadFile(path, LimitConfig)
			journalSeen = err == nil && strings.Contains(string(data), `"path":"host0/cert.pem"`)
		}
	})()
	for _, h := range crashUnits {
		for _, f := range pairFiles {
			if err := b.WriteFile(filepath.Join(root, h, f), []byte(unitContent("new", h, f)), 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if !journalSeen {
		t.Fatal("no journal listing host0/cert.pem before the first rename")
	}
	for _, age := range unitAges(t, root) {
		if age != "new" {
			t.Fatalf("after Commit: %v", unitAges(t, root))
		}
	}
	if fi, _ := os.Stat(filepath.Join(root, "host1", "key.pem")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if left := tempsUnder(root); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if done, err := Recover(root); err != nil || done != nil {
		t.Fatalf("Recover without a journal: %v, %v", done, err)
	}
	if err := b.WriteFile(filepath.Join(root, "x"), nil, 0o600); err == nil {
		t.Fatal("a committed batch accepted another file")
	}
}

func TestBatchRootRefusesOutsideAndSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "link"))
	b := NewBatch(root)
	defer b.Abort()
	for _, p := range []string{
		filepath.Join(outside, "x"),
		filepath.Join(root, "link", "x"),
		root + "/a/../../x",
		root,
	} {
		if err := b.WriteFile(p, []byte("x"), 0o600); err == nil {
			t.Errorf("Batch with Root accepted %s", p)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote outside root: %v", entries)
	}
}

// A rename that fails after others succeeded keeps the journal, so the
// next run's Recover completes the unit instead of leaving it torn.
func TestCommitRenameFailureKeepsJournal(t *testing.T) {
	root := t.TempDir()
	writeUnits(t, root)
	b := NewBatch(root)
	for _, f := range pairFiles {
		if err := b.WriteFile(filepath.Join(root, "host0", f), []byte(unitContent("new", "host0", f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(root, "host0", "key.pem")
	os.Remove(key)
	os.Mkdir(key, 0o755) // renaming a file over a directory fails
	err := b.Commit()
	if err == nil || !strings.Contains(err.Error(), JournalFileName) {
		t.Fatalf("Commit over a directory: %v", err)
	}
	b.Abort() // as a deferred Abort would: the journal's files must stay
	// The next run: a new batch must not start before recovery.
	c := NewBatch(root)
	c.WriteFile(filepath.Join(root, "host1", "cert.pem"), []byte("x"), 0o600)
	if err := c.Commit(); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Commit over a pending journal: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "host1", "cert.pem")); string(got) != unitContent("old", "host1", "cert.pem") {
		t.Fatalf("the refused commit changed host1: %q", got)
	}
	if _, err := Recover(root); err == nil {
		t.Fatal("Recover renamed a file over a directory")
	}
	os.Remove(key)
	if _, err := Recover(root); err != nil {
		t.Fatal(err)
	}
	if ages := unitAges(t, root); ages[0] != "new" {
		t.Fatalf("after Recover: %v", ages)
	}
	if left := tempsUnder(root); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// A journal is data on disk: one that names targets outside root, or
// temporary files Batch would not make, must not move anything.
func TestRecoverRefusesBadJournals(t *testing.T) {
	outside := t.TempDir()
	for name, entry := range map[string]string{
		"escape":      `{"tmp":"../x/.a.tmp-1","path":"../x/a"}`,
		"absolute":    `{"tmp":"/etc/.passwd.tmp-1","path":"/etc/passwd"}`,
		"not a temp":  `{"tmp":"other","path":"a"}`,
		"other dir":   `{"tmp":"d/.a.tmp-1","path":"a"}`,
		"other base":  `{"tmp":".b.tmp-1","path":"a"}`,
		"via symlink": `{"tmp":"link/.a.tmp-1","path":"link/a"}`,
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			os.Symlink(outside, filepath.Join(root, "link"))
			os.WriteFile(filepath.Join(outside, ".a.tmp-1"), []byte("planted"), 0o600)
			os.WriteFile(filepath.Join(root, ".b.tmp-1"), []byte("planted"), 0o600)
			os.WriteFile(filepath.Join(root, "other"), []byte("planted"), 0o600)
			j := fmt.Sprintf(`{"version":1,"renames":[%s]}`, entry)
			os.WriteFile(filepath.Join(root, JournalFileName), []byte(j), 0o600)
			if _, err := Recover(root); err == nil {
				t.Fatal("Recover accepted the journal")
			}
			if _, err := os.Lstat(filepath.Join(root, "a")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Recover created a: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(outside, "a")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Recover wrote outside root: %v", err)
			}
		})
	}
}

// commitKilledAt commits b in a child process that SIGKILLs itself at
// killAt: "stage" before Commit, or the number of a fault-hook point.
func commitKilledAt(b *Batch, killAt string) error {
	if killAt == "stage" {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	at, err := strconv.Atoi(killAt)
	if err != nil {
		return err
	}
	SetFaultHook(func(i int, _ string) {
		if i == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	return b.Commit()
}
