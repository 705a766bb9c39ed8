package lint

import (
	"encoding/json"
	"runtime"
	"slices"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// TestRunParallelIsSerial checks that files linted on many cores give
// the report (and the unreadable files, in order) of one core.
func TestRunParallelIsSerial(t *testing.T) {
	tree := bundledCATree(t)
	writeFile(t, tree.In(tree.HostUnit("compute01"), layout.ClientCert), "junk")
	run := func(procs int) ([]byte, []string) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var skipped []string
		rep, err := Run(Options{Tree: tree, Unreadable: func(p string, err error) { skipped = append(skipped, p+": "+err.Error()) }})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		return b, skipped
	}
	serial, skipped := run(1)
	if len(skipped) != 1 {
		t.Fatalf("want the junk client certificate skipped, got %q", skipped)
	}
	for range 10 {
		if got, gotSkipped := run(4); string(got) != string(serial) || !slices.Equal(gotSkipped, skipped) {
			t.Fatalf("4 cores:\n%s %q\n1 core:\n%s %q", got, gotSkipped, serial, skipped)
		}
	}
}
