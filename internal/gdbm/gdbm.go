// Package gdbm reads and writes GNU dbm (GDBM) database files in pure Go.
//
// Cyrus SASL's sasldb plugin stores credentials in GDBM on RHEL 9, Rocky 9
// and Fedora >= 35 (gdbm 1.19-1.23). Encode produces the "standard" format
// those systems use: 64-bit off_t, little-endian, 4096-byte blocks, exactly
// the structure libgdbm 1.23 itself creates, so libgdbm can open the file
// read-write and keep inserting into it.
//
// Decode additionally reads the numsync (extended) variant, 32-bit off_t
// files, files from 32-bit x86 with large-file support and big-endian files.
// It treats its input as hostile: every offset and size is bounds-checked,
// records and buckets must not overlap, and every record must be reachable
// the way libgdbm looks it up; anything else is a one-line error.
//
// On-disk structures (C structs in gdbm's gdbmdefs.h, native alignment):
//
//	header:  magic, block_size, dir (off_t), dir_size, dir_bits,
//	         bucket_size, bucket_elems, next_block (off_t)
//	[numsync: version, numsync, pad[6]]
//	avail:   size, count, next_block (off_t), table of {size, off_t addr}
//	dir:     2^dir_bits bucket addresses (off_t), at header.dir
//	bucket:  av_count, 6 avail elems, bucket_bits, count,
//	         bucket_elems x {hash, key_start[4], data (off_t), ksize, dsize}
//	records: key bytes immediately followed by value bytes, at elem.data
package gdbm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Pair is one record. Keys are unique within a file.
type Pair struct{ Key, Value []byte }

// Header magics from gdbm's gdbmconst.h. The numeric value encodes the
// off_t width and format; a byte-swapped magic means the other byte order.
const (
	magicOrig      = 0x13579ace // OMAGIC: before off_t width was recorded
	magic32        = 0x13579acd
	magic64        = 0x13579acf
	magicNumsync32 = 0x13579ad0
	magicNumsync64 = 0x13579ad1
)

const (
	hashBits    = 31 // GDBM_HASH_BITS
	smallKey    = 4  // SMALL: key bytes kept in a bucket element
	bucketAvail = 6  // BUCKET_AVAIL: avail entries in a bucket
	// defaultBlockSize is what libgdbm picks on ext4/xfs (st_blksize).
	defaultBlockSize = 4096
	extHdrSize       = 32 // gdbm_ext_header: version, numsync, pad[6]
	emptyHash        = 0xFFFFFFFF
	// maxDirSize mirrors libgdbm's GDBM_MAX_DIR_HALF limit: it refuses to
	// double a directory of this size, so we never write a larger one.
	maxDirSize = math.MaxInt32 / 2
)

// layout describes the byte layout of one GDBM flavour: the C structs
// differ by off_t width, by the alignment of off_t inside structs, and by
// byte order.
type layout struct {
	name      string
	order     binary.ByteOrder
	numsync   bool
	off       int // sizeof(off_t): 4 or 8
	availElem int // sizeof(avail_elem)
	availAdr  int // offsetof(avail_elem, av_adr)
	bktAvail  int // offsetof(hash_bucket, bucket_avail)
	bucketHdr int // offsetof(hash_bucket, h_table)
	elemSize  int // sizeof(bucket_element)
}

var (
	// x86_64, aarch64, ppc64le, ...: what RHEL 9 writes.
	layout64LE = layout{name: "64-bit off_t", order: binary.LittleEndian, off: 8,
		availElem: 16, availAdr: 8, bktAvail: 8, bucketHdr: 112, elemSize: 24}
	// i386 with _FILE_OFFSET_BITS=64: off_t is only 4-aligned in structs.
	layoutI386LE = layout{name: "32-bit x86 with 64-bit off_t", order: binary.LittleEndian, off: 8,
		availElem: 12, availAdr: 4, bktAvail: 4, bucketHdr: 84, elemSize: 24}
	layout32LE = layout{name: "32-bit off_t", order: binary.LittleEndian, off: 4,
		availElem: 8, availAdr: 4, bktAvail: 4, bucketHdr: 60, elemSize: 20}
)

