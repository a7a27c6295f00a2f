package simulator

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// verifyBook is one generation of the verification memory. A busy server keeps
// 50,000 to 100,000 verifications for as long as it runs, and held as Go values
// (a record, its strings and map entries, several objects each) they were most
// of the live heap: every collector cycle marked them all again, which
// stretched each cycle's mark phase, and requests served during a mark phase
// are the slow ones. So a book keeps nothing the collector has to look into:
// records are encoded one after another in byte chunks, and found through maps
// from a seeded hash to a position, whose keys and values hold no pointers.
// Records with one hash are chained through the positions stored in each
// record, so a lookup compares the stored id or reference itself: a hash
// collision costs a step, never a wrong answer.
//
// Verifications are voided when they are made, so a record never changes after
// it is stored: the book only adds, finds and counts.
type verifyBook struct {
	mu     sync.Mutex
	seed   maphash.Seed
	mask   uint64 // ^0; a test sets 0 to chain every record under one hash
	chunks [][]byte
	byID   map[uint64]uint64 // hash of the id → position+1 of the newest record with that hash
	byRef  map[uint64]uint64 // hash of merchant and reference → position+1 of the newest such record
	stats  Stats
}

// verifyChunk is the size of a book's chunks: big enough that a generation
// is a few dozen objects, small enough that a new one is no burst of memory.
const verifyChunk = 256 << 10

// A record starts with the positions (+1) of the next older records with the
// same id hash and the same reference hash; its fields follow (appendFields).
const recordLinks = 16

var errVerificationCaptured = errors.New("simulator: a verification is never captured")

func newVerifyBook() *verifyBook {
	return &verifyBook{seed: maphash.MakeSeed(), mask: ^uint64(0), byID: map[uint64]uint64{}, byRef: map[uint64]uint64{}}
}

func (v *verifyBook) idHash(id string) uint64 { return maphash.String(v.seed, id) & v.mask }

func (v *verifyBook) refHash(merchant, reference string) uint64 {
	var h maphash.Hash
	h.SetSeed(v.seed)
	h.WriteString(merchant)
	h.WriteByte(0)
	h.WriteString(reference)
	return h.Sum64() & v.mask
}

// record returns the bytes of the record at position pos+1 (as the maps and
// links hold it).
func (v *verifyBook) record(pos1 uint64) []byte {
	pos := pos1 - 1
	return v.chunks[pos>>32][uint32(pos):]
}

func link(rec []byte, i int) uint64 { return binary.LittleEndian.Uint64(rec[8*i:]) }

