package sasl

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

var secretShape = regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`)

func TestNewSCRAMSecretRoundTrip(t *testing.T) {
	s, err := NewSCRAMSecret("pencil", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !secretShape.MatchString(s) {
		t.Fatalf("secret %q", s)
	}
	if ok, err := VerifySCRAMSecret(s, "pencil"); !ok || err != nil {
		t.Fatalf("verify right password: %v %v", ok, err)
	}
	for _, wrong := range []string{"pencil ", "Pencil", "", "pencil1"} {
		if ok, err := VerifySCRAMSecret(s, wrong); ok || err != nil {
			t.Fatalf("verify %q: %v %v", wrong, ok, err)
		}
	}
	s2, _ := NewSCRAMSecret("pencil", 0)
	if s2 == s {
		t.Fatal("two secrets share a salt")
	}
	s3, err := NewSCRAMSecret("pencil", MaxSCRAMIterations)
	if err != nil || !strings.HasPrefix(s3, "SCRAM-SHA-256$65536:") {
		t.Fatalf("%q %v", s3, err)
	}
	if ok, _ := VerifySCRAMSecret(s3, "pencil"); !ok {
		t.Fatal("65536 iterations do not verify")
	}
}

func TestNewSCRAMSecretRefuses(t *testing.T) {
	for _, it := range []int{-1, 1, 4095, 65537, 1 << 30} {
		if _, err := NewSCRAMSecret("pw", it); err == nil {
			t.Errorf("iterations %d accepted", it)
		}
	}
	for _, pw := range []string{"", "a\x00b"} {
		if _, err := NewSCRAMSecret(pw, 0); err == nil {
			t.Errorf("password %q accepted", pw)
		}
	}
}

func TestVerifySCRAMSecretMalformed(t *testing.T) {
	good, _ := NewSCRAMSecret("pw", 0)
	parts := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$`).FindStringSubmatch(good)
	salt, stored, server := parts[2], parts[3], parts[4]
	short := base64.StdEncoding.EncodeToString(make([]byte, 20))
	for _, s := range []string{
		"",
		"SCRAM-SHA-1$4096:" + salt + "$" + stored + ":" + server,
		"SCRAM-SHA-256$" + "4096:" + salt + stored + ":" + server,
		"SCRAM-SHA-256$x:" + salt + "$" + stored + ":" + server,
		"SCRAM-SHA-256$0:" + salt + "$" + stored + ":" + server,
		"SCRAM-SHA-256$+4096:" + salt + "$" + stored + ":" + server,
		"SCRAM-SHA-256$65537:" + salt + "$" + stored + ":" + server,
		"SCRAM-SHA-256$4096" + salt + "$" + stored + ":" + server,
		"SCRAM-SHA-256$4096:$" + stored + ":" + server,
		"SCRAM-SHA-256$4096:!!$" + stored + ":" + server,
		"SCRAM-SHA-256$4096:" + salt + "$" + stored + server,
		"SCRAM-SHA-256$4096:" + salt + "$" + short + ":" + server,
		"SCRAM-SHA-256$4096:" + salt + "$" + stored + ":" + short,
		"SCRAM-SHA-256$4096:" + salt + "$" + stored + ":" + server + " ",
	} {
		if _, err := VerifySCRAMSecret(s, "pw"); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
	// A secret whose ServerKey was damaged is reported, not just "false".
	bad := "SCRAM-SHA-256$4096:" + salt + "$" + stored + ":" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	if ok, err := VerifySCRAMSecret(bad, "pw"); ok || err == nil {
		t.Errorf("inconsistent secret: %v %v", ok, err)
	}
}

