package bdb

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// Decode parses a whole Berkeley DB hash file and returns every pair,
// sorted by key.
//
// It reads both byte orders, page sizes from 512 to 65536 bytes, hash
// versions 8 and 9, off-page (overflow) keys and values, bucket chains and
// never-written (all-zero) bucket pages. Every offset is bounds-checked,
// each page may be visited once only (so cycles are errors, not hangs) and
// allocations are bounded by the input size. Duplicate-key databases,
// subdatabases, checksummed, encrypted or partitioned files are refused.
func Decode(data []byte) ([]Pair, error) {
	if len(data) == 0 {
		return nil, errf("empty input (0 bytes)")
	}
	if len(data) < offMagic+4 {
		return nil, errf("truncated: %d bytes is too short for a Berkeley DB meta page", len(data))
	}
	var bo binary.ByteOrder
	switch m := data[offMagic : offMagic+4]; {
	case binary.LittleEndian.Uint32(m) == hashMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(m) == hashMagic:
		bo = binary.BigEndian
	default:
		for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			switch o.Uint32(m) {
			case btreeMagic:
				return nil, errf("Berkeley DB btree file, not a hash file")
			case queueMagic:
				return nil, errf("Berkeley DB queue file, not a hash file")
			case heapMagic:
				return nil, errf("Berkeley DB heap file, not a hash file")
			}
		}
		return nil, errf("not a Berkeley DB hash file (bad magic)")
	}
	if len(data) < metaFieldsEnd {
		return nil, errf("truncated: %d bytes is too short for a hash meta page", len(data))
	}
	d := &decoder{data: data, bo: bo}
	if err := d.readMeta(); err != nil {
		return nil, err
	}
	return d.readBuckets()
}

type decoder struct {
	data     []byte
	bo       binary.ByteOrder
	pageSize int
	lastPgno uint32
	visited  []bool // per page: already part of some bucket or item
}

func (d *decoder) readMeta() error {
	m, bo := d.data, d.bo
	if v := bo.Uint32(m[offVersion:]); v != hashVersion && v != 8 {
		return errf("unsupported hash version %d (want 9)", v)
	}
	ps := bo.Uint32(m[offPageSize:])
	if ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return errf("bad page size %d in meta page", ps)
	}
	d.pageSize = int(ps)
	if t := m[offType]; t != pHashMeta {
		return errf("meta page has type %d, want %d (hash meta)", t, pHashMeta)
	}
	if bo.Uint32(m[offPgno:]) != 0 {
		return errf("meta page claims to be page %d", bo.Uint32(m[offPgno:]))
	}
	if m[offEncrypt] != 0 {
		return errf("encrypted database is not supported")
	}
	if f := m[offMetaFlags]; f != 0 {
		if f&0x01 != 0 {
			return errf("checksummed database is not supported")
		}
		return errf("partitioned database (meta flags %#x) is not supported", f)
	}
	if bo.Uint32(m[offNparts:]) != 0 {
		return errf("partitioned database is not supported")
	}
	flags := bo.Uint32(m[offFlags:])
	if flags&(flagHashDup|flagHashDupSort) != 0 {
		return errf("database with duplicate keys is not supported")
	}
	if flags&flagHashSubDB != 0 {
		return errf("database with subdatabases is not supported")
	}
	d.lastPgno = bo.Uint32(m[offLastPgno:])
	want := uint64(d.lastPgno) + 1
	have := uint64(len(d.data) / d.pageSize)
	if want > have {
		return errf("truncated: meta page says %d pages, file has %d", want, have)
	}
	d.visited = make([]bool, want)
	d.visited[0] = true
	return nil
}

// page returns page n, which the caller has checked is <= lastPgno.
func (d *decoder) page(n uint32) []byte {
	off := int(n) * d.pageSize
	return d.data[off : off+d.pageSize]
}

// visit marks page n as used, refusing pages outside the file and pages
// reached twice (a cycle, or two chains sharing a page).
func (d *decoder) visit(n uint32, from string) error {
	if n == 0 || n > d.lastPgno {
		return errf("%s: page number %d outside the database (last page %d)", from, n, d.lastPgno)
	}
	if d.visited[n] {
		return errf("%s: page %d is referenced twice (corrupt chain or cycle)", from, n)
	}
	d.visited[n] = true
	return nil
}

