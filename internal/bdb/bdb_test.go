package bdb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// ---- helpers -------------------------------------------------------------

func sasldbKey(user, realm, prop string) []byte {
	return []byte(user + "\x00" + realm + "\x00" + prop)
}

func sortPairs(ps []Pair) []Pair {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b Pair) int { return bytes.Compare(a.Key, b.Key) })
	return out
}

// samePairs fails unless got and want hold the same records (any order).
func samePairs(t testing.TB, what string, got, want []Pair) {
	t.Helper()
	g, w := sortPairs(got), sortPairs(want)
	if len(g) != len(w) {
		t.Fatalf("%s: got %d pairs, want %d", what, len(g), len(w))
	}
	for i := range g {
		if !bytes.Equal(g[i].Key, w[i].Key) {
			t.Fatalf("%s: pair %d: key %q, want %q", what, i, short(g[i].Key), short(w[i].Key))
		}
		if !bytes.Equal(g[i].Value, w[i].Value) {
			t.Fatalf("%s: key %q: value of %d bytes %q, want %d bytes %q", what, short(g[i].Key),
				len(g[i].Value), short(g[i].Value), len(w[i].Value), short(w[i].Value))
		}
	}
}

func short(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// decodeSame fails unless Decode reads data back as the records of want.
func decodeSame(t testing.TB, what string, data []byte, want []Pair) {
	t.Helper()
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("%s: Decode: %v", what, err)
	}
	samePairs(t, what, got, want)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tmpDir prefers tmpfs: saslpasswd2 and db5.3_load fdatasync after every
// write, which costs ~100ms a call on a real disk.
func tmpDir(t testing.TB) string {
	t.Helper()
	if d, err := os.MkdirTemp("/dev/shm", "bdbtest"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run executes a peer tool with a deadline, so that a tool looping on a
// bad file fails the test instead of hanging it.
func run(t testing.TB, stdin string, prog string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func tool(t testing.TB, name string) string {
	t.Helper()
	return peer.Require(t, name)[0]
}

// dbVerify runs db5.3_verify -q, which must exit 0 and print nothing:
// libdb reports a mis-sorted hash page only as a message, not an exit code.
func dbVerify(t testing.TB, path string) {
	t.Helper()
	out, errOut, err := run(t, "", tool(t, "db5.3_verify"), "-q", path)
	if err != nil || out != "" || errOut != "" {
		t.Fatalf("db5.3_verify -q %s: %v\nstdout: %s\nstderr: %.2000s", path, err, out, errOut)
	}
}

// dbDump returns the records db5.3_dump -p prints.
func dbDump(t testing.TB, path string) []Pair {
	t.Helper()
	out, errOut, err := run(t, "", tool(t, "db5.3_dump"), "-p", path)
	if err != nil {
		t.Fatalf("db5.3_dump -p %s: %v: %s", path, err, errOut)
	}
	ps, err := parsePrintDump(out)
	if err != nil {
		t.Fatalf("parsing db5.3_dump -p output: %v", err)
	}
	return ps
}

// parsePrintDump parses db_dump's "format=print" text: one line per key or
// value, prefixed by a space, printable bytes as-is, "\\" for a backslash
// and "\hh" for anything else.
func parsePrintDump(s string) ([]Pair, error) {
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 64<<20)
	inData := false
	var items [][]byte
	for sc.Scan() {
		line := sc.Text()
		if !inData {
			if line == "HEADER=END" {
				inData = true
			}
			continue
		}
		if line == "DATA=END" {
			break
		}
		if !strings.HasPrefix(line, " ") {
			return nil, fmt.Errorf("unexpected dump line %q", line)
		}
		line = line[1:]
		var b []byte
		for i := 0; i < len(line); i++ {
			if line[i] != '\\' {
				b = append(b, line[i])
				continue
			}
			if i+1 < len(line) && line[i+1] == '\\' {
				b = append(b, '\\')
				i++
				continue
			}
			if i+2 >= len(line) {
				return nil, fmt.Errorf("bad escape in %q", line)
			}
			v, err := strconv.ParseUint(line[i+1:i+3], 16, 8)
			if err != nil {
				return nil, err
			}
			b = append(b, byte(v))
			i += 2
		}
		items = append(items, b)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(items)%2 != 0 {
		return nil, fmt.Errorf("odd number of dump lines (%d)", len(items))
	}
	var ps []Pair
	for i := 0; i < len(items); i += 2 {
		ps = append(ps, Pair{Key: items[i], Value: items[i+1]})
	}
	return ps, nil
}

// byteDump renders pairs in db_dump's "format=bytevalue" for db5.3_load.
func byteDump(ps []Pair) string {
	var b strings.Builder
	b.WriteString("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n")
	for _, p := range ps {
		b.WriteString(" " + hex.EncodeToString(p.Key) + "\n")
		b.WriteString(" " + hex.EncodeToString(p.Value) + "\n")
	}
	b.WriteString("DATA=END\n")
	return b.String()
}

// dbLoad builds a database with the real libdb from pairs.
func dbLoad(t testing.TB, dir, name string, ps []Pair, opts ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	dump := writeFile(t, dir, name+".dump", []byte(byteDump(ps)))
	args := []string{"-t", "hash"}
	for _, o := range opts {
		args = append(args, "-c", o)
	}
	args = append(args, "-f", dump, path)
	if _, errOut, err := run(t, "", tool(t, "db5.3_load"), args...); err != nil {
		t.Fatalf("db5.3_load %v: %v: %s", args, err, errOut)
	}
	return path
}

// dbLookupAll proves that libdb finds every key of pairs in path by hash
// lookup: db5.3_load -n (no overwrite) must refuse each one as existing,
// and must leave the file unchanged.
func dbLookupAll(t testing.TB, dir, path string, ps []Pair) {
	t.Helper()
	before := readFile(t, path)
	dump := writeFile(t, dir, "lookup.dump", []byte(byteDump(ps)))
	_, errOut, _ := run(t, "", tool(t, "db5.3_load"), "-n", "-f", dump, path)
	if n := strings.Count(errOut, "key already exists"); n != len(ps) {
		t.Fatalf("db5.3_load -n found %d of %d keys as existing; stderr: %.1000s", n, len(ps), errOut)
	}
	after := readFile(t, path)
	if !bytes.Equal(before, after) {
		t.Fatalf("db5.3_load -n modified the file although every key exists")
	}
}

// layout counts bucket-chain pages (P_HASH pages with a predecessor) and
// overflow pages in a little-endian file, to prove a test exercises them.
func layout(data []byte) (chainPages, overflowPages int) {
	for off := encodePageSize; off+encodePageSize <= len(data); off += encodePageSize {
		p := data[off:]
		switch p[pageTypeOffset] {
		case pHash:
			if binary.LittleEndian.Uint32(p[offPrevPgno:]) != 0 {
				chainPages++
			}
		case pOverflow:
			overflowPages++
		}
	}
	return
}

func manySasldbPairs(n int) []Pair {
	var ps []Pair
	for i := 0; i < n; i++ {
		ps = append(ps, Pair{
			Key:   sasldbKey(fmt.Sprintf("user%05d", i), "realm", "userPassword"),
			Value: []byte(fmt.Sprintf("secret-%d-%x", i, i*7919)),
		})
	}
	return ps
}

// ---- pure Go tests ---------------------------------------------------------

func TestHashFunction(t *testing.T) {
	// libdb stores hash(CHARKEY) in every meta page; ours must agree.
	if got := hashKey([]byte(charKey)); got != charKeyHash {
		t.Fatalf("hash(CHARKEY) = %#x, want %#x", got, charKeyHash)
	}
	if got := hashKey(nil); got != 0 {
		t.Fatalf("hash(empty) = %#x, want 0", got)
	}
}

func TestPairLess(t *testing.T) {
	// libdb's on-page order: bytewise, and a longer key before its prefix.
	cases := []struct {
		a, b string
		less bool
	}{
		{"a", "b", true},
		{"b", "a", false},
		{"abc", "ab", true},
		{"ab", "abc", false},
		{"", "a", false},
		{"a", "", true},
		{"ab", "b", true},
	}
	for _, c := range cases {
		if got := pairLess([]byte(c.a), []byte(c.b)); got != c.less {
			t.Errorf("pairLess(%q, %q) = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}

func TestSniff(t *testing.T) {
	good, err := Encode([]Pair{{Key: []byte("k"), Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	if !Sniff(good) {
		t.Error("Sniff(Encode(...)) = false")
	}
	be := make([]byte, 16)
	binary.BigEndian.PutUint32(be[12:], hashMagic)
	if !Sniff(be) {
		t.Error("Sniff(big-endian magic) = false")
	}
	for _, bad := range [][]byte{nil, good[:15], make([]byte, 4096), []byte("this is not a database at all")} {
		if Sniff(bad) {
			t.Errorf("Sniff(%q...) = true", short(bad))
		}
	}
	bt := make([]byte, 4096)
	binary.LittleEndian.PutUint32(bt[12:], btreeMagic)
	if Sniff(bt) {
		t.Error("Sniff(btree) = true")
	}
}

func TestEncodeDeterministic(t *testing.T) {
	ps := manySasldbPairs(300)
	a, err := Encode(ps)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(ps)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b, err := Encode(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("Encode output depends on input order")
	}
	c, _ := Encode(ps[1:])
	if bytes.Equal(a[offUID:offUID+uidLen], c[offUID:offUID+uidLen]) {
		t.Fatal("different content got the same file id")
	}
}

func TestEncodeErrors(t *testing.T) {
	_, err := Encode([]Pair{{Key: []byte("k"), Value: []byte("1")}, {Key: []byte("k"), Value: []byte("2")}})
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("duplicate keys: err = %v", err)
	}
	// Large but untouched: make zero-fills lazily, so this costs no RAM.
	huge := make([]byte, MaxItemSize+1)
	_, err = Encode([]Pair{{Key: []byte("k"), Value: huge}})
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("huge value: err = %v", err)
	}
	_, err = Encode([]Pair{{Key: huge, Value: nil}})
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("huge key: err = %v", err)
	}
}

func TestEncodeEmpty(t *testing.T) {
	data, err := Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil || len(got) != 0 {
		t.Fatalf("Decode(Encode(nil)) = %v, %v", got, err)
	}
}

// randomPairs makes a random set: mostly sasldb-sized records, sometimes
// empty, prefix-sharing, near the 1024-byte on-page limit or off-page.
func randomPairs(r *rand.Rand, n int) []Pair {
	size := func() int {
		switch r.Intn(20) {
		case 0:
			return 0
		case 1:
			return 1020 + r.Intn(10) // around the on-page limit
		case 2:
			return 1025 + r.Intn(9000) // off-page
		default:
			return 1 + r.Intn(60)
		}
	}
	seen := map[string]bool{}
	var ps []Pair
	for len(ps) < n {
		k := make([]byte, size())
		r.Read(k)
		if r.Intn(4) == 0 && len(ps) > 0 {
			// a prefix or extension of an earlier key exercises the order
			prev := ps[r.Intn(len(ps))].Key
			k = append(slices.Clone(prev[:r.Intn(len(prev)+1)]), k[:min(len(k), 3)]...)
		}
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		v := make([]byte, size())
		r.Read(v)
		ps = append(ps, Pair{Key: k, Value: v})
	}
	return ps
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewSource(20240601))
	for iter := 0; iter < 150; iter++ {
		n := r.Intn(300)
		if iter%25 == 0 {
			n = 2000 + r.Intn(1000)
		}
		ps := randomPairs(r, n)
		var buckets uint32
		if iter%3 == 0 {
			buckets = 2 << r.Intn(3) // force long chains
		}
		data, err := encode(ps, buckets)
		if err != nil {
			t.Fatalf("iter %d: encode: %v", iter, err)
		}
		decodeSame(t, fmt.Sprintf("iter %d", iter), data, ps)
	}
}

// corrupt returns a copy of data modified by f.
func corrupt(data []byte, f func(b []byte) []byte) []byte {
	return f(slices.Clone(data))
}

func TestDecodeCorrupt(t *testing.T) {
	ps := []Pair{
		{Key: sasldbKey("nova", "realm", "userPassword"), Value: []byte("pw")},
		{Key: []byte("big"), Value: bytes.Repeat([]byte("x"), 9000)},
	}
	for i := 0; i < 1000; i++ {
		ps = append(ps, Pair{Key: []byte(fmt.Sprintf("key%d", i)), Value: []byte("value")})
	}
	good, err := encode(ps, 2)
	if err != nil {
		t.Fatal(err)
	}
	chain, ovfl := layout(good)
	if chain == 0 || ovfl == 0 {
		t.Fatalf("fixture lacks chains (%d) or overflow pages (%d)", chain, ovfl)
	}
	const P = encodePageSize
	le32 := binary.LittleEndian.PutUint32
	le16 := binary.LittleEndian.PutUint16
	// find the first overflow page and the first chain page
	var ovPage, chainPage int
	for off := P; off < len(good); off += P {
		if good[off+pageTypeOffset] == pOverflow && ovPage == 0 {
			ovPage = off / P
		}
		if good[off+pageTypeOffset] == pHash && binary.LittleEndian.Uint32(good[off+offPrevPgno:]) != 0 && chainPage == 0 {
			chainPage = off / P
		}
	}

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"zero length", nil, "empty input"},
		{"tiny", []byte{1, 2, 3}, "truncated"},
		{"bad magic", corrupt(good, func(b []byte) []byte { le32(b[12:], 0x12345678); return b }), "bad magic"},
		{"text", []byte(strings.Repeat("hello world ", 100)), "bad magic"},
		{"btree", corrupt(good, func(b []byte) []byte { le32(b[12:], btreeMagic); return b }), "btree"},
		{"meta only", good[:P], "truncated: meta page says"},
		{"truncated", good[:2*P], "truncated: meta page says"},
		{"short meta", good[:100], "truncated"},
		{"bad version", corrupt(good, func(b []byte) []byte { le32(b[offVersion:], 3); return b }), "version"},
		{"bad page size", corrupt(good, func(b []byte) []byte { le32(b[offPageSize:], 1000); return b }), "page size"},
		{"huge last_pgno", corrupt(good, func(b []byte) []byte { le32(b[offLastPgno:], 0xffffffff); return b }), "truncated"},
		{"huge max_bucket", corrupt(good, func(b []byte) []byte { le32(b[offMaxBucket:], 0xfffffff0); return b }), "max_bucket"},
		{"bad spares", corrupt(good, func(b []byte) []byte { le32(b[offSpares:], 100000); return b }), "outside the database"},
		{"zero spares", corrupt(good, func(b []byte) []byte { le32(b[offSpares:], 0); return b }), "outside the database"},
		{"encrypted", corrupt(good, func(b []byte) []byte { b[offEncrypt] = 1; return b }), "encrypted"},
		{"checksummed", corrupt(good, func(b []byte) []byte { b[offMetaFlags] = 1; return b }), "checksummed"},
		{"dups", corrupt(good, func(b []byte) []byte { le32(b[offFlags:], flagHashDup); return b }), "duplicate keys"},
		{"subdb", corrupt(good, func(b []byte) []byte { le32(b[offFlags:], flagHashSubDB); return b }), "subdatabases"},
		{"item offset beyond page", corrupt(good, func(b []byte) []byte { le16(b[P+pageHeaderSize:], 5000); return b }), "item offset 5000 beyond page size 4096"},
		{"item out of order", corrupt(good, func(b []byte) []byte { le16(b[P+pageHeaderSize+2:], 4095); return b }), "out of order"},
		{"item over index", corrupt(good, func(b []byte) []byte { le16(b[P+pageHeaderSize:], 10); return b }), "overlaps"},
		{"odd entries", corrupt(good, func(b []byte) []byte { le16(b[P+offEntries:], 3); return b }), "odd number"},
		{"too many entries", corrupt(good, func(b []byte) []byte { le16(b[P+offEntries:], 4000); return b }), "do not fit"},
		{"bad item type", corrupt(good, func(b []byte) []byte {
			off := binary.LittleEndian.Uint16(b[P+pageHeaderSize:])
			b[P+int(off)] = 9
			return b
		}), "unknown type 9"},
		{"duplicate item", corrupt(good, func(b []byte) []byte {
			off := binary.LittleEndian.Uint16(b[P+pageHeaderSize+2:])
			b[P+int(off)] = hDuplicate
			return b
		}), "duplicate values"},
		{"bucket page wrong type", corrupt(good, func(b []byte) []byte { b[P+pageTypeOffset] = pBtreeMeta; return b }), "type 9"},
		{"bucket page wrong pgno", corrupt(good, func(b []byte) []byte { le32(b[P+offPgno:], 77); return b }), "header says"},
		{"chain cycle", corrupt(good, func(b []byte) []byte { le32(b[chainPage*P+offNextPgno:], uint32(chainPage)); return b }), "referenced twice"},
		{"chain beyond file", corrupt(good, func(b []byte) []byte { le32(b[chainPage*P+offNextPgno:], 0xfffffff); return b }), "outside the database"},
		{"overflow cycle", corrupt(good, func(b []byte) []byte { le32(b[ovPage*P+offNextPgno:], uint32(ovPage)); return b }), "referenced twice"},
		{"overflow wrong type", corrupt(good, func(b []byte) []byte { b[ovPage*P+pageTypeOffset] = pHash; return b }), "overflow page has type"},
		{"overflow too long", corrupt(good, func(b []byte) []byte { le16(b[ovPage*P+offHFOffset:], 4090); return b }), "overflow length"},
		{"overflow short", corrupt(good, func(b []byte) []byte { le16(b[ovPage*P+offHFOffset:], 10); return b }), "item declares"},
		{"garbage pages", corrupt(good, func(b []byte) []byte {
			r := rand.New(rand.NewSource(7))
			r.Read(b[P:])
			return b
		}), "bdb: "},
		{"other-endian meta", corrupt(good, func(b []byte) []byte {
			// byte-swap every meta word: a big-endian reading of LE pages
			for o := 0; o < metaFieldsEnd; o += 4 {
				if o == offEncrypt {
					continue // the byte fields stay as they are
				}
				v := binary.LittleEndian.Uint32(b[o:])
				binary.BigEndian.PutUint32(b[o:], v)
			}
			return b
		}), "bdb: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.data)
			if err == nil {
				t.Fatalf("Decode succeeded with %d pairs, want error containing %q", len(got), c.want)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "bdb: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line starting with \"bdb: \"", msg)
			}
			if !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not mention %q", msg, c.want)
			}
		})
	}
	// Two records whose keys become equal: Keys must be unique in the output.
	two, err := Encode([]Pair{{Key: []byte("dupA"), Value: []byte("1")}, {Key: []byte("dupB"), Value: []byte("2")}})
	if err != nil {
		t.Fatal(err)
	}
	two = bytes.Replace(two, []byte("dupB"), []byte("dupA"), 1)
	if _, err := Decode(two); err == nil || !strings.Contains(err.Error(), "duplicate key \"dupA\"") {
		t.Fatalf("duplicate key: err = %v", err)
	}
}

// TestDecodeHolePage: libdb never writes bucket pages nothing hashed to, so
// they read back as zeros; Decode must take them as empty buckets.
func TestDecodeHolePage(t *testing.T) {
	ps := []Pair{{Key: sasldbKey("nova", "realm", "userPassword"), Value: []byte("pw")}}
	data, err := encode(ps, 4)
	if err != nil {
		t.Fatal(err)
	}
	holes := 0
	for pg := 1; pg <= 4; pg++ {
		p := data[pg*encodePageSize : (pg+1)*encodePageSize]
		if binary.LittleEndian.Uint16(p[offEntries:]) == 0 {
			clear(p)
			holes++
		}
	}
	if holes != 3 {
		t.Fatalf("expected 3 empty buckets, found %d", holes)
	}
	decodeSame(t, "with holes", data, ps)
}

// TestDecodeMutations flips random bytes of valid files: Decode must never
// panic, and whatever it accepts must survive a round trip.
func TestDecodeMutations(t *testing.T) {
	r := rand.New(rand.NewSource(99))
	seeds := fuzzSeeds(t)
	for i := 0; i < 3000; i++ {
		data := slices.Clone(seeds[r.Intn(len(seeds))])
		for n := 1 + r.Intn(8); n > 0; n-- {
			if r.Intn(3) == 0 {
				// hit the headers and index, where the structure lives
				pg := r.Intn(len(data) / encodePageSize)
				data[pg*encodePageSize+r.Intn(64)] = byte(r.Intn(256))
			} else {
				data[r.Intn(len(data))] = byte(r.Intn(256))
			}
		}
		checkDecodeProperty(t, data)
	}
}

func checkDecodeProperty(t *testing.T, data []byte) {
	t.Helper()
	ps, err := Decode(data)
	if err != nil {
		if msg := err.Error(); !strings.HasPrefix(msg, "bdb: ") || strings.Contains(msg, "\n") {
			t.Fatalf("bad error message %q", msg)
		}
		return
	}
	again, err := Encode(ps)
	if err != nil {
		t.Fatalf("re-encoding %d decoded pairs: %v", len(ps), err)
	}
	back, err := Decode(again)
	if err != nil {
		t.Fatalf("decoding re-encoded file: %v", err)
	}
	samePairs(t, "re-encode round trip", back, ps)
}

func fuzzSeeds(t testing.TB) [][]byte {
	sets := [][]Pair{
		nil,
		{{Key: sasldbKey("nova", "realm", "userPassword"), Value: []byte("pw")}},
		{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("ab"), Value: []byte("2")}, {Key: []byte("abc"), Value: nil}, {Key: nil, Value: []byte("empty key")}},
		{{Key: []byte("big"), Value: bytes.Repeat([]byte("v"), 5000)}, {Key: bytes.Repeat([]byte("K"), 1500), Value: []byte("bigkey")}},
		manySasldbPairs(150),
	}
	var out [][]byte
	for i, ps := range sets {
		buckets := uint32(0)
		if i == len(sets)-1 {
			buckets = 2 // chains
		}
		data, err := encode(ps, buckets)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeProperty(t, data)
	})
}

