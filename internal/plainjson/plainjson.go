// Package plainjson appends JSON values exactly as encoding/json writes them,
// without reflection, for the plain values a hot path carries: printable
// ASCII strings that need no escape, times json can encode, flat string
// maps. Each function reports whether it could; a caller that gets false
// renders the whole value with encoding/json instead, so the bytes never
// differ from json.Marshal's. The tokenize path rendered its token view and
// verification with json.Marshal at ~6 µs per request on a CPU-bound server.
package plainjson

import (
	"slices"
	"strconv"
	"time"
)

// Plain reports whether s is printable ASCII that encoding/json writes as it
// is: no control characters, quote, backslash, non-ASCII, or the three
// characters it escapes for HTML (<, >, &).
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// String appends s as a JSON string; false when s is not Plain (b is then
// returned as it came).
func String(b []byte, s string) ([]byte, bool) {
	if !Plain(s) {
		return b, false
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// More appends name (already JSON: `,"key":`) and then s as String does,
// but only while ok: a value's appender writes every field through it and
// checks once at its end. On false b is returned as it came.
func More(b []byte, ok bool, name, s string) ([]byte, bool) {
	if !ok {
		return b, false
	}
	n := len(b)
	if b, ok = String(append(b, name...), s); !ok {
		return b[:n], false
	}
	return b, true
}

// OmitEmpty is More for a field tagged omitempty.
func OmitEmpty(b []byte, ok bool, name, s string) ([]byte, bool) {
	if s == "" {
		return b, ok
	}
	return More(b, ok, name, s)
}

// OptionalString appends s, or null when it is nil, as encoding/json writes
// a *string.
func OptionalString(b []byte, s *string) ([]byte, bool) {
	if s == nil {
		return append(b, "null"...), true
	}
	return String(b, *s)
}

// Int appends i as encoding/json writes any Go integer.
func Int(b []byte, i int64) []byte { return strconv.AppendInt(b, i, 10) }

// Time appends t as time.Time's MarshalJSON does (RFC 3339 with the
// nanoseconds it has); false for what MarshalJSON refuses or might: a year
// outside 0–9999, a zone offset of a day or more.
func Time(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// StringMap appends m as encoding/json writes a map[string]string: keys in
// byte order; a nil map is null. False when any key or value is not Plain.
func StringMap(b []byte, m map[string]string) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	if len(m) == 0 {
		return append(b, "{}"...), true
	}
	var small [8]string
	keys := small[:0]
	for k, v := range m {
		if !Plain(k) || !Plain(v) {
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":"`...)
		b = append(b, m[k]...)
		b = append(b, '"')
	}
	return append(b, '}'), true
}