func (d *decoder) readBuckets() ([]Pair, error) {
	m, bo := d.data, d.bo
	maxBucket := bo.Uint32(m[offMaxBucket:])
	// Every bucket needs its own first page, so more buckets than pages is
	// corrupt; this also bounds the loop below by the file size.
	if maxBucket >= d.lastPgno {
		return nil, errf("meta page: max_bucket %d impossible with last page %d", maxBucket, d.lastPgno)
	}
	var spares [nCached]uint32
	for i := range spares {
		spares[i] = bo.Uint32(m[offSpares+4*i:])
	}
	var pairs []Pair
	seen := make(map[string]struct{})
	for b := uint32(0); b <= maxBucket; b++ {
		sp := ceilLog2(uint64(b) + 1)
		if sp >= nCached {
			return nil, errf("meta page: bucket %d beyond the spares table", b)
		}
		pg := uint64(b) + uint64(spares[sp])
		if spares[sp] == 0 || pg > uint64(d.lastPgno) {
			return nil, errf("meta page: bucket %d maps to page %d, outside the database (last page %d)", b, pg, d.lastPgno)
		}
		var err error
		pairs, err = d.readBucket(b, uint32(pg), pairs, seen)
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(pairs, func(a, b Pair) int { return bytes.Compare(a.Key, b.Key) })
	return pairs, nil
}

func (d *decoder) readBucket(b, pg uint32, pairs []Pair, seen map[string]struct{}) ([]Pair, error) {
	bo := d.bo
	first := true
	for pg != 0 {
		if err := d.visit(pg, "bucket "+itoa(b)); err != nil {
			return nil, err
		}
		p := d.page(pg)
		typ := p[pageTypeOffset]
		// libdb never writes bucket pages nothing hashed to; such holes
		// read back as zeros and mean an empty bucket.
		if first && typ == pInvalid && bo.Uint16(p[offEntries:]) == 0 {
			return pairs, nil
		}
		first = false
		if typ != pHash && typ != pHashUnsorted {
			return nil, errf("page %d: bucket %d page has type %d, want %d (hash)", pg, b, typ, pHash)
		}
		if n := bo.Uint32(p[offPgno:]); n != pg {
			return nil, errf("page %d: header says it is page %d", pg, n)
		}
		var err error
		pairs, err = d.readHashPage(pg, p, pairs, seen)
		if err != nil {
			return nil, err
		}
		pg = bo.Uint32(p[offNextPgno:])
	}
	return pairs, nil
}

func (d *decoder) readHashPage(pg uint32, p []byte, pairs []Pair, seen map[string]struct{}) ([]Pair, error) {
	bo := d.bo
	n := int(bo.Uint16(p[offEntries:]))
	if n%2 != 0 {
		return nil, errf("page %d: odd number of items (%d) on a hash page", pg, n)
	}
	indexEnd := pageHeaderSize + 2*n
	if indexEnd > d.pageSize {
		return nil, errf("page %d: %d items do not fit a %d-byte page", pg, n, d.pageSize)
	}
	// Items are packed downward in index order; each one ends where the
	// previous one starts (the first ends at the page end).
	himark := d.pageSize
	var key []byte
	for i := 0; i < n; i++ {
		off := int(bo.Uint16(p[pageHeaderSize+2*i:]))
		switch {
		case off >= d.pageSize:
			return nil, errf("page %d: item offset %d beyond page size %d", pg, off, d.pageSize)
		case off >= himark:
			return nil, errf("page %d: item %d at offset %d is out of order", pg, i, off)
		case off < indexEnd:
			return nil, errf("page %d: item %d at offset %d overlaps the item index", pg, i, off)
		}
		item := p[off:himark]
		himark = off
		val, err := d.readItem(pg, i, item)
		if err != nil {
			return nil, err
		}
		if i%2 == 0 {
			key = val
			continue
		}
		if _, dup := seen[string(key)]; dup {
			return nil, errf("page %d: duplicate key %q", pg, shortKey(key))
		}
		seen[string(key)] = struct{}{}
		pairs = append(pairs, Pair{Key: key, Value: val})
	}
	return pairs, nil
}

// readItem returns a copy of the bytes of one hash item.
func (d *decoder) readItem(pg uint32, i int, item []byte) ([]byte, error) {
	what := "data"
	if i%2 == 0 {
		what = "key"
	}
	switch item[0] {
	case hKeyData:
		return bytes.Clone(item[1:len(item):len(item)]), nil
	case hOffPage:
		if len(item) < hOffPageSize {
			return nil, errf("page %d: off-page %s item %d is %d bytes, want %d", pg, what, i, len(item), hOffPageSize)
		}
		return d.readOverflow(pg, i, d.bo.Uint32(item[4:]), d.bo.Uint32(item[8:]))
	case hDuplicate, hOffDup:
		return nil, errf("page %d: item %d holds duplicate values, which are not supported", pg, i)
	default:
		return nil, errf("page %d: %s item %d has unknown type %d", pg, what, i, item[0])
	}
}

// readOverflow collects an off-page item from its P_OVERFLOW chain.
func (d *decoder) readOverflow(pg uint32, i int, start, tlen uint32) ([]byte, error) {
	from := "page " + itoa(pg) + ": off-page item " + itoa(uint32(i))
	space := d.pageSize - pageHeaderSize
	// The chain can hold at most the unvisited pages' worth of bytes, so a
	// larger claimed length is corrupt; checking it caps the allocation.
	if uint64(tlen) > uint64(d.lastPgno)*uint64(space) {
		return nil, errf("%s: length %d larger than the whole database", from, tlen)
	}
	out := make([]byte, 0, min(int(tlen), len(d.data)))
	for n := start; ; {
		if err := d.visit(n, from); err != nil {
			return nil, err
		}
		p := d.page(n)
		if t := p[pageTypeOffset]; t != pOverflow {
			return nil, errf("page %d: overflow page has type %d, want %d", n, t, pOverflow)
		}
		l := int(d.bo.Uint16(p[offHFOffset:]))
		if l > space {
			return nil, errf("page %d: overflow length %d exceeds the %d bytes a %d-byte page holds", n, l, space, d.pageSize)
		}
		if uint64(len(out))+uint64(l) > uint64(tlen) {
			return nil, errf("%s: overflow chain holds more than the %d bytes the item declares", from, tlen)
		}
		out = append(out, p[pageHeaderSize:pageHeaderSize+l]...)
		n = d.bo.Uint32(p[offNextPgno:])
		if n == 0 {
			break
		}
	}
	if uint64(len(out)) != uint64(tlen) {
		return nil, errf("%s: overflow chain holds %d bytes, item declares %d", from, len(out), tlen)
	}
	return out, nil
}

func itoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