func (l layout) withOrder(o binary.ByteOrder, name string) layout {
	l.order = o
	l.name += ", " + name
	return l
}

func (l layout) withNumsync(ns bool) layout {
	l.numsync = ns
	if ns {
		l.name += ", numsync"
	}
	return l
}

func (l layout) magic() uint32 {
	switch {
	case l.off == 8 && l.numsync:
		return magicNumsync64
	case l.off == 8:
		return magic64
	case l.numsync:
		return magicNumsync32
	default:
		return magic32
	}
}

// Header field offsets; everything after dir shifts with sizeof(off_t).
func (l layout) hdrSize() int        { return 24 + 2*l.off }
func (l layout) offDirSize() int     { return 8 + l.off }
func (l layout) offDirBits() int     { return 12 + l.off }
func (l layout) offBucketSize() int  { return 16 + l.off }
func (l layout) offBucketElems() int { return 20 + l.off }
func (l layout) offNextBlock() int   { return 24 + l.off }

// availOff is where the header's avail_block starts.
func (l layout) availOff() int {
	if l.numsync {
		return l.hdrSize() + extHdrSize
	}
	return l.hdrSize()
}

// availHdr is offsetof(avail_block, av_table).
func (l layout) availHdr() int { return 8 + l.off }

// availSize is the avail table capacity libgdbm requires for a block size.
func (l layout) availSize(bs int) int {
	return (bs-(l.availOff()+l.availHdr()+l.availElem))/l.availElem + 1
}

// bucketElems is libgdbm's bucket_element_count(): sizeof(hash_bucket)
// already includes one element, hence the +1.
func (l layout) bucketElems(bucketSize int) int {
	return (bucketSize-(l.bucketHdr+l.elemSize))/l.elemSize + 1
}

// minDirBits mirrors libgdbm's compute_directory_size(): the directory
// starts at 8 entries and doubles until it is at least one block long.
func (l layout) minDirBits(bs int) int {
	size, bits := 8*l.off, 3
	for size < bs && bits < hashBits-3 {
		size <<= 1
		bits++
	}
	return bits
}

func (l layout) getOff(b []byte) int64 {
	if l.off == 8 {
		return int64(l.order.Uint64(b))
	}
	return int64(int32(l.order.Uint32(b)))
}

func (l layout) putOff(b []byte, v int64) {
	if l.off == 8 {
		l.order.PutUint64(b, uint64(v))
	} else {
		l.order.PutUint32(b, uint32(v))
	}
}

func (l layout) getInt(b []byte) int64 { return int64(int32(l.order.Uint32(b))) }

// Hash is gdbm's _gdbm_hash. unsigned selects the variant compiled where
// C char is unsigned (aarch64, ppc, s390x); x86 has signed char, so bytes
// >= 0x80 are sign-extended before shifting. The two agree on ASCII keys.
func gdbmHash(key []byte, unsigned bool) uint32 {
	v := uint32(0x238F13AF) * uint32(len(key))
	for i, c := range key {
		x := uint32(int32(int8(c)))
		if unsigned {
			x = uint32(c)
		}
		v = (v + x<<(uint32(i)*5%24)) & 0x7FFFFFFF
	}
	return (1103515243*v + 12345) & 0x7FFFFFFF
}

// Sniff reports whether data starts with a GDBM magic (any of gdbm's
// magics, either byte order).
func Sniff(data []byte) bool {
	if len(data) < 4 {
		return false
	}
	for _, m := range []uint32{binary.LittleEndian.Uint32(data), binary.BigEndian.Uint32(data)} {
		switch m {
		case magicOrig, magic32, magic64, magicNumsync32, magicNumsync64:
			return true
		}
	}
	return false
}

// Encode returns a complete, valid GDBM file holding pairs, one that libgdbm
// 1.23 opens read-write and gdbmtool can count, fetch and store into.
// The file uses the standard 64-bit little-endian format with 4096-byte
// blocks. Output is deterministic: it depends only on the set of pairs,
// not on their order. Duplicate keys are an error.
func Encode(pairs []Pair) ([]byte, error) {
	return encode(layout64LE, defaultBlockSize, pairs)
}

