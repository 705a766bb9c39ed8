package certmonger

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// BusEnv names the environment variable that points libvirt-pki's
// getcert calls at certmonger on the session bus ("session") instead of
// the system bus a host's certmonger listens on: for tests, which run
// their own certmonger on a private bus.
const BusEnv = "LIBVIRT_PKI_CERTMONGER_BUS"

// Client runs getcert against one certmonger.
type Client struct {
	// Getcert is the program (default: getcert on PATH).
	Getcert string
	// Session talks to certmonger on the session bus (getcert -s).
	Session bool
}

// ClientFromEnv is the client for this host: the system bus, or the
// session bus when BusEnv says "session".
func ClientFromEnv() Client { return Client{Session: os.Getenv(BusEnv) == "session"} }

// ErrNotInstalled is getcert missing from PATH.
var ErrNotInstalled = errors.New("certmonger is not installed (getcert is not on PATH): install it (apt-get install certmonger, or dnf install certmonger) and start it (systemctl enable --now certmonger)")

// ErrNotRunning is a certmonger getcert cannot reach.
var ErrNotRunning = errors.New("certmonger is not running (getcert cannot reach it on the D-Bus system bus): start it with systemctl enable --now certmonger")

// run runs getcert with args, the bus option after the subcommand.
func (c Client) run(sub string, args ...string) (string, error) {
	bin := c.Getcert
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("getcert"); err != nil {
			return "", ErrNotInstalled
		}
	}
	bus := "-S"
	if c.Session {
		bus = "-s"
	}
	cmd := exec.Command(bin, append([]string{sub, bus}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(errOut.String()+" "+out.String()), " ")
		if strings.Contains(msg, "D-Bus") || strings.Contains(msg, "certmonger service has been started") {
			return "", fmt.Errorf("%w (getcert %s: %s)", ErrNotRunning, sub, msg)
		}
		return out.String(), fmt.Errorf("getcert %s: %v: %s", sub, err, msg)
	}
	return out.String(), nil
}

// Ping checks that getcert is installed and certmonger answers.
func (c Client) Ping() error {
	_, err := c.run("list-cas")
	return err
}

// Tracked is one request as getcert list shows it.
type Tracked struct {
	ID, Status, CAError string
	Stuck               bool
	KeyFile, CertFile   string
	CA, Issuer, Subject string
	Profile, PostSave   string
	// Expires is the certificate's end (zero: none issued yet).
	Expires   time.Time
	AutoRenew bool
}

// List returns every request certmonger tracks.
func (c Client) List() ([]Tracked, error) {
	out, err := c.run("list", "-u")
	if err != nil {
		return nil, err
	}
	return parseList(out), nil
}

// parseList reads getcert list's text: a "Request ID 'X':" line, then
// tab-indented "key: value" lines.
func parseList(out string) []Tracked {
	var all []Tracked
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "Request ID '"); ok {
			all = append(all, Tracked{ID: strings.TrimSuffix(id, "':")})
			continue
		}
		key, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok || len(all) == 0 || !strings.HasPrefix(line, "\t") {
			continue
		}
		all[len(all)-1].set(key, value)
	}
	return all
}

func (t *Tracked) set(key, value string) {
	switch key {
	case "status":
		t.Status = value
	case "ca-error":
		t.CAError = value
	case "stuck":
		t.Stuck = value == "yes"
	case "key pair storage":
		t.KeyFile = location(value)
	case "certificate":
		t.CertFile = location(value)
	case "CA":
		t.CA = value
	case "issuer":
		t.Issuer = value
	case "subject":
		t.Subject = value
	case "profile":
		t.Profile = value
	case "post-save command":
		t.PostSave = value
	case "auto-renew":
		t.AutoRenew = value == "yes"
	case "expires":
		t.Expires, _ = time.Parse("2006-01-02 15:04:05 MST", value)
	}
}

// location is the file of "type=FILE,location='/path'".
func location(storage string) string {
	_, loc, ok := strings.Cut(storage, "location='")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(loc, "'")
}

// HasCA reports whether certmonger knows a CA named name, and the
// helper command line it runs for it.
func (c Client) HasCA(name string) (helper string, ok bool, err error) {
	out, err := c.run("list-cas", "-c", name)
	if err != nil {
		return "", false, err
	}
	for _, line := range strings.Split(out, "\n") {
		if h, found := strings.CutPrefix(strings.TrimSpace(line), "helper-location: "); found {
			return h, true, nil
		}
	}
	return "", strings.Contains(out, "CA '"+name+"'"), nil
}

// Do runs one getcert command line (Request.Args, AddCA's), the bus
// option added.
func (c Client) Do(args []string) error {
	_, err := c.run(args[0], args[1:]...)
	return err
}

// StopTracking stops tracking request id; its files stay.
func (c Client) StopTracking(id string) error {
	_, err := c.run("stop-tracking", "-i", id)
	return err
}

// Resubmit asks for a new certificate for request id now.
func (c Client) Resubmit(id string) error {
	_, err := c.run("resubmit", "-i", id)
	return err
}

// RemoveCA forgets the CA named name.
func (c Client) RemoveCA(name string) error {
	_, err := c.run("remove-ca", "-c", name)
	return err
}
