package reload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// A monitor sends QMP commands to one running QEMU: directly over its
// QMP socket (a bare QEMU, as the console tests run it), or through
// libvirt (virsh qemu-monitor-command) for a libvirt domain.
type monitor interface {
	// Name is how reports name the guest.
	Name() string
	// Command runs one QMP command (a JSON object) and returns its
	// "return" value, or QEMU's own error message.
	Command(ctx context.Context, cmd string) (json.RawMessage, error)
	Close()
}

// maxQMPLine bounds one QMP message.
const maxQMPLine = 1 << 20

// qmpSocket is a QMP connection to a bare QEMU's socket.
type qmpSocket struct {
	path string
	conn net.Conn
	r    *bufio.Reader
}

// dialQMP connects to the QMP socket at path and leaves the greeting's
// capability negotiation done.
func dialQMP(ctx context.Context, path string) (*qmpSocket, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	q := &qmpSocket{path: path, conn: conn, r: bufio.NewReaderSize(io.LimitReader(conn, 64<<20), 4096)}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := q.readMessage(); err != nil { // the greeting
		conn.Close()
		return nil, fmt.Errorf("QMP greeting: %v", err)
	}
	if _, err := q.Command(ctx, `{"execute":"qmp_capabilities"}`); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmpSocket) Name() string { return q.path }
func (q *qmpSocket) Close()       { q.conn.Close() }

// qmpReply is a QMP message: a return, an error or an event.
type qmpReply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
}

func (q *qmpSocket) readMessage() ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := q.r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxQMPLine {
			return nil, fmt.Errorf("QMP message longer than %d bytes", maxQMPLine)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// Command sends cmd and reads replies until its answer, skipping events.
func (q *qmpSocket) Command(ctx context.Context, cmd string) (json.RawMessage, error) {
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetDeadline(dl)
	} else {
		q.conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if _, err := io.WriteString(q.conn, cmd+"\n"); err != nil {
		return nil, err
	}
	for {
		line, err := q.readMessage()
		if err != nil {
			return nil, err
		}
		ret, done, err := parseReply(line)
		if done {
			return ret, err
		}
	}
}

// parseReply reads one QMP message: done is false for an event.
func parseReply(line []byte) (json.RawMessage, bool, error) {
	var rep qmpReply
	if err := json.Unmarshal(line, &rep); err != nil {
		return nil, true, fmt.Errorf("not a QMP reply: %v", err)
	}
	switch {
	case rep.Error != nil:
		return nil, true, fmt.Errorf("%s", untrusted.Clean(rep.Error.Desc, untrusted.MaxText))
	case rep.Event != "":
		return nil, false, nil
	}
	return rep.Return, true, nil
}

// virshMonitor reaches a libvirt domain's QEMU through
// `virsh qemu-monitor-command` (libvirt 9.0 has no domdisplay-reload).
type virshMonitor struct {
	virsh, uri, domain string
}

func (v *virshMonitor) Name() string { return v.domain }
func (v *virshMonitor) Close()       {}

func (v *virshMonitor) Command(ctx context.Context, cmd string) (json.RawMessage, error) {
	out, err := runTool(ctx, v.virsh, "-c", v.uri, "qemu-monitor-command", v.domain, cmd)
	if err != nil {
		return nil, err
	}
	ret, _, err := parseReply(bytes.TrimSpace(out))
	return ret, err
}

// toolTimeout bounds one virt-admin or virsh run.
const toolTimeout = 2 * time.Minute

// runTool runs a program (virt-admin, virsh) and returns its output, or
// an error holding its own message.
func runTool(ctx context.Context, prog string, args ...string) ([]byte, error) {
	// A hung daemon must not hang the reload.
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
		return out, fmt.Errorf("%s: %s", err, untrusted.Clean(msg, untrusted.MaxText))
	}
	return out, nil
}