// encBucket is one bucket of the file being encoded: it holds the keys
// whose top bits hash bits equal prefix.
type encBucket struct {
	bits   int
	prefix uint32
	items  []int // indexes into the sorted pairs
}

// encode lays the file out (blockSize: a power of two >= 512) as libgdbm
// would after a reorganize, but with no free space at all: header block,
// directory, buckets, then records packed back to back, and next_block =
// file size. With every avail table empty, libgdbm's first later
// allocation simply extends the file, so our bookkeeping cannot disagree
// with it.
func encode(l layout, blockSize int, in []Pair) ([]byte, error) {
	ps, hashes, err := sortedRecords(in, blockSize)
	if err != nil {
		return nil, err
	}
	// One block per bucket, the size libgdbm gives new files' buckets.
	f := &encFile{l: l, blockSize: blockSize, bucketSize: blockSize, elems: l.bucketElems(blockSize)}
	all := make([]int, len(ps))
	for i := range all {
		all[i] = i
	}
	buckets, err := splitBucket(hashes, f.elems, encBucket{items: all}, nil)
	if err != nil {
		return nil, err
	}
	if err := f.place(buckets, ps); err != nil {
		return nil, err
	}
	out := make([]byte, f.total)
	f.putHeader(out)
	data := f.dataAdr
	for bi, b := range buckets {
		badr := f.firstBucket + int64(bi)*int64(f.bucketSize)
		f.putDirEntries(out, b, badr)
		data = f.putBucket(out, badr, b, ps, hashes, data)
	}
	return out, nil
}

// sortedRecords sorts the pairs by key, so that the output does not depend
// on their order, refuses duplicates and records libgdbm cannot hold, and
// hashes every key.
func sortedRecords(in []Pair, blockSize int) ([]Pair, []uint32, error) {
	ps := slices.Clone(in)
	sort.SliceStable(ps, func(i, j int) bool { return bytes.Compare(ps[i].Key, ps[j].Key) < 0 })
	hashes := make([]uint32, len(ps))
	for i := range ps {
		if i > 0 && bytes.Equal(ps[i-1].Key, ps[i].Key) {
			return nil, nil, fmt.Errorf("gdbm: duplicate key %q", ps[i].Key)
		}
		// libgdbm allocates key+value with an int size.
		if int64(len(ps[i].Key))+int64(len(ps[i].Value)) > int64(math.MaxInt32-blockSize) {
			return nil, nil, fmt.Errorf("gdbm: record too large (%d+%d bytes)", len(ps[i].Key), len(ps[i].Value))
		}
		hashes[i] = gdbmHash(ps[i].Key, false)
	}
	return ps, hashes, nil
}

// splitBucket appends b to out, first split in two on its next hash bit,
// recursively, until each part fits a bucket of elems elements. This is
// extendible hashing as libgdbm does it on insert: a bucket with bits b
// holds the keys whose top b hash bits equal its prefix.
func splitBucket(hashes []uint32, elems int, b encBucket, out []encBucket) ([]encBucket, error) {
	if len(b.items) <= elems {
		return append(out, b), nil
	}
	if b.bits >= hashBits {
		return nil, fmt.Errorf("gdbm: more than %d keys share one hash value", elems)
	}
	lo := encBucket{bits: b.bits + 1, prefix: b.prefix << 1}
	hi := encBucket{bits: b.bits + 1, prefix: b.prefix<<1 | 1}
	for _, it := range b.items {
		if hashes[it]>>(hashBits-b.bits-1)&1 == 0 {
			lo.items = append(lo.items, it)
		} else {
			hi.items = append(hi.items, it)
		}
	}
	out, err := splitBucket(hashes, elems, lo, out)
	if err != nil {
		return nil, err
	}
	return splitBucket(hashes, elems, hi, out)
}

