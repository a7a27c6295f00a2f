package logging

import (
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// direct writes the common record — a message and flat attributes of plain
// kinds (strings, integers, floats, bools, durations) in which Redact
// finds nothing to mask — straight to the writer, byte for byte as slog's
// JSON handler would, without slog's per-record state, its group
// bookkeeping or its float formatting through encoding/json. Every access
// log line is such a record. Anything else goes the long way (Handle's
// scrubbing, then slog's handler); handler_test's FuzzDirectMatchesSlog
// holds the two outputs equal.
//
// It writes synchronously, one Write per line, under the same lock as the
// slog handler it stands beside: a line is on its way to the writer when
// the call returns, so a crash right after it loses nothing.
type direct struct {
	w *lockedWriter
}

// lockedWriter serialises the direct path's writes with slog's handler's,
// which has a lock of its own that the direct path cannot take.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// bufPool holds line buffers; a buffer grown past maxPooled by an unusual
// line is dropped rather than kept for every later line.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooled = 16 << 10

// handle writes r and reports true, or reports false having written
// nothing when r needs the long way.
func (d *direct) handle(r slog.Record) (bool, error) {
	if !unmasked(r.Message) {
		return false, nil
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooled {
			bufPool.Put(bp)
		}
	}()
	b := append((*bp)[:0], '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return false, nil // slog writes an error here; let it
		}
		b = append(b, `"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendJSONString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	if !ok {
		*bp = b[:0]
		return false, nil
	}
	b = append(b, '}', '\n')
	*bp = b
	_, err := d.w.Write(b)
	return true, err
}

// unmasked reports whether Redact leaves s as it is; Redact allocates
// only when it masks something.
func unmasked(s string) bool { return Redact(s) == s }

// appendAttr appends ,"key":value for an attribute the direct path can
// write, or reports false.
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" || !unmasked(a.Key) {
		return b, false // empty keys have rules of their own in slog
	}
	v := a.Value
	start := len(b)
	b = append(b, ',')
	b = appendJSONString(b, a.Key)
	b = append(b, ':')
	switch v.Kind() {
	case slog.KindString:
		if !unmasked(v.String()) {
			return b[:start], false
		}
		return appendJSONString(b, v.String()), true
	case slog.KindInt64:
		if n := v.Int64(); n < minPANValue && n > -minPANValue {
			return strconv.AppendInt(b, n, 10), true
		}
	case slog.KindDuration:
		if n := int64(v.Duration()); n < minPANValue && n > -minPANValue {
			return strconv.AppendInt(b, n, 10), true
		}
	case slog.KindUint64:
		if n := v.Uint64(); n < minPANValue {
			return strconv.AppendUint(b, n, 10), true
		}
	case slog.KindFloat64:
		if f := v.Float64(); math.Abs(f) < minPANValue { // also refuses NaN, which slog reports as an error
			return appendJSONFloat(b, f), true
		}
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	}
	return b[:start], false
}

// appendJSONFloat formats f as encoding/json does (which is what slog
// calls): 'f' notation, or 'e' outside [1e-6, 1e21) with a one-digit
// negative exponent unpadded. f is finite.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString quotes s as slog's JSON handler does: encoding/json's
// escaping without the HTML escapes.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
