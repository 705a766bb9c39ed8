package main

import (
	"bytes"
	"runtime"
	"testing"
)

// TestVersionStamped: what build.sh stamps with -ldflags -X is what both
// `version` and `--version` print.
func TestVersionStamped(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-01-02T03:04:05Z"
	want := "libvirt-pki v1.2.3 commit 0123456789ab built 2026-01-02T03:04:05Z " + runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if code := run(args, nil, &out, &errOut); code != exitOK || out.String() != want || errOut.Len() > 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q", args, code, out.String(), errOut.String(), want)
		}
	}
}