// InsertAuth stores a copy of a: ErrDuplicate when its id, or its
// merchant's non-empty reference, is taken (the authBook rules.go uses).
func (v *verifyBook) InsertAuth(a *AuthRecord) error {
	if a.CaptureID != "" {
		return errVerificationCaptured
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	idh, refh := v.idHash(a.ID), v.refHash(a.Merchant, a.Reference)
	if v.findID(idh, a.ID) != 0 {
		return ErrDuplicate
	}
	if a.Reference != "" && v.findRef(refh, a.Merchant, a.Reference) != 0 {
		return ErrDuplicate
	}
	size := recordLinks + fieldsLen(a)
	last := len(v.chunks) - 1
	if last < 0 || len(v.chunks[last])+size > cap(v.chunks[last]) {
		v.chunks = append(v.chunks, make([]byte, 0, max(verifyChunk, size)))
		last++
	}
	c := v.chunks[last]
	pos1 := uint64(last)<<32 | uint64(len(c)) + 1
	c = binary.LittleEndian.AppendUint64(c, v.byID[idh])
	c = binary.LittleEndian.AppendUint64(c, v.byRef[refh])
	v.chunks[last] = appendFields(c, a)
	v.byID[idh], v.byRef[refh] = pos1, pos1
	v.stats.Authorizations++
	if a.State == StateVoided {
		v.stats.Voids++
	}
	return nil
}

// findID returns the position+1 of the record with this id, or 0.
func (v *verifyBook) findID(h uint64, id string) uint64 {
	for pos1 := v.byID[h]; pos1 != 0; {
		rec := v.record(pos1)
		f := fieldReader{rec[recordLinks:]}
		if string(f.bytes()) == id {
			return pos1
		}
		pos1 = link(rec, 0)
	}
	return 0
}

// findRef returns the position+1 of the newest record of merchant under
// reference, or 0.
func (v *verifyBook) findRef(h uint64, merchant, reference string) uint64 {
	for pos1 := v.byRef[h]; pos1 != 0; {
		rec := v.record(pos1)
		f := fieldReader{rec[recordLinks:]}
		f.bytes() // id
		if string(f.bytes()) == merchant && string(f.bytes()) == reference {
			return pos1
		}
		pos1 = link(rec, 1)
	}
	return 0
}

// Authorization returns a copy of the record with this id, or ErrNoRecord.
func (v *verifyBook) Authorization(id string) (*AuthRecord, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if pos1 := v.findID(v.idHash(id), id); pos1 != 0 {
		return decodeRecord(v.record(pos1)), nil
	}
	return nil, ErrNoRecord
}

// AuthByReference returns a copy of merchant's record under a non-empty
// reference, or ErrNoRecord.
func (v *verifyBook) AuthByReference(merchant, reference string) (*AuthRecord, error) {
	if reference == "" {
		return nil, ErrNoRecord
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if pos1 := v.findRef(v.refHash(merchant, reference), merchant, reference); pos1 != 0 {
		return decodeRecord(v.record(pos1)), nil
	}
	return nil, ErrNoRecord
}

// countReference counts merchant's records under reference ("" counts those
// made without one). It walks the reference's chain: it serves tests and
// tools, not requests.
func (v *verifyBook) countReference(merchant, reference string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for pos1 := v.byRef[v.refHash(merchant, reference)]; pos1 != 0; {
		rec := v.record(pos1)
		f := fieldReader{rec[recordLinks:]}
		f.bytes() // id
		if string(f.bytes()) == merchant && string(f.bytes()) == reference {
			n++
		}
		pos1 = link(rec, 1)
	}
	return n
}

func (v *verifyBook) counts() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stats
}

// The fields of a record, in this order: the id, merchant and reference
// first (lookups read only those), then the other strings, the amounts and
// times, and the decline when there is one.
func appendFields(b []byte, a *AuthRecord) []byte {
	for _, s := range [...]string{a.ID, a.Merchant, a.Reference, a.Currency, a.AuthCode, a.AVSResult, a.CVCResult, a.State} {
		b = appendString(b, s)
	}
	for _, n := range [...]int64{a.Amount, a.Captured, a.Refunded, unixNano(a.Created), unixNano(a.Updated)} {
		b = binary.AppendVarint(b, n)
	}
	if a.Decline == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	for _, s := range [...]string{a.Decline.Code, a.Decline.DeclineCode, a.Decline.Message} {
		b = appendString(b, s)
	}
	return b
}

func fieldsLen(a *AuthRecord) int {
	n := 1 + 5*binary.MaxVarintLen64
	for _, s := range [...]string{a.ID, a.Merchant, a.Reference, a.Currency, a.AuthCode, a.AVSResult, a.CVCResult, a.State} {
		n += binary.MaxVarintLen64 + len(s)
	}
	if a.Decline != nil {
		n += 3*binary.MaxVarintLen64 + len(a.Decline.Code) + len(a.Decline.DeclineCode) + len(a.Decline.Message)
	}
	return n
}

// unixNano is t in nanoseconds since 1970, and 0 for the zero time (whose
// UnixNano is out of range).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeRecord reads the record at the start of rec (links included) into a
// new AuthRecord.
func decodeRecord(rec []byte) *AuthRecord {
	a, _ := decodeNext(rec)
	return a
}

// each calls fn with a copy of every record, oldest first.
func (v *verifyBook) each(fn func(*AuthRecord)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.chunks {
		for len(c) > 0 {
			var a *AuthRecord
			a, c = decodeNext(c)
			fn(a)
		}
	}
}

// decodeNext decodes the record at the start of rec and returns what
// follows it.
func decodeNext(rec []byte) (*AuthRecord, []byte) {
	f := fieldReader{rec[recordLinks:]}
	a := &AuthRecord{}
	for _, s := range [...]*string{&a.ID, &a.Merchant, &a.Reference, &a.Currency, &a.AuthCode, &a.AVSResult, &a.CVCResult, &a.State} {
		*s = string(f.bytes())
	}
	var created, updated int64
	for _, n := range [...]*int64{&a.Amount, &a.Captured, &a.Refunded, &created, &updated} {
		*n = f.varint()
	}
	a.Created, a.Updated = fromUnixNano(created), fromUnixNano(updated)
	if f.byte() == 1 {
		d := &DeclineRecord{}
		for _, s := range [...]*string{&d.Code, &d.DeclineCode, &d.Message} {
			*s = string(f.bytes())
		}
		a.Decline = d
	}
	return a, f.b
}

// fieldReader reads what appendFields wrote; the book wrote every record
// itself, so a short read is a bug, and it panics as slicing does.
type fieldReader struct{ b []byte }

func (f *fieldReader) bytes() []byte {
	n, k := binary.Uvarint(f.b)
	s := f.b[k : k+int(n)]
	f.b = f.b[k+int(n):]
	return s
}

func (f *fieldReader) varint() int64 {
	n, k := binary.Varint(f.b)
	f.b = f.b[k:]
	return n
}

func (f *fieldReader) byte() byte {
	c := f.b[0]
	f.b = f.b[1:]
	return c
}