// encFile is where each part of a file being encoded goes.
type encFile struct {
	l                     layout
	blockSize, bucketSize int
	elems                 int // elements per bucket
	dirBits               int
	dirAdr, dirSize       int64
	firstBucket           int64 // buckets follow the directory back to back
	dataAdr               int64 // records follow the buckets
	total                 int64 // file size
}

// place sizes the directory for the deepest bucket and places the
// directory, buckets and records of pairs ps.
func (f *encFile) place(buckets []encBucket, ps []Pair) error {
	l := f.l
	f.dirBits = l.minDirBits(f.blockSize)
	for _, b := range buckets {
		f.dirBits = max(f.dirBits, b.bits)
	}
	f.dirSize = int64(l.off) << f.dirBits
	if f.dirSize > maxDirSize {
		return fmt.Errorf("gdbm: hash directory would need %d bytes (too many colliding keys)", f.dirSize)
	}
	f.dirAdr = int64(f.blockSize)
	f.firstBucket = f.dirAdr + f.dirSize
	f.dataAdr = f.firstBucket + int64(len(buckets))*int64(f.bucketSize)
	f.total = f.dataAdr
	for _, p := range ps {
		f.total += int64(len(p.Key) + len(p.Value))
	}
	if f.total > math.MaxInt64/2 || f.total != int64(int(f.total)) {
		return errors.New("gdbm: file too large")
	}
	return nil
}

// putHeader writes the header block with the header's (empty) avail table.
func (f *encFile) putHeader(out []byte) {
	l, o := f.l, f.l.order
	o.PutUint32(out[0:], l.magic())
	o.PutUint32(out[4:], uint32(f.blockSize))
	l.putOff(out[8:], f.dirAdr)
	o.PutUint32(out[l.offDirSize():], uint32(f.dirSize))
	o.PutUint32(out[l.offDirBits():], uint32(f.dirBits))
	o.PutUint32(out[l.offBucketSize():], uint32(f.bucketSize))
	o.PutUint32(out[l.offBucketElems():], uint32(f.elems))
	l.putOff(out[l.offNextBlock():], f.total)
	av := l.availOff()
	o.PutUint32(out[av:], uint32(l.availSize(f.blockSize)))
	// count = 0 and next_block = 0 are already zero.
}

// putDirEntries points the directory at bucket b, stored at badr:
// 2^(dirBits-bits) consecutive entries share it.
func (f *encFile) putDirEntries(out []byte, b encBucket, badr int64) {
	span := int64(1) << (f.dirBits - b.bits)
	start := int64(b.prefix) << (f.dirBits - b.bits)
	for d := start; d < start+span; d++ {
		f.l.putOff(out[f.dirAdr+d*int64(f.l.off):], badr)
	}
}

// putBucket writes bucket b at badr and its records from offset data on,
// and returns the offset after its last record.
func (f *encFile) putBucket(out []byte, badr int64, b encBucket, ps []Pair, hashes []uint32, data int64) int64 {
	l, o := f.l, f.l.order
	bk := out[badr : badr+int64(f.bucketSize)]
	o.PutUint32(bk[l.bucketHdr-8:], uint32(b.bits))
	o.PutUint32(bk[l.bucketHdr-4:], uint32(len(b.items)))
	for e := 0; e < f.elems; e++ {
		o.PutUint32(bk[l.bucketHdr+e*l.elemSize:], emptyHash)
	}
	for _, it := range b.items {
		p := ps[it]
		// Linear probing from the home slot hash % bucket_elems.
		loc := int(hashes[it] % uint32(f.elems))
		for o.Uint32(bk[l.bucketHdr+loc*l.elemSize:]) != emptyHash {
			loc = (loc + 1) % f.elems
		}
		el := bk[l.bucketHdr+loc*l.elemSize:]
		o.PutUint32(el, hashes[it])
		copy(el[4:4+smallKey], p.Key)
		l.putOff(el[8:], data)
		o.PutUint32(el[8+l.off:], uint32(len(p.Key)))
		o.PutUint32(el[12+l.off:], uint32(len(p.Value)))
		data += int64(copy(out[data:], p.Key))
		data += int64(copy(out[data:], p.Value))
	}
	return data
}

