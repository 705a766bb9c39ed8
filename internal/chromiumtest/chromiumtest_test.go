package chromiumtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The harness can fail: a page that fetches an image, logs an error and
// throws is reported as such, and one whose policy forbids the fetch
// reports the violation; a quiet page reports nothing.
func TestLoadSeesRequestsConsoleAndViolations(t *testing.T) {
	dir := t.TempDir()
	write := func(name, html string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noisy := write("noisy.html", `<!DOCTYPE html><html><head><title>noisy</title></head><body>
<img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); document.title = "ran"; throw new Error("thrown")</script></body></html>`)
	p := Load(t, noisy, 400, 300)
	if len(p.Requests) == 0 || !strings.Contains(p.Requests[0], "127.0.0.1:9") {
		t.Errorf("requests %q: want the image's", p.Requests)
	}
	if c := strings.Join(p.Console, "\n"); !strings.Contains(c, "boom") || !strings.Contains(c, "thrown") {
		t.Errorf("console %q: want the error and the exception", p.Console)
	}
	if p.Title != "ran" || !bytes.HasPrefix(p.Screenshot, []byte("\x89PNG")) {
		t.Errorf("title %q, screenshot %d bytes: want the script's title and a PNG", p.Title, len(p.Screenshot))
	}

	strict := write("strict.html", `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<title>strict</title></head><body><img src="http://127.0.0.1:9/x.png"></body></html>`)
	p = Load(t, strict, 400, 300)
	if c := strings.Join(p.Console, "\n"); !strings.Contains(c, "Content Security Policy") {
		t.Errorf("console %q: want the policy violation", p.Console)
	}

	quiet := write("quiet.html", `<!DOCTYPE html><html><head><title>quiet</title></head><body><p>hello</p></body></html>`)
	p = Load(t, quiet, 400, 300)
	if len(p.Console) != 0 || len(p.Requests) != 0 || !strings.Contains(p.DOM, "<p>hello</p>") || p.LoadMillis <= 0 {
		t.Errorf("quiet page: console %q, requests %q, load %v ms, DOM %q", p.Console, p.Requests, p.LoadMillis, p.DOM)
	}
}

// TestLoadFile loads the page named by $CHROMIUM_LOAD_FILE, for the
// bench and docs scripts (bench/report.sh, docs/report-screenshot.sh):
// it logs the load time and what the page logged or fetched, and writes
// the screenshot to $CHROMIUM_SHOT ($CHROMIUM_SIZE, WxH, default
// 1280x1800), with the CSS media type $CHROMIUM_MEDIA ("print"). Skipped
// without the variable.
func TestLoadFile(t *testing.T) {
	file := os.Getenv("CHROMIUM_LOAD_FILE")
	if file == "" {
		t.Skip("CHROMIUM_LOAD_FILE not set")
	}
	w, h := 1280, 1800
	if size := os.Getenv("CHROMIUM_SIZE"); size != "" {
		if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil {
			t.Fatalf("CHROMIUM_SIZE %q: want WxH", size)
		}
	}
	p := LoadWith(t, file, w, h, Options{Media: os.Getenv("CHROMIUM_MEDIA")})
	t.Logf("load event end %.0f ms; DOM %d bytes; %d console messages, %d requests", p.LoadMillis, len(p.DOM), len(p.Console), len(p.Requests))
	if len(p.Console) > 0 || len(p.Requests) > 0 {
		t.Errorf("console %q, requests %q", p.Console, p.Requests)
	}
	if shot := os.Getenv("CHROMIUM_SHOT"); shot != "" {
		if err := os.WriteFile(shot, p.Screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
