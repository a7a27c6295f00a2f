// Package id mints opaque, prefixed identifiers from crypto/rand.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// Lower-case base32 without padding keeps ids URL-safe, case-insensitive-safe
// and free of characters ('.', '/', '+') that other protocols treat specially.
// The alphabets are the standard ones in lower case, so ids look as they did
// when they were encoded in upper case and lowered (one copy fewer).
var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ordered is base32 whose alphabet (0-9, a-v) sorts like the values it
// encodes; the standard alphabet puts its digits after its letters.
var ordered = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// mint is prefix + "_" + e's encoding of raw, built in one allocation: ids
// are minted several times per request.
func mint(prefix string, e *base32.Encoding, raw []byte) string {
	var buf [96]byte
	b := sized(buf[:], len(prefix)+1+e.EncodedLen(len(raw)))[:0]
	b = append(append(b, prefix...), '_')
	return string(e.AppendEncode(b, raw))
}

// sized is n bytes of buf when it is long enough (a caller's array, on the
// stack), else new ones.
func sized(buf []byte, n int) []byte {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]byte, n)
}

// New returns prefix + "_" + 128 random bits.
func New(prefix string) string { return NewBits(prefix, 128) }

// NewBits returns prefix + "_" + at least bits random bits.
func NewBits(prefix string, bits int) string {
	var buf [32]byte
	b := sized(buf[:], (bits+7)/8)
	rand.Read(b) // crypto/rand.Read never fails on supported platforms (Go ≥1.24 panics instead)
	return mint(prefix, enc, b)
}

// HasPrefix reports whether s looks like an id minted with prefix.
func HasPrefix(s, prefix string) bool {
	return strings.HasPrefix(s, prefix+"_") && len(s) > len(prefix)+1 && len(s) <= 128
}

// NewOrdered returns prefix + "_" + a 48-bit millisecond timestamp followed by
// 128 random bits. Ids minted later sort later, so rows keyed by them are
// appended to the end of their indexes instead of landing on a random page:
// a group commit then writes a few pages instead of one per row. Use it for
// records whose creation time is not a secret (payments, events, audit
// records); never for tokens or keys.
func NewOrdered(prefix string) string { return NewOrderedBits(prefix, 128) }

// NewOrderedBits is NewOrdered with at least bits random bits after the time.
func NewOrderedBits(prefix string, bits int) string {
	var buf [40]byte
	b := sized(buf[:], 6+(bits+7)/8)
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b, ms[2:])
	rand.Read(b[6:])
	return mint(prefix, ordered, b)
}