// Decode parses a whole file and returns every pair, sorted by key.
func Decode(data []byte) ([]Pair, error) {
	if len(data) == 0 {
		return nil, errors.New("gdbm: empty file (zero length)")
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("gdbm: not a GDBM file (only %d bytes)", len(data))
	}
	le, be := binary.LittleEndian.Uint32(data), binary.BigEndian.Uint32(data)
	var cands []layout
	pick := func(m uint32, o binary.ByteOrder, oname string) {
		switch m {
		case magic64, magicNumsync64:
			ns := m == magicNumsync64
			cands = append(cands, layout64LE.withOrder(o, oname).withNumsync(ns),
				layoutI386LE.withOrder(o, oname).withNumsync(ns))
		case magic32, magicNumsync32:
			cands = append(cands, layout32LE.withOrder(o, oname).withNumsync(m == magicNumsync32))
		case magicOrig:
			// The original magic did not record the off_t width; try each.
			cands = append(cands, layout64LE.withOrder(o, oname),
				layoutI386LE.withOrder(o, oname), layout32LE.withOrder(o, oname))
		}
	}
	pick(le, binary.LittleEndian, "little-endian")
	if len(cands) == 0 {
		pick(be, binary.BigEndian, "big-endian")
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("gdbm: not a GDBM file (bad magic 0x%08x)", le)
	}
	var firstErr error
	for _, l := range cands {
		d, err := parseHeader(l, data)
		if err == nil {
			return d.pairs()
		}
		if firstErr == nil {
			firstErr = err
			if l.name != layout64LE.name {
				// Say which variant we tried, so a foreign file's
				// error does not read like a damaged native one.
				firstErr = fmt.Errorf("%w [as %s file]", err, l.name)
			}
		}
	}
	return nil, firstErr
}

type decoder struct {
	l          layout
	data       []byte
	size       int64
	blockSize  int64
	dir        int64
	dirBits    int
	bucketSize int64
	elems      int
}

// parseHeader validates the header as libgdbm's validate_header does,
// plus what reading needs. A mismatching bucket_elems or avail size is how
// the struct layout (alignment) of a 64-bit-off_t file is told apart.
func parseHeader(l layout, data []byte) (*decoder, error) {
	size := int64(len(data))
	fixed := int64(l.availOff() + l.availHdr())
	if size < fixed {
		return nil, fmt.Errorf("gdbm: truncated: header needs %d bytes, file size %d", fixed, size)
	}
	d := &decoder{l: l, data: data, size: size}
	d.blockSize = l.getInt(data[4:])
	if d.blockSize < fixed+int64(l.availElem) {
		return nil, fmt.Errorf("gdbm: bad header (%s): block size %d too small", l.name, d.blockSize)
	}
	if d.blockSize > size {
		return nil, fmt.Errorf("gdbm: truncated: header block of %d bytes beyond file size %d", d.blockSize, size)
	}
	d.dir = l.getOff(data[8:])
	dirSize := l.getInt(data[l.offDirSize():])
	dirBits := l.getInt(data[l.offDirBits():])
	if dirBits < 0 || dirBits > hashBits {
		return nil, fmt.Errorf("gdbm: bad header (%s): directory depth %d", l.name, dirBits)
	}
	d.dirBits = int(dirBits)
	if dirSize != int64(l.off)<<dirBits {
		return nil, fmt.Errorf("gdbm: bad header (%s): directory size %d does not match depth %d", l.name, dirSize, dirBits)
	}
	if d.dir <= 0 || d.dir > size || dirSize > size-d.dir {
		return nil, fmt.Errorf("gdbm: truncated: directory at %d+%d beyond file size %d", d.dir, dirSize, size)
	}
	d.bucketSize = l.getInt(data[l.offBucketSize():])
	elems := l.getInt(data[l.offBucketElems():])
	if d.bucketSize <= int64(l.bucketHdr+l.elemSize) || d.bucketSize > size {
		return nil, fmt.Errorf("gdbm: bad header (%s): bucket size %d", l.name, d.bucketSize)
	}
	if elems != int64(l.bucketElems(int(d.bucketSize))) {
		return nil, fmt.Errorf("gdbm: bad header (%s): %d elements per bucket does not fit bucket size %d", l.name, elems, d.bucketSize)
	}
	d.elems = int(elems)
	if got, want := l.getInt(data[l.availOff():]), l.availSize(int(d.blockSize)); got != int64(want) {
		return nil, fmt.Errorf("gdbm: bad header (%s): avail table size %d, want %d", l.name, got, want)
	}
	return d, nil
}