// ---- against the real Berkeley DB tools ------------------------------------

func TestEncodeAgainstDBTools(t *testing.T) {
	tool(t, "db5.3_verify")
	tool(t, "db5.3_dump")
	tool(t, "db5.3_load")
	five := []Pair{
		{Key: sasldbKey("nova", "realm", "userPassword"), Value: []byte("pw")},
		{Key: sasldbKey("nova", "realm", "authPassword"), Value: []byte("SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5")},
		{Key: sasldbKey("glance", "example.org", "userPassword"), Value: []byte("p\\w\x00\xff")},
		{Key: []byte("a"), Value: []byte("prefix 1")},
		{Key: []byte("ab"), Value: []byte("prefix 2")},
	}
	var limits []Pair
	limits = append(limits,
		Pair{Key: []byte("value-1024"), Value: bytes.Repeat([]byte("v"), bigItem)},   // largest on-page value
		Pair{Key: []byte("value-1025"), Value: bytes.Repeat([]byte("w"), bigItem+1)}, // smallest off-page value
		Pair{Key: []byte("value-100k"), Value: bytes.Repeat([]byte("0123456789"), 10000)},
		Pair{Key: bytes.Repeat([]byte("k"), bigItem), Value: []byte("largest on-page key")},
		Pair{Key: bytes.Repeat([]byte("k"), bigItem+1), Value: []byte("smallest off-page key")},
		Pair{Key: bytes.Repeat([]byte("K"), 5000), Value: bytes.Repeat([]byte("x"), 9000)},
		Pair{Key: nil, Value: []byte("empty key")},
		Pair{Key: []byte("empty value"), Value: nil},
	)
	for i := 1; i <= 30; i++ {
		// prefix chains land in shared buckets and test the page order
		limits = append(limits, Pair{Key: bytes.Repeat([]byte("p"), i), Value: []byte{byte(i)}})
	}
	cases := []struct {
		name      string
		pairs     []Pair
		buckets   uint32
		wantChain bool
		wantOvfl  bool
	}{
		{name: "one record", pairs: five[:1]},
		{name: "five records", pairs: five},
		{name: "2500 records", pairs: manySasldbPairs(2500)},
		{name: "2500 records in 4 buckets", pairs: manySasldbPairs(2500), buckets: 4, wantChain: true},
		{name: "size limits", pairs: limits, wantOvfl: true},
		{name: "size limits in 2 buckets", pairs: limits, buckets: 2, wantChain: true, wantOvfl: true},
		{name: "random", pairs: randomPairs(rand.New(rand.NewSource(5)), 1500), wantOvfl: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := encode(c.pairs, c.buckets)
			if err != nil {
				t.Fatal(err)
			}
			chain, ovfl := layout(data)
			if c.wantChain && chain == 0 {
				t.Fatal("expected bucket chain pages, found none")
			}
			if c.wantOvfl && ovfl == 0 {
				t.Fatal("expected overflow pages, found none")
			}
			t.Logf("%d pages, %d chain pages, %d overflow pages", len(data)/encodePageSize, chain, ovfl)
			dir := tmpDir(t)
			path := writeFile(t, dir, "enc.db", data)
			dbVerify(t, path)
			samePairs(t, "db5.3_dump -p", dbDump(t, path), c.pairs)
			dbLookupAll(t, dir, path, c.pairs)
			decodeSame(t, "Decode", data, c.pairs)
		})
	}
}

