// Package bdb reads and writes Berkeley DB hash (version 9) database files
// without cgo: the subset that the Cyrus SASL sasldb plugin uses on Debian
// and Ubuntu (/etc/sasldb2, libvirt's /etc/libvirt/passwd.db).
//
// The layout follows Berkeley DB's dbinc/db_page.h and dbinc/hash.h:
//
//   - page 0 is the hash meta page (generic DBMETA header, then max_bucket,
//     high_mask, low_mask, ffactor, nelem, h_charkey and spares[32]);
//   - every bucket has a first page found through spares[] and an optional
//     chain of further pages linked by next_pgno/prev_pgno;
//   - a bucket page (type P_HASH) holds key/data pairs: an index of 16-bit
//     item offsets grows up from the 26-byte page header while the items
//     themselves are packed down from the end of the page;
//   - an item is either H_KEYDATA (type byte, then the bytes) or, for items
//     larger than pagesize/4, H_OFFPAGE: a 12-byte reference to a chain of
//     P_OVERFLOW pages holding the bytes.
//
// Encode writes native little-endian files with 4096-byte pages. Decode reads
// either byte order and any legal page size, and treats its input as hostile.
// Duplicate-key databases, subdatabases, checksummed or encrypted files are
// refused with an error.
package bdb

import "fmt"

// Pair is one record. Keys are unique within a file.
type Pair struct{ Key, Value []byte }

// On-disk constants from Berkeley DB's db_page.h, hash.h and db.in.
const (
	hashMagic   = 0x061561 // DB_HASHMAGIC
	btreeMagic  = 0x053162 // DB_BTREEMAGIC, only to name it in errors
	queueMagic  = 0x042253 // DB_QAMMAGIC
	heapMagic   = 0x074582 // DB_HEAPMAGIC
	hashVersion = 9        // DB_HASHVERSION: sorted hash pages

	pageHeaderSize = 26 // SIZEOF_PAGE: lsn, pgno, prev, next, entries, hf_offset, level, type
	metaSize       = 512
	minPageSize    = 512
	maxPageSize    = 65536

	// Page types.
	pInvalid       = 0
	pHashUnsorted  = 2
	pOverflow      = 7
	pHashMeta      = 8
	pBtreeMeta     = 9
	pHash          = 13
	pageTypeOffset = 25

	// Hash item types (first byte of every item on a hash page).
	hKeyData   = 1
	hDuplicate = 2
	hOffPage   = 3
	hOffDup    = 4

	hOffPageSize = 12 // type, 3 unused bytes, pgno, total length

	nCached = 32 // NCACHED: entries in spares[]

	// Meta page field offsets (DBMETA, then HMETA).
	offLSN        = 0
	offPgno       = 8
	offMagic      = 12
	offVersion    = 16
	offPageSize   = 20
	offEncrypt    = 24
	offType       = 25
	offMetaFlags  = 26
	offFree       = 28
	offLastPgno   = 32
	offNparts     = 36
	offKeyCount   = 40
	offRecCount   = 44
	offFlags      = 48
	offUID        = 52
	uidLen        = 20
	offMaxBucket  = 72
	offHighMask   = 76
	offLowMask    = 80
	offFFactor    = 84
	offNelem      = 88
	offCharKey    = 92
	offSpares     = 96
	metaFieldsEnd = offSpares + 4*nCached

	// Generic page header offsets.
	offPrevPgno = 12
	offNextPgno = 16
	offEntries  = 20
	offHFOffset = 22
	offLevel    = 24

	// DBMETA flags for hash.
	flagHashDup     = 0x01
	flagHashSubDB   = 0x02
	flagHashDupSort = 0x04

	// charKeyHash is the hash of CHARKEY ("%$sniglet^&" with its C string
	// NUL, since libdb hashes sizeof(CHARKEY) bytes); libdb stores it in the
	// meta page so that db_verify can tell a custom hash function apart.
	charKey     = "%$sniglet^&\x00"
	charKeyHash = 0x5e688dd1
)

// hashKey is Berkeley DB's default hash (__ham_func5): FNV-1 with an
// offset basis of 0 instead of FNV's usual 2166136261. The bucket of every
// key depends on it, so it must match libdb bit for bit.
func hashKey(k []byte) uint32 {
	var h uint32
	for _, c := range k {
		h *= 16777619
		h ^= uint32(c)
	}
	return h
}

// ceilLog2 is libdb's __db_log2: the smallest i with 1<<i >= n. It picks the
// spares[] entry (the "doubling") a bucket belongs to.
func ceilLog2(n uint64) uint32 {
	var i uint32
	for (uint64(1) << i) < n {
		i++
	}
	return i
}

// pairLess is the order libdb keeps keys in on a sorted (P_HASH) page, as
// its binary search (__ham_getindex_sorted) and db_verify's
// __ham_verify_sorted_page expect: bytewise on the common prefix and, when
// one key is a prefix of the other, the LONGER key first. Lookups binary
// search each page, so a page sorted any other way makes keys unfindable.
func pairLess(a, b []byte) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) > len(b)
}

func errf(format string, args ...any) error {
	return fmt.Errorf("bdb: "+format, args...)
}

// Sniff reports whether data looks like a Berkeley DB hash file: the hash
// magic number at offset 12 of the meta page, in either byte order.
func Sniff(data []byte) bool {
	if len(data) < offMagic+4 {
		return false
	}
	m := data[offMagic : offMagic+4]
	le := uint32(m[0]) | uint32(m[1])<<8 | uint32(m[2])<<16 | uint32(m[3])<<24
	be := uint32(m[3]) | uint32(m[2])<<8 | uint32(m[1])<<16 | uint32(m[0])<<24
	return le == hashMagic || be == hashMagic
}
