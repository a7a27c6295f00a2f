// Package totp implements time-based one-time passwords (RFC 6238) as
// authenticator apps show them: HMAC-SHA1 over 30-second steps, 6 digits,
// secrets of 20 random bytes written in base32. It knows nothing of users
// or storage: Verify tells the caller which step a code belongs to, and
// the caller refuses a step it has already accepted (a replayed code).
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"time"
)

// The parameters every authenticator app assumes when the otpauth URI
// names none; URI names them anyway.
const (
	Digits = 6
	Period = 30 // seconds
	// SecretSize is RFC 4226's recommended 160 bits, SHA-1's block of output.
	SecretSize = 20
	// Window is how many steps either side of now a code may belong to:
	// one absorbs clock drift between phone and server and a code typed
	// just as it changed, without widening the guess space much.
	Window = 1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrSecret is a secret that is not base32 of at least 10 bytes.
var ErrSecret = errors.New("totp: secret is not base32 of at least 80 bits")

// NewSecret returns a fresh secret of SecretSize random bytes in base32
// (32 letters and digits, no padding).
func NewSecret() string {
	b := make([]byte, SecretSize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return b32.EncodeToString(b)
}

// EncodeSecret writes a key as NewSecret does: base32 without padding.
func EncodeSecret(key []byte) string { return b32.EncodeToString(key) }

// DecodeSecret reads a base32 secret as people copy it: spaces, dashes,
// lower case and padding are allowed.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '=', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(s))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 10 {
		return nil, ErrSecret
	}
	return b, nil
}

// Step is the number of the 30-second step t falls in.
func Step(t time.Time) int64 { return floorDiv(t.Unix(), Period) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// HOTP is RFC 4226's code for a counter, with digits digits (6 to 8).
func HOTP(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	out := []byte(strings.Repeat("0", digits))
	v := bin % mod
	for i := digits - 1; i >= 0; i-- {
		out[i] = byte('0' + v%10)
		v /= 10
	}
	return string(out)
}

// CodeAt is the 6-digit code of a step. A step before the epoch has no
// code (""): counters are unsigned.
func CodeAt(key []byte, step int64) string {
	if step < 0 {
		return ""
	}
	return HOTP(key, uint64(step), Digits)
}

// Code is the 6-digit code at time t.
func Code(key []byte, t time.Time) string { return CodeAt(key, Step(t)) }

// Verify reports whether code is key's code within Window steps of t, and
// of which step (the latest, should two share a code): the caller must
// refuse a step it has already accepted. Spaces in the code are ignored
// (apps show "123 456"). Every step of the window is compared, in constant
// time, so timing tells nothing of which one, if any, matched.
func Verify(key []byte, code string, t time.Time) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != Digits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	now := Step(t)
	for s := now - Window; s <= now+Window; s++ {
		c := CodeAt(key, s)
		if subtle.ConstantTimeCompare([]byte(c), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// URI is the otpauth:// URI authenticator apps read from a QR code: the
// issuer names the service, account the user (their e-mail).
func URI(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"},
		"digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}
