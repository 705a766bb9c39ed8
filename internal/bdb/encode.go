package bdb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

const (
	// encodePageSize is what sasldb gets on Debian (libdb's default for a
	// 4 KiB-block filesystem).
	encodePageSize = 4096

	// bigItem: items longer than pagesize/4 go to overflow pages (libdb's
	// ISBIG), so that at least a few pairs always fit on a bucket page.
	bigItem = encodePageSize / 4

	// MaxItemSize is the largest key or value Encode accepts. The format
	// allows up to 4 GiB per item; this cap only keeps memory bounded.
	MaxItemSize = 1 << 28

	// targetFill is the fraction of a bucket page Encode aims to use when
	// it sizes the table, leaving room for later inserts by libdb.
	targetFillNum, targetFillDen = 1, 2
)

// le is the byte order Encode writes (native order on the machines that
// run sasldb; libdb records it implicitly via the magic number).
var le = binary.LittleEndian

// Encode returns a complete, valid Berkeley DB hash v9 file (native
// little-endian, 4096-byte pages, DB_HASH, no environment) holding pairs.
//
// The output is deterministic: pairs may come in any order, and the 20-byte
// file id is derived from a hash of the content rather than from the
// device and inode as libdb does. Keys must be unique. Keys and values
// longer than 1024 bytes are stored on overflow pages; neither may exceed
// MaxItemSize.
func Encode(pairs []Pair) ([]byte, error) {
	return encode(pairs, 0)
}

type encPair struct {
	key, val []byte
	bigKey   bool
	size     int // bytes the pair takes on a bucket page, index included
}

// pageBuf is one bucket page under construction.
type pageBuf struct {
	pgno  uint32
	buf   []byte
	nent  int
	hoff  int // lowest used item offset (libdb's hf_offset)
	prev  uint32
	next  uint32
	ptype byte
}

type encoder struct {
	pages []*pageBuf
}

func (e *encoder) newPage(ptype byte) *pageBuf {
	p := &pageBuf{
		pgno:  uint32(len(e.pages)),
		buf:   make([]byte, encodePageSize),
		hoff:  encodePageSize,
		ptype: ptype,
	}
	e.pages = append(e.pages, p)
	return p
}

// addPair places key and data items on p if they fit. Items are packed
// downward from the end of the page in index order, because libdb computes
// an item's length as the distance to the previous item's offset.
func (p *pageBuf) addPair(key, data []byte) bool {
	need := len(key) + len(data) + 4
	free := p.hoff - (pageHeaderSize + 2*p.nent)
	if need > free {
		return false
	}
	for _, item := range [][]byte{key, data} {
		p.hoff -= len(item)
		copy(p.buf[p.hoff:], item)
		le.PutUint16(p.buf[pageHeaderSize+2*p.nent:], uint16(p.hoff))
		p.nent++
	}
	return true
}

// putUnloggedLSN writes LSN {0,1}, libdb's "not logged" mark for pages
// written without an environment, which is how saslpasswd2 writes them too.
func putUnloggedLSN(h []byte) {
	le.PutUint32(h[offLSN:], 0)
	le.PutUint32(h[offLSN+4:], 1)
}

// finish writes p's page header from its fields.
func (p *pageBuf) finish() {
	h := p.buf
	putUnloggedLSN(h)
	le.PutUint32(h[offPgno:], p.pgno)
	le.PutUint32(h[offPrevPgno:], p.prev)
	le.PutUint32(h[offNextPgno:], p.next)
	le.PutUint16(h[offEntries:], uint16(p.nent))
	le.PutUint16(h[offHFOffset:], uint16(p.hoff))
	h[offLevel] = 0
	h[pageTypeOffset] = p.ptype
}

// putOverflow writes b to a fresh chain of P_OVERFLOW pages and returns the
// 12-byte H_OFFPAGE item that refers to it.
func (e *encoder) putOverflow(b []byte) []byte {
	const space = encodePageSize - pageHeaderSize
	var first, last *pageBuf
	for off := 0; off < len(b); off += space {
		chunk := b[off:min(off+space, len(b))]
		p := e.newPage(pOverflow)
		copy(p.buf[pageHeaderSize:], chunk)
		// On overflow pages hf_offset holds the bytes used (OV_LEN) and
		// entries the reference count (OV_REF), always 1 for hash.
		p.hoff = len(chunk)
		p.nent = 1
		if last == nil {
			first = p
		} else {
			last.next = p.pgno
			p.prev = last.pgno
		}
		last = p
	}
	item := make([]byte, hOffPageSize)
	item[0] = hOffPage
	le.PutUint32(item[4:], first.pgno)
	le.PutUint32(item[8:], uint32(len(b)))
	return item
}