func TestDecodeDBLoadFiles(t *testing.T) {
	tool(t, "db5.3_load")
	r := rand.New(rand.NewSource(42))
	random := randomPairs(r, 3000)
	many := manySasldbPairs(5000)
	cases := []struct {
		name  string
		pairs []Pair
		opts  []string
	}{
		{"5000 sasldb records", many, nil},
		{"5000 records, fill factor 4 (many splits)", many, []string{"h_ffactor=4"}},
		{"random with off-page items", random, nil},
		{"random, 512-byte pages", random, []string{"db_pagesize=512"}},
		{"random, 65536-byte pages", random, []string{"db_pagesize=65536"}},
		{"random, big-endian", random, []string{"db_lorder=4321"}},
		{"sasldb, big-endian, 1024-byte pages", many, []string{"db_lorder=4321", "db_pagesize=1024"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tmpDir(t)
			path := dbLoad(t, dir, "load.db", c.pairs, c.opts...)
			data := readFile(t, path)
			if !Sniff(data) {
				t.Fatal("Sniff = false on a db5.3_load file")
			}
			decodeSame(t, "Decode", data, c.pairs)
		})
	}
}

func TestSasldbWeWriteToolsRead(t *testing.T) {
	list := tool(t, "sasldblistusers2")
	passwd := tool(t, "saslpasswd2")
	tool(t, "db5.3_verify")
	dir := tmpDir(t)
	ps := []Pair{{Key: sasldbKey("nova", "realm", "userPassword"), Value: []byte("novapw")}}
	data, err := Encode(ps)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "passwd.db", data)
	out, errOut, err := run(t, "", list, "-f", path)
	if err != nil || out != "nova@realm: userPassword\n" {
		t.Fatalf("sasldblistusers2: %v\nstdout: %q\nstderr: %s", err, out, errOut)
	}
	if _, errOut, err := run(t, "otherpw\n", passwd, "-p", "-c", "-f", path, "-u", "realm", "other"); err != nil {
		t.Fatalf("saslpasswd2 adding a user to our file: %v: %s", err, errOut)
	}
	dbVerify(t, path)
	data = readFile(t, path)
	decodeSame(t, "after saslpasswd2 -c", data, append(ps, Pair{Key: sasldbKey("other", "realm", "userPassword"), Value: []byte("otherpw")}))
	out, _, err = run(t, "", list, "-f", path)
	if err != nil || out != "nova@realm: userPassword\nother@realm: userPassword\n" {
		t.Fatalf("sasldblistusers2 after adding: %v: %q", err, out)
	}
}

