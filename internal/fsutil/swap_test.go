package fsutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The swap units: each host directory holds cert.pem and private/key.pem
// (a pair in two directories, as the libvirt layout has it) and keep.txt,
// which no batch writes and every swap must carry over.
var swapPair = []string{"cert.pem", "private/key.pem"}

func writeSwapUnits(t *testing.T, root string) {
	for _, h := range crashUnits {
		os.MkdirAll(filepath.Join(root, h, "private"), 0o700)
		for _, f := range swapPair {
			if err := os.WriteFile(filepath.Join(root, h, f), []byte(unitContent("old", h, f)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(root, h, "keep.txt"), []byte("keep "+h), 0o640)
	}
	os.WriteFile(filepath.Join(root, "shared.pem"), []byte("old"), 0o644)
}

// swapAges is unitAges for the swap units, failing on any missing member
// or carried-over file.
func swapAges(t *testing.T, root string) []string {
	t.Helper()
	var ages []string
	for _, h := range crashUnits {
		age := ""
		for _, f := range swapPair {
			data, err := os.ReadFile(filepath.Join(root, h, f))
			if err != nil {
				t.Fatal(err)
			}
			a, _, _ := strings.Cut(string(data), " ")
			if age != "" && a != age {
				a = "torn"
			}
			age = a
		}
		if data, err := os.ReadFile(filepath.Join(root, h, "keep.txt")); err != nil || string(data) != "keep "+h {
			t.Fatalf("%s/keep.txt not carried over: %q, %v", h, data, err)
		}
		ages = append(ages, age)
	}
	return ages
}

// childSwapCrash stages the new pair of every unit with WriteFileIn and a
// shared file with WriteFile, and commits, SIGKILLing itself at killAt.
func childSwapCrash(root, killAt string) error {
	b := NewBatch(root)
	for _, h := range crashUnits {
		for _, f := range swapPair {
			if err := b.WriteFileIn(filepath.Join(root, h), filepath.Join(root, h, f), []byte(unitContent("new", h, f)), 0o600); err != nil {
				return err
			}
		}
	}
	if err := b.WriteFile(filepath.Join(root, "shared.pem"), []byte("new"), 0o644); err != nil {
		return err
	}
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

// Kill a writer at every step of a commit of swapped directories: right
// after the kill, before any recovery, no pair is torn or missing a
// member; after Recover every unit is new and nothing is left behind.
func TestSwapKillNeverTorn(t *testing.T) {
	points := []string{"stage"}
	for i := -1; i <= len(crashUnits); i++ {
		points = append(points, strconv.Itoa(i))
	}
	for _, at := range points {
		t.Run("kill at "+at, func(t *testing.T) {
			root := t.TempDir()
			writeSwapUnits(t, root)
			c := startChild(t, "swapcrash", []string{"FSUTIL_DIR=" + root, "FSUTIL_KILL_AT=" + at}, "")
			c.cmd.Wait()
			if st, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() {
				t.Fatalf("the writer was not killed at %s", at)
			}
			before := swapAges(t, root)
			for i, age := range before {
				if age == "torn" {
					t.Fatalf("%s torn right after the kill at %s", crashUnits[i], at)
				}
			}
			if _, err := Recover(root); err != nil {
				t.Fatal(err)
			}
			if _, err := SweepTemp(root, -1); err != nil {
				t.Fatal(err)
			}
			want := "new"
			if at == "stage" {
				want = "old"
			}
			for i, age := range swapAges(t, root) {
				if age != want {
					t.Errorf("%s is %s after Recover, want %s (right after the kill: %s)", crashUnits[i], age, want, before[i])
				}
			}
			if left := tempsUnder(root); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// A swap keeps what it does not write: modes of files and directories,
// and the other files; a directory that does not exist yet appears whole.
func TestWriteFileInCarriesOver(t *testing.T) {
	root := t.TempDir()
	writeSwapUnits(t, root)
	os.Chmod(filepath.Join(root, "host0", "private"), 0o710)
	b := NewBatch(root)
	if err := b.WriteFileIn(filepath.Join(root, "host0"), filepath.Join(root, "host0", "private", "key.pem"), []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(root, "fresh", "sub")
	if err := b.WriteFileIn(fresh, filepath.Join(fresh, "a", "cert.pem"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(fresh); err == nil {
		t.Fatal("a new directory appeared before Commit")
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		"host0/private":         0o710 | os.ModeDir,
		"host0/private/key.pem": 0o640,
		"host0/cert.pem":        0o600,
		"host0/keep.txt":        0o640,
		"fresh/sub/a/cert.pem":  0o644,
	} {
		if fi, err := os.Stat(filepath.Join(root, path)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", path, fi.Mode(), err, want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(root, "host0", "cert.pem")); string(got) != unitContent("old", "host0", "cert.pem") {
		t.Errorf("cert.pem changed: %q", got)
	}
	if left := tempsUnder(root); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// Steps that would undo each other are refused before anything moves.
func TestWriteFileInRefusesOverlaps(t *testing.T) {
	root := t.TempDir()
	writeSwapUnits(t, root)
	host := filepath.Join(root, "host0")
	for name, stage := range map[string]func(b *Batch) error{
		"file inside": func(b *Batch) error {
			b.WriteFileIn(host, filepath.Join(host, "cert.pem"), []byte("new"), 0o600)
			return b.WriteFile(filepath.Join(host, "private", "key.pem"), []byte("new"), 0o600)
		},
		"nested": func(b *Batch) error {
			b.WriteFileIn(host, filepath.Join(host, "cert.pem"), []byte("new"), 0o600)
			return b.WriteFileIn(filepath.Join(host, "private"), filepath.Join(host, "private", "key.pem"), []byte("new"), 0o600)
		},
		"root": func(b *Batch) error {
			return b.WriteFileIn(root, filepath.Join(host, "cert.pem"), []byte("new"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := NewBatch(root)
			err := stage(b)
			if err == nil {
				err = b.Commit()
			}
			if err == nil {
				t.Fatal("committed")
			}
			for i, age := range swapAges(t, root) {
				if age != "old" {
					t.Errorf("%s is %s", crashUnits[i], age)
				}
			}
			if left := tempsUnder(root); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// A journal's swap entry must name a stage beside its directory.
func TestRecoverRefusesBadSwapEntries(t *testing.T) {
	root := t.TempDir()
	writeSwapUnits(t, root)
	os.Mkdir(filepath.Join(root, "other"), 0o755)
	j := `{"version":2,"renames":[{"tmp":"other","path":"host0","swap":true,"dev":1,"new":2}]}`
	os.WriteFile(filepath.Join(root, JournalFileName), []byte(j), 0o600)
	if _, err := Recover(root); err == nil {
		t.Fatal("Recover accepted a swap with a directory not named as a stage")
	}
	swapAges(t, root)
}

// A batch over directories of a host keeps its journal elsewhere
// (JournalDir); a kill between two swaps is completed by RecoverJournal.
func TestSwapJournalDir(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	writeSwapUnits(t, root)
	b := &Batch{Root: root, JournalDir: state}
	for _, h := range crashUnits {
		for _, f := range swapPair {
			if err := b.WriteFileIn(filepath.Join(root, h), filepath.Join(root, h, f), []byte(unitContent("new", h, f)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop := errStop{}
	func() {
		defer func() { recover() }()
		defer SetFaultHook(func(i int, _ string) {
			if i == 0 {
				panic(stop) // abandon the commit after the first swap, as a kill would
			}
		})()
		b.Commit()
	}()
	if _, err := os.Lstat(filepath.Join(state, JournalFileName)); err != nil {
		t.Fatalf("no journal in JournalDir: %v", err)
	}
	if ages := swapAges(t, root); ages[0] != "new" || ages[1] != "old" {
		t.Fatalf("after one swap: %v", ages)
	}
	if _, err := RecoverJournal(root, state); err != nil {
		t.Fatal(err)
	}
	for i, age := range swapAges(t, root) {
		if age != "new" {
			t.Errorf("%s is %s after RecoverJournal", crashUnits[i], age)
		}
	}
	if left := append(tempsUnder(root), tempsUnder(state)...); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

type errStop struct{}

// A swap that fails without a journal: what was placed is reported, and
// neither the unplaced stage nor the swapped-out copy is left behind.
func TestSwapFailureWithoutJournal(t *testing.T) {
	root := t.TempDir()
	writeSwapUnits(t, root)
	b := &Batch{}
	for _, h := range crashUnits[:2] {
		if err := b.WriteFileIn(filepath.Join(root, h), filepath.Join(root, h, "cert.pem"), []byte(unitContent("new", h, "cert.pem")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host1 := filepath.Join(root, "host1")
	defer SetFaultHook(func(i int, _ string) {
		if i == 0 {
			os.Rename(host1, host1+"-away") // nothing left to exchange with
		}
	})()
	if err := b.Commit(); err == nil {
		t.Fatal("Commit exchanged with a directory that is gone")
	}
	os.Rename(host1+"-away", host1)
	if !b.Placed(filepath.Join(root, "host0", "cert.pem")) || b.Placed(filepath.Join(host1, "cert.pem")) {
		t.Error("Placed does not tell the swap done from the one that failed")
	}
	if ages := swapAges(t, root); ages[0] != "torn" || ages[1] != "old" {
		t.Errorf("after the failed commit: %v", ages) // host0: new cert.pem, old key: what this batch staged
	}
	if left := tempsUnder(root); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
