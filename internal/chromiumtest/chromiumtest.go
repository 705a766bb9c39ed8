// Package chromiumtest loads a page in Debian's headless Chromium and
// reports what a person's browser would see: the DOM after scripts ran,
// every console message and exception, every network request the page
// attempted, its load time and a screenshot at a fixed size.
//
// It speaks the DevTools protocol over --remote-debugging-pipe (JSON
// messages ended by NUL on the child's fds 3 and 4): no port, no
// WebSocket, no dependency. Outside CI a missing chromium skips the test;
// with CI=true it fails (internal/peer).
package chromiumtest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// Page is what loading a file showed.
type Page struct {
	URL string
	// DOM is document.documentElement.outerHTML after the load event.
	DOM   string
	Title string
	// Console holds console messages, exceptions and browser log
	// entries (a Content-Security-Policy violation is one), as
	// "level: text".
	Console []string
	// Requests are the URLs the page asked for, the page itself left
	// out.
	Requests []string
	// LoadMillis is the navigation's load event end, from its start.
	LoadMillis float64
	Screenshot []byte // PNG, Width x Height
	// Evals are the values of Options.Evals, as strings.
	Evals []string
}

// Options change how a page is loaded.
type Options struct {
	// Media emulates a CSS media type ("print"), "" for the screen.
	Media string
	// Evals are JavaScript expressions evaluated after the load event.
	Evals []string
}

// Flags are the ones every run uses: no sandbox (tests run as root), no
// GPU, and nothing of Chromium's own that talks to the network.
var Flags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
	"--disable-extensions", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"}

// Load opens path (a local file) in a fresh Chromium at width x height
// and returns what it saw. Any protocol failure ends the test.
func Load(t testing.TB, path string, width, height int) Page {
	t.Helper()
	return LoadWith(t, path, width, height, Options{})
}

// LoadWith is Load with options.
func LoadWith(t testing.TB, path string, width, height int, o Options) Page {
	t.Helper()
	bin := peer.Require(t, "chromium")[0]
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, bin)
	defer b.close()
	p, err := b.load((&url.URL{Scheme: "file", Path: abs}).String(), width, height, o)
	if err != nil {
		t.Fatalf("chromium: %v\nstderr: %s", err, b.stderr.String())
	}
	return p
}

// browser is one Chromium and its pipe.
type browser struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     *os.File // our end of its fd 3
	out    *bufio.Reader
	outF   *os.File
	stderr lockedBuffer
	nextID int
	// events seen while waiting for replies, in order.
	events []message
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func start(t testing.TB, bin string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string(nil), Flags...), "--user-data-dir="+t.TempDir(), "about:blank")
	b := &browser{t: t, in: cmdW, out: bufio.NewReaderSize(outR, 1<<20), outF: outR}
	b.cmd = exec.Command(bin, args...)
	b.cmd.ExtraFiles = []*os.File{cmdR, outW} // fds 3 and 4
	b.cmd.Stderr = &b.stderr
	b.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	outW.Close()
	return b
}

// close asks Chromium to quit, then makes sure it did.
func (b *browser) close() {
	done := make(chan struct{})
	go func() {
		b.send("", "Browser.close", nil) //nolint:errcheck // it may be gone already
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	b.in.Close()
	exited := make(chan struct{})
	go func() { b.cmd.Wait(); close(exited) }() //nolint:errcheck // exit status of a closed browser
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-exited
	}
	b.outF.Close()
}

// send writes one command and reads until its reply, keeping events.
func (b *browser) send(session, method string, params any) (json.RawMessage, error) {
	b.nextID++
	id := b.nextID
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("%s: %v", method, err)
	}
	for {
		m, err := b.read()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", method, err)
		}
		if m.ID == id {
			if m.Error != nil {
				return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
			}
			return m.Result, nil
		}
		if m.Method != "" {
			b.events = append(b.events, m)
		}
	}
}

func (b *browser) read() (message, error) {
	line, err := b.out.ReadBytes(0)
	if err != nil {
		return message{}, err
	}
	var m message
	err = json.Unmarshal(line[:len(line)-1], &m)
	return m, err
}

// waitEvent reads until an event named method arrives for session.
func (b *browser) waitEvent(session, method string, timeout time.Duration) error {
	for _, e := range b.events {
		if e.Method == method && e.SessionID == session {
			return nil
		}
	}
	timer := time.AfterFunc(timeout, func() { b.cmd.Process.Kill() })
	defer timer.Stop()
	for {
		m, err := b.read()
		if err != nil {
			return fmt.Errorf("waiting for %s: %v", method, err)
		}
		if m.Method != "" {
			b.events = append(b.events, m)
		}
		if m.Method == method && m.SessionID == session {
			return nil
		}
	}
}

// lockedBuffer is Chromium's stderr, written while we read the pipe.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// decodePNG is a screenshot's data.
func decodePNG(res json.RawMessage) ([]byte, error) {
	var shot struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(res, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}