// TestSasldbBigFileEdits lets the real libdb insert into and delete from a
// large file we wrote: inserts must land in sorted pages and split buckets,
// deletes must find their keys by hash lookup.
func TestSasldbBigFileEdits(t *testing.T) {
	list := tool(t, "sasldblistusers2")
	passwd := tool(t, "saslpasswd2")
	tool(t, "db5.3_verify")
	dir := tmpDir(t)
	// Fill each of 8 buckets to a single page with less free space than
	// one more user needs: libdb's first insert must then add a page and
	// split a bucket, on top of our layout.
	const addSize = 4 + 1 + len("added00\x00realm\x00userPassword") + 1 + len("pw-added00")
	var ps []Pair
	var free [8]int
	for b := range free {
		free[b] = encodePageSize - pageHeaderSize
	}
	for i := 0; i < 100000; i++ {
		p := Pair{Key: sasldbKey(fmt.Sprintf("u%d", i), "realm", "userPassword"), Value: []byte(fmt.Sprintf("s%d", i))}
		size := 4 + 1 + len(p.Key) + 1 + len(p.Value)
		b := hashKey(p.Key) & 7
		if free[b] >= size {
			ps = append(ps, p)
			free[b] -= size
		}
	}
	for b, f := range free {
		if f >= addSize {
			t.Fatalf("could not fill bucket %d (%d bytes free)", b, f)
		}
	}
	n := len(ps)
	data, err := encode(ps, 8)
	if err != nil {
		t.Fatal(err)
	}
	if chain, _ := layout(data); chain != 0 || len(data) != 9*encodePageSize {
		t.Fatalf("fixture should have one page per bucket, got %d pages", len(data)/encodePageSize)
	}
	path := writeFile(t, dir, "big.db", data)
	out, _, err := run(t, "", list, "-f", path)
	if err != nil || strings.Count(out, "@realm: userPassword\n") != n {
		t.Fatalf("sasldblistusers2 on %d users: %v (%d lines)", n, err, strings.Count(out, "\n"))
	}
	want := map[string]string{}
	for _, p := range ps {
		want[string(p.Key)] = string(p.Value)
	}
	for i := 0; i < 100; i++ {
		user := fmt.Sprintf("added%02d", i)
		if _, errOut, err := run(t, "pw-"+user+"\n", passwd, "-p", "-c", "-f", path, "-u", "realm", user); err != nil {
			t.Fatalf("saslpasswd2 -c %s: %v: %s", user, err, errOut)
		}
		want[string(sasldbKey(user, "realm", "userPassword"))] = "pw-" + user
	}
	for i := 0; i < n; i += 37 {
		user := fmt.Sprintf("u%d", i)
		if _, errOut, err := run(t, "", passwd, "-d", "-f", path, "-u", "realm", user); err != nil {
			t.Fatalf("saslpasswd2 -d %s: %v: %s", user, err, errOut)
		}
		delete(want, string(sasldbKey(user, "realm", "userPassword")))
	}
	dbVerify(t, path)
	data = readFile(t, path)
	// libdb must have grown the table (split buckets) inside our layout.
	if mb := binary.LittleEndian.Uint32(data[offMaxBucket:]); mb <= 7 {
		t.Fatalf("libdb did not split any bucket (max_bucket %d)", mb)
	} else {
		t.Logf("%d users; after libdb's edits: %d buckets, %d pages", n, mb+1, len(data)/encodePageSize)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var wantPairs []Pair
	for k, v := range want {
		wantPairs = append(wantPairs, Pair{Key: []byte(k), Value: []byte(v)})
	}
	samePairs(t, "after libdb edits", got, wantPairs)
}

func TestDecodeSaslpasswd2Files(t *testing.T) {
	passwd := tool(t, "saslpasswd2")
	dir := tmpDir(t)

	one := filepath.Join(dir, "one.db")
	if _, errOut, err := run(t, "pw\n", passwd, "-p", "-c", "-f", one, "-u", "realm", "nova"); err != nil {
		t.Fatalf("saslpasswd2: %v: %s", err, errOut)
	}
	data := readFile(t, one)
	if !Sniff(data) {
		t.Fatal("Sniff = false on a saslpasswd2 file")
	}
	decodeSame(t, "one user", data, []Pair{{Key: sasldbKey("nova", "realm", "userPassword"), Value: []byte("pw")}})
	if !bytes.Equal(data[encodePageSize:2*encodePageSize], make([]byte, encodePageSize)) {
		t.Log("note: saslpasswd2 wrote bucket page 1; the never-written-page case was not exercised here")
	}

	// 520 users, one saslpasswd2 call each, so libdb splits buckets the way
	// it does in the field (new doublings, never-written bucket pages).
	many := filepath.Join(dir, "many.db")
	var want []Pair
	for i := 0; i < 520; i++ {
		user := fmt.Sprintf("u%03d-%s", i, strings.Repeat("x", i%23))
		realm := []string{"realm", "example.org", "host1"}[i%3]
		pw := fmt.Sprintf("pw%d", i*31)
		if _, errOut, err := run(t, pw+"\n", passwd, "-p", "-c", "-f", many, "-u", realm, user); err != nil {
			t.Fatalf("saslpasswd2 user %d: %v: %s", i, err, errOut)
		}
		want = append(want, Pair{Key: sasldbKey(user, realm, "userPassword"), Value: []byte(pw)})
	}
	data = readFile(t, many)
	decodeSame(t, "520 users", data, want)
	t.Logf("saslpasswd2 file: %d bytes, %d buckets", len(data), binary.LittleEndian.Uint32(data[offMaxBucket:])+1)
}

// ---- benchmarks ------------------------------------------------------------

func BenchmarkEncode(b *testing.B) {
	ps := manySasldbPairs(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(ps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data, err := Encode(manySasldbPairs(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