type region struct{ start, end int64 }

// bucketRun is one bucket and the directory entries start..end-1 that
// point at it.
type bucketRun struct{ start, end, adr int64 }

// records collects the records of every bucket.
type records struct {
	pairs   []Pair
	regions []region // where each non-empty record lies, to check overlaps
	total   int64    // bytes of all records, bounded by the file size
}

// pairs walks the directory and its buckets and collects the records.
func (d *decoder) pairs() ([]Pair, error) {
	runs, used, err := d.bucketRuns()
	if err != nil {
		return nil, err
	}
	var recs records
	inUse := make([]bool, d.elems)
	for _, r := range runs {
		if err := d.readBucket(r, inUse, &recs); err != nil {
			return nil, err
		}
	}
	if err := checkOverlap(append(used, recs.regions...), "record"); err != nil {
		return nil, err
	}
	out := recs.pairs
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	for i := 1; i < len(out); i++ {
		if bytes.Equal(out[i-1].Key, out[i].Key) {
			return nil, fmt.Errorf("gdbm: duplicate key %q", out[i].Key)
		}
	}
	return out, nil
}

// bucketRuns turns the directory into its distinct buckets, and returns
// them with the regions the header, directory and buckets occupy. Each
// bucket must be referenced by one aligned run of 2^(dir_bits-bucket_bits)
// entries, the invariant libgdbm's bucket split relies on.
func (d *decoder) bucketRuns() ([]bucketRun, []region, error) {
	l := d.l
	nDir := int64(1) << d.dirBits
	entry := func(i int64) int64 { return l.getOff(d.data[d.dir+i*int64(l.off):]) }
	var runs []bucketRun
	used := []region{{0, d.blockSize}, {d.dir, d.dir + nDir*int64(l.off)}}
	for i := int64(0); i < nDir; {
		adr := entry(i)
		j := i + 1
		for j < nDir && entry(j) == adr {
			j++
		}
		if adr < d.blockSize || adr > d.size || d.bucketSize > d.size-adr {
			return nil, nil, fmt.Errorf("gdbm: directory entry %d: bucket at %d+%d beyond file size %d or inside header", i, adr, d.bucketSize, d.size)
		}
		bk := d.data[adr:]
		bits := l.getInt(bk[l.bucketHdr-8:])
		if bits < 0 || bits > int64(d.dirBits) {
			return nil, nil, fmt.Errorf("gdbm: bucket at %d: bucket bits %d outside 0..%d", adr, bits, d.dirBits)
		}
		span := int64(1) << (int64(d.dirBits) - bits)
		if j-i != span || i%span != 0 {
			return nil, nil, fmt.Errorf("gdbm: bucket at %d: referenced by directory entries %d..%d, want an aligned run of %d", adr, i, j-1, span)
		}
		runs = append(runs, bucketRun{i, j, adr})
		used = append(used, region{adr, adr + d.bucketSize})
		i = j
	}
	// Distinct, non-overlapping buckets also bound the element count by
	// the file size, which caps every allocation below.
	if err := checkOverlap(used, "bucket"); err != nil {
		return nil, nil, err
	}
	return runs, used, nil
}