func keyData(b []byte) []byte {
	item := make([]byte, 1+len(b))
	item[0] = hKeyData
	copy(item[1:], b)
	return item
}

// encode is Encode with an optional forced bucket count (a power of two,
// 0 = choose), which tests use to force long bucket chains.
func encode(pairs []Pair, forceBuckets uint32) ([]byte, error) {
	ps, total, err := sortedEncPairs(pairs)
	if err != nil {
		return nil, err
	}
	nb, err := bucketCount(total, forceBuckets)
	if err != nil {
		return nil, err
	}

	e := &encoder{}
	e.newPage(pHashMeta) // page 0; filled in by writeMeta
	// Buckets 0..nb-1 live on pages 1..nb, so spares[i] = 1 for every
	// doubling in use: page = bucket + spares[ceil_log2(bucket+1)].
	for b := uint32(0); b < nb; b++ {
		e.newPage(pHash)
	}
	for b, items := range hashBuckets(ps, nb) {
		if err := e.fillBucket(e.pages[1+b], items); err != nil {
			return nil, err
		}
	}

	out, err := e.pack()
	if err != nil {
		return nil, err
	}
	writeMeta(out, uint32(len(e.pages)-1), nb, uint32(len(ps)))
	return out, nil
}

// sortedEncPairs checks the item size limits, measures every pair and
// sorts them by key, so that the output does not depend on input order and
// duplicates are adjacent (and refused). total is the bytes all pairs take
// on bucket pages.
func sortedEncPairs(pairs []Pair) (ps []encPair, total int, err error) {
	ps = make([]encPair, len(pairs))
	for i, p := range pairs {
		if len(p.Key) > MaxItemSize {
			return nil, 0, errf("key of %d bytes exceeds the %d-byte limit", len(p.Key), MaxItemSize)
		}
		if len(p.Value) > MaxItemSize {
			return nil, 0, errf("value of %d bytes for key %q exceeds the %d-byte limit", len(p.Value), shortKey(p.Key), MaxItemSize)
		}
		ps[i] = encPair{
			key:    p.Key,
			val:    p.Value,
			bigKey: len(p.Key) > bigItem,
			size:   4 + itemSize(p.Key) + itemSize(p.Value),
		}
		total += ps[i].size
	}
	slices.SortFunc(ps, func(a, b encPair) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(ps); i++ {
		if bytes.Equal(ps[i-1].key, ps[i].key) {
			return nil, 0, errf("duplicate key %q", shortKey(ps[i].key))
		}
	}
	return ps, total, nil
}

// itemSize is the bytes b takes as one item on a bucket page: an
// H_OFFPAGE reference when it is too big to go on the page, else H_KEYDATA.
func itemSize(b []byte) int {
	if len(b) > bigItem {
		return hOffPageSize
	}
	return 1 + len(b)
}

// bucketCount picks the number of buckets for pairs taking total bytes, or
// checks a forced count. A power-of-two table keeps max_bucket ==
// high_mask, so the low_mask fold never applies and every bucket has a page
// from the start.
func bucketCount(total int, force uint32) (uint32, error) {
	nb := force
	if nb == 0 {
		per := (encodePageSize - pageHeaderSize) * targetFillNum / targetFillDen
		need := uint64(total/per + 1)
		nb = 2
		for uint64(nb) < need {
			nb <<= 1
		}
	}
	if nb < 2 || nb&(nb-1) != 0 {
		return 0, errf("internal: bucket count %d is not a power of two >= 2", nb)
	}
	return nb, nil
}

// hashBuckets distributes ps over nb (a power of two) buckets the way
// libdb looks keys up: by the low bits of the key's hash.
func hashBuckets(ps []encPair, nb uint32) [][]encPair {
	buckets := make([][]encPair, nb)
	for _, p := range ps {
		b := hashKey(p.key) & (nb - 1)
		buckets[b] = append(buckets[b], p)
	}
	return buckets
}

// fillBucket stores one bucket's pairs on its first page cur and on pages
// chained after it, allocating overflow pages for big items as it goes.
func (e *encoder) fillBucket(cur *pageBuf, items []encPair) error {
	// Within a page libdb binary searches, so pages must be sorted in its
	// order. Filling pages in that order keeps every page of the chain
	// sorted.
	slices.SortFunc(items, func(x, y encPair) int {
		switch {
		case pairLess(x.key, y.key):
			return -1
		case pairLess(y.key, x.key):
			return 1
		}
		return 0
	})
	var bigKeys []encPair
	for _, p := range items {
		if p.bigKey {
			bigKeys = append(bigKeys, p)
			continue
		}
		data := e.valueItem(p.val)
		key := keyData(p.key)
		if !cur.addPair(key, data) {
			cur = e.chain(cur)
			if !cur.addPair(key, data) {
				return errf("internal: pair of %d bytes does not fit an empty page", p.size)
			}
		}
	}
	// Off-page keys each get a page of their own at the end of the chain:
	// libdb compares on-page and off-page keys with rules that disagree
	// about prefixes, and a one-pair page is sorted under any of them.
	for _, p := range bigKeys {
		key := e.putOverflow(p.key)
		data := e.valueItem(p.val)
		if cur.nent > 0 {
			cur = e.chain(cur)
		}
		if !cur.addPair(key, data) {
			return errf("internal: off-page pair does not fit an empty page")
		}
	}
	return nil
}

// valueItem returns the item for a value: on the page when it is small
// enough, else on a fresh overflow chain.
func (e *encoder) valueItem(v []byte) []byte {
	if len(v) > bigItem {
		return e.putOverflow(v)
	}
	return keyData(v)
}

// pack finishes every page but the meta page and lays them all out in
// page-number order, leaving page 0 zero for writeMeta.
func (e *encoder) pack() ([]byte, error) {
	if len(e.pages) > 1<<31 {
		return nil, errf("database would need %d pages, too many", len(e.pages))
	}
	out := make([]byte, len(e.pages)*encodePageSize)
	for _, p := range e.pages[1:] {
		p.finish()
		copy(out[int(p.pgno)*encodePageSize:], p.buf)
	}
	return out, nil
}

// writeMeta fills in the hash meta page (page 0 of out) for a table of nb
// buckets holding nelem pairs, then the file id. It must come last: the
// file id hashes every other byte of the file.
func writeMeta(out []byte, lastPgno, nb, nelem uint32) {
	m := out[:encodePageSize]
	putUnloggedLSN(m)
	le.PutUint32(m[offPgno:], 0)
	le.PutUint32(m[offMagic:], hashMagic)
	le.PutUint32(m[offVersion:], hashVersion)
	le.PutUint32(m[offPageSize:], encodePageSize)
	m[offEncrypt] = 0
	m[offType] = pHashMeta
	m[offMetaFlags] = 0
	le.PutUint32(m[offFree:], 0)
	le.PutUint32(m[offLastPgno:], lastPgno)
	le.PutUint32(m[offMaxBucket:], nb-1)
	le.PutUint32(m[offHighMask:], nb-1)
	le.PutUint32(m[offLowMask:], nb/2-1)
	// ffactor 0 is libdb's default: split only when a bucket page fills.
	le.PutUint32(m[offFFactor:], 0)
	le.PutUint32(m[offNelem:], nelem)
	le.PutUint32(m[offCharKey:], charKeyHash)
	for i := uint32(0); i <= ceilLog2(uint64(nb)); i++ {
		le.PutUint32(m[offSpares+4*i:], 1)
	}
	// The file id must be unique per file for libdb's shared caches but
	// need not be random; a content hash keeps the output reproducible.
	sum := sha256.Sum256(out)
	copy(m[offUID:offUID+uidLen], sum[:uidLen])
}

// chain appends a new page to the bucket chain ending at cur.
func (e *encoder) chain(cur *pageBuf) *pageBuf {
	n := e.newPage(pHash)
	cur.next = n.pgno
	n.prev = cur.pgno
	return n
}

// shortKey trims a key for error messages.
func shortKey(k []byte) []byte {
	if len(k) > 64 {
		return k[:64]
	}
	return k
}