// TestSCRAMSecretRFC7677 checks the key derivation against the example
// exchange in RFC 7677 section 3 (user "user", password "pencil"): from the
// salt and iteration count it derives StoredKey/ServerKey, then plays the
// server's part, recovering ClientKey from the RFC's client proof and
// checking the RFC's server signature.
func TestSCRAMSecretRFC7677(t *testing.T) {
	const (
		clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
		serverFirst     = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		clientFinalBare = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		proofB64        = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		serverSigB64    = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	stored, server, err := scramKeys("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	secret := fmt.Sprintf("SCRAM-SHA-256$4096:%s$%s:%s", b64(salt), b64(stored), b64(server))
	if ok, err := VerifySCRAMSecret(secret, "pencil"); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}

	authMessage := clientFirstBare + "," + serverFirst + "," + clientFinalBare
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	proof, _ := base64.StdEncoding.DecodeString(proofB64)
	sig := mac(stored, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if h := sha256.Sum256(clientKey); !hmac.Equal(h[:], stored) {
		t.Fatal("RFC 7677 client proof does not match our StoredKey")
	}
	if got := b64(mac(server, authMessage)); got != serverSigB64 {
		t.Fatalf("server signature %s, RFC says %s", got, serverSigB64)
	}
}

// TestSCRAMSecretMatchesSaslpasswd2 has the real saslpasswd2 (Cyrus SASL)
// write an authPassword and checks that VerifySCRAMSecret accepts it for the
// right password only, and that NewSCRAMSecret produces the same shape.
func TestSCRAMSecretMatchesSaslpasswd2(t *testing.T) {
	progs := peer.Require(t, "saslpasswd2", "db5.3_dump")
	saslpasswd2, dump := progs[0], progs[1]
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	// saslpasswd2 -a libvirt reads <SASL_CONF_PATH>/libvirt.conf; Cyrus
	// writes authPassword only when asked to.
	if err := os.WriteFile(filepath.Join(conf, "libvirt.conf"), append(SASLConf([]string{"scram-sha-256"}, filepath.Join(dir, "unused.db")), "scram_secret_generate: yes\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "passwd.db")
	const pw = "S3cr3t pass\\word"
	cmd := exec.Command(saslpasswd2, "-p", "-c", "-f", db, "-a", "libvirt", "-u", "realm", "nova")
	cmd.Env = append(os.Environ(), "SASL_CONF_PATH="+conf)
	cmd.Stdin = strings.NewReader(pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("saslpasswd2: %v\n%s", err, out)
	}
	out, err := exec.Command(dump, "-p", db).Output()
	if err != nil {
		t.Fatalf("db5.3_dump: %v", err)
	}
	recs, err := parseDBDump(string(out))
	if err != nil {
		t.Fatal(err)
	}
	secret, ok := recs["nova\x00realm\x00authPassword"]
	if !ok {
		t.Fatalf("saslpasswd2 wrote no authPassword; records: %q", recs)
	}
	if got := recs["nova\x00realm\x00userPassword"]; got != pw {
		t.Fatalf("userPassword %q", got)
	}
	if !secretShape.MatchString(secret) {
		t.Fatalf("Cyrus secret %q has an unexpected shape", secret)
	}
	if ok, err := VerifySCRAMSecret(secret, pw); !ok || err != nil {
		t.Fatalf("Cyrus secret %q does not verify: %v %v", secret, ok, err)
	}
	if ok, err := VerifySCRAMSecret(secret, "wrong"); ok || err != nil {
		t.Fatalf("Cyrus secret verifies a wrong password: %v %v", ok, err)
	}
	mine, _ := NewSCRAMSecret(pw, 0)
	if !secretShape.MatchString(mine) {
		t.Fatalf("our secret %q differs in shape from Cyrus's %q", mine, secret)
	}
}

// TestSCRAMSecretAcceptedByCyrusServer stores only our authPassword (no
// userPassword) in a Berkeley DB sasldb and logs in with SCRAM-SHA-256
// against Cyrus's own server (sasl-sample-server, libsasl2's SCRAM plugin),
// with an independent client (xdg-go/scram): the right password is
// accepted, a wrong one refused.
func TestSCRAMSecretAcceptedByCyrusServer(t *testing.T) {
	progs := peer.Require(t, "db5.3_load", "sasl-sample-server", "stdbuf")
	load, server, stdbuf := progs[0], progs[1], progs[2]
	dir := t.TempDir()
	const pw = "Zx9kQ2mP7vLr4TnB8cWd1FhJ6sYg3AeU5oKi0qNj"
	secret, err := NewSCRAMSecret(pw, 0)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "passwd.db")
	in := "VERSION=3\nformat=print\ntype=hash\nHEADER=END\n" +
		" " + dbPrintEscape("nova\x00realm\x00authPassword") + "\n" +
		" " + dbPrintEscape(secret) + "\nDATA=END\n"
	cmd := exec.Command(load, db)
	cmd.Stdin = strings.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db5.3_load: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	// sasl-sample-server initialises libsasl2 as application "sample".
	if err := os.WriteFile(filepath.Join(conf, "sample.conf"), SASLConf([]string{MechSCRAMSHA256}, db), 0o644); err != nil {
		t.Fatal(err)
	}
	login := func(password string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
		defer cancel()
		// stdbuf: the sample server printf()s to a pipe and would otherwise
		// hold its challenge in the stdio buffer.
		cmd := exec.CommandContext(ctx, stdbuf, "-oL", server, "-m", MechSCRAMSHA256, "-u", "realm", "-s", "libvirt")
		cmd.Env = append(os.Environ(), "SASL_CONF_PATH="+conf)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return "", err
		}
		// fail reaps the server and returns its complaint.
		fail := func(stage string) error {
			stdin.Close()
			_ = cmd.Wait()
			return fmt.Errorf("%s: %s", stage, stderr.String())
		}
		lines := bufio.NewScanner(stdout)
		var transcript strings.Builder
		next := func() ([]byte, bool) {
			for lines.Scan() {
				transcript.WriteString(lines.Text() + "\n")
				if s, ok := strings.CutPrefix(lines.Text(), "S: "); ok {
					b, err := base64.StdEncoding.DecodeString(s)
					return b, err == nil
				}
			}
			return nil, false
		}
		send := func(b string) {
			fmt.Fprintf(stdin, "C: %s\n", base64.StdEncoding.EncodeToString([]byte(b)))
		}
		if _, ok := next(); !ok { // mechanism list
			return "", fail("no mechanism list")
		}
		c, err := scram.SHA256.NewClient("nova", password, "")
		if err != nil {
			return "", err
		}
		conv := c.NewConversation()
		first, _ := conv.Step("")
		send(MechSCRAMSHA256 + "\x00" + first)
		challenge, ok := next()
		if !ok {
			return "", fail("client-first refused")
		}
		final, err := conv.Step(string(challenge))
		if err != nil {
			return "", err
		}
		send(final)
		serverFinal, ok := next()
		if !ok {
			return "", fail("client-final refused")
		}
		// The client checks the server's signature, made with our ServerKey.
		if _, err := conv.Step(string(serverFinal)); err != nil || !conv.Valid() {
			_ = fail("")
			return "", fmt.Errorf("server signature rejected by the client: %v", err)
		}
		send("") // Cyrus's sample server waits for an empty final reply
		for lines.Scan() {
			transcript.WriteString(lines.Text() + "\n")
			if strings.HasPrefix(lines.Text(), "SSF:") {
				break // logged in; what follows is a security-layer demo
			}
		}
		stdin.Close()
		_ = cmd.Wait()
		if !strings.Contains(transcript.String(), "Negotiation complete") {
			return transcript.String(), fmt.Errorf("no login: %s\n%s", stderr.String(), transcript.String())
		}
		return transcript.String(), nil
	}
	out, err := login(pw)
	if err != nil {
		t.Fatalf("Cyrus refused our secret with the right password: %v", err)
	}
	if !strings.Contains(out, "Negotiation complete") || !strings.Contains(out, "Username: nova") {
		t.Fatalf("unexpected server output:\n%s", out)
	}
	if _, err := login(pw + "x"); err == nil || !strings.Contains(err.Error(), "authentication failure") {
		t.Fatalf("wrong password: %v", err)
	}
}

// parseDBDump reads the key/value pairs of `db_dump -p` output, undoing its
// escapes (\\ for a backslash, \hh for other unprintable bytes).
func parseDBDump(out string) (map[string]string, error) {
	_, body, ok := strings.Cut(out, "HEADER=END\n")
	if !ok {
		return nil, fmt.Errorf("no HEADER=END in dump:\n%s", out)
	}
	body, _, ok = strings.Cut(body, "DATA=END")
	if !ok {
		return nil, fmt.Errorf("no DATA=END in dump:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines)%2 != 0 {
		return nil, fmt.Errorf("odd number of data lines in dump")
	}
	recs := map[string]string{}
	for i := 0; i < len(lines); i += 2 {
		k, err := dbPrintUnescape(lines[i])
		if err != nil {
			return nil, err
		}
		v, err := dbPrintUnescape(lines[i+1])
		if err != nil {
			return nil, err
		}
		recs[k] = v
	}
	return recs, nil
}

func dbPrintUnescape(l string) (string, error) {
	l, ok := strings.CutPrefix(l, " ")
	if !ok {
		return "", fmt.Errorf("dump line %q does not start with a space", l)
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		if l[i] != '\\' {
			b.WriteByte(l[i])
			continue
		}
		if i+1 < len(l) && l[i+1] == '\\' {
			b.WriteByte('\\')
			i++
			continue
		}
		if i+2 >= len(l) {
			return "", fmt.Errorf("truncated escape in %q", l)
		}
		n, err := strconv.ParseUint(l[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", l)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

func dbPrintEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\%02x`, c)
		}
	}
	return b.String()
}

func TestDBPrintEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a\x00b\\c\xff", `\\`, "SCRAM-SHA-256$4096:x=="} {
		got, err := dbPrintUnescape(" " + dbPrintEscape(s))
		if err != nil || got != s {
			t.Errorf("%q -> %q %v", s, got, err)
		}
	}
}