// readBucket adds the records of bucket r to recs. inUse is scratch space
// of one flag per element.
func (d *decoder) readBucket(r bucketRun, inUse []bool, recs *records) error {
	l := d.l
	bk := d.data[r.adr : r.adr+d.bucketSize]
	count := l.getInt(bk[l.bucketHdr-4:])
	if count < 0 || count > int64(d.elems) {
		return fmt.Errorf("gdbm: bucket at %d: count %d outside 0..%d", r.adr, count, d.elems)
	}
	n := int64(0)
	for e := 0; e < d.elems; e++ {
		inUse[e] = l.order.Uint32(bk[l.bucketHdr+e*l.elemSize:]) != emptyHash
	}
	for e := 0; e < d.elems; e++ {
		if !inUse[e] {
			continue
		}
		n++
		ptr, key, val, err := d.readElement(r, bk, e, inUse)
		if err != nil {
			return err
		}
		if err := recs.add(d.size, ptr, key, val); err != nil {
			return err
		}
	}
	if n != count {
		return fmt.Errorf("gdbm: bucket at %d: count %d but %d elements in use", r.adr, count, n)
	}
	return nil
}

// readElement checks element e of bucket r (bytes bk) the way libgdbm
// would find it, and returns where its record starts, its key and its
// value (views of the file).
func (d *decoder) readElement(r bucketRun, bk []byte, e int, inUse []bool) (ptr int64, key, val []byte, err error) {
	l := d.l
	el := bk[l.bucketHdr+e*l.elemSize:]
	h := l.getInt(el)
	if h < 0 {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d has invalid hash %#x", r.adr, e, uint32(h))
	}
	if di := h >> (hashBits - d.dirBits); di < r.start || di >= r.end {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d hash %#x belongs to directory entry %d, not %d..%d", r.adr, e, h, di, r.start, r.end-1)
	}
	if !reachable(inUse, int(h%int64(d.elems)), e) {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d unreachable from its home slot %d", r.adr, e, h%int64(d.elems))
	}
	ptr = l.getOff(el[8:])
	ks := l.getInt(el[8+l.off:])
	ds := l.getInt(el[12+l.off:])
	if ks < 0 || ds < 0 || ptr < 0 {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d has negative offset or size", r.adr, e)
	}
	if ptr > d.size || ks+ds > d.size-ptr {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d data offset beyond end of file (%d+%d+%d > %d)", r.adr, e, ptr, ks, ds, d.size)
	}
	key = d.data[ptr : ptr+ks]
	if !bytes.Equal(el[4:4+min(smallKey, int(ks))], key[:min(smallKey, int(ks))]) {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d key prefix does not match its record", r.adr, e)
	}
	if uint32(h) != gdbmHash(key, false) && uint32(h) != gdbmHash(key, true) {
		return 0, nil, nil, fmt.Errorf("gdbm: bucket at %d: element %d hash %#x does not match its key", r.adr, e, h)
	}
	return ptr, key, d.data[ptr+ks : ptr+ks+ds], nil
}

// add records a copy of the record at ptr. Records may not share bytes, so
// a total beyond the file size means overlap; checking it as records come
// in also bounds the memory the copies take.
func (recs *records) add(size, ptr int64, key, val []byte) error {
	n := int64(len(key) + len(val))
	if n > 0 {
		recs.regions = append(recs.regions, region{ptr, ptr + n})
	}
	recs.total += n
	if recs.total > size {
		return fmt.Errorf("gdbm: records total more than the file size %d (overlapping records)", size)
	}
	recs.pairs = append(recs.pairs, Pair{Key: bytes.Clone(key), Value: bytes.Clone(val)})
	return nil
}

// reachable reports whether libgdbm's linear probe starting at home
// reaches slot e without crossing an empty slot.
func reachable(inUse []bool, home, e int) bool {
	for i := home; i != e; i = (i + 1) % len(inUse) {
		if !inUse[i] {
			return false
		}
	}
	return true
}

// checkOverlap fails if any two regions intersect.
func checkOverlap(rs []region, what string) error {
	sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
	for i := 1; i < len(rs); i++ {
		if rs[i].start < rs[i-1].end {
			return fmt.Errorf("gdbm: %s at %d overlaps other data at %d..%d", what, rs[i].start, rs[i-1].start, rs[i-1].end)
		}
	}
	return nil
}
