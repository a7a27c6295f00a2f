package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
)

// NewJSONHandler returns slog's JSON handler with every record scrubbed by
// Redact before it is written: the message, attribute keys and values,
// errors, fmt.Stringers and any other values (rendered as slog would render
// them, then scrubbed), inside groups and in WithAttrs/WithGroup alike.
// opts.ReplaceAttr, if set, runs as usual and its result is scrubbed too.
func NewJSONHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	if rep := o.ReplaceAttr; rep != nil {
		o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			a, _ = scrubAttr(rep(groups, a))
			return a
		}
	}
	lw := &lockedWriter{w: w}
	h := &handler{inner: slog.NewJSONHandler(lw, &o)}
	if o.ReplaceAttr == nil && !o.AddSource {
		h.direct = &direct{w: lw}
	}
	return h
}

// handler is immutable, so it is as safe for concurrent use as the handler
// it wraps.
type handler struct {
	inner slog.Handler
	// direct writes simple records itself; nil where slog's handler has
	// more to add (ReplaceAttr, the source, attributes or groups from With).
	direct *direct
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if h.direct != nil {
		if done, err := h.direct.handle(r); done {
			return err
		}
	}
	// Most records hold nothing that could be a card number: checking that
	// without copying them lets them through as they are.
	clean := unmasked(r.Message)
	if clean {
		r.Attrs(func(a slog.Attr) bool {
			clean = plain(a)
			return clean
		})
	}
	if clean {
		return h.inner.Handle(ctx, r)
	}
	msg := Redact(r.Message)
	changed := msg != r.Message
	var buf [8]slog.Attr
	attrs := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		a, c := scrubAttr(a)
		changed = changed || c
		attrs = append(attrs, a)
		return true
	})
	if !changed {
		return h.inner.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	nr.AddAttrs(attrs...)
	return h.inner.Handle(ctx, nr)
}

// plain reports, cheaply, that scrubAttr would leave a as it is:
// a key and string value Redact leaves alone, a number
// too small to be one, a bool, a time or a duration, or a group of such.
// Anything else (errors, structs, LogValuers) takes the full path.
func plain(a slog.Attr) bool {
	if !unmasked(a.Key) {
		return false
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return unmasked(v.String())
	case slog.KindInt64:
		n := v.Int64()
		return n < minPANValue && n > -minPANValue
	case slog.KindDuration:
		n := int64(v.Duration())
		return n < minPANValue && n > -minPANValue
	case slog.KindUint64:
		return v.Uint64() < minPANValue
	case slog.KindFloat64:
		f := math.Abs(v.Float64())
		return f < minPANValue || f >= 1e21 || math.IsNaN(f)
	case slog.KindBool, slog.KindTime:
		// A time is written in RFC 3339, whose digit groups are too short.
		return true
	case slog.KindGroup:
		for _, g := range v.Group() {
			if !plain(g) {
				return false
			}
		}
		return true
	}
	return false
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		scrubbed[i], _ = scrubAttr(a)
	}
	return &handler{inner: h.inner.WithAttrs(scrubbed)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{inner: h.inner.WithGroup(Redact(name))}
}

// scrubAttr returns a with card numbers masked and reports whether anything
// differs from what the inner handler would have been given.
func scrubAttr(a slog.Attr) (slog.Attr, bool) {
	key := Redact(a.Key)
	changed := key != a.Key
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		// Resolved here, once, so that what is written is exactly what was
		// scrubbed: a second LogValue call could return something else.
		v = v.Resolve()
		changed = true
	}
	v, c := scrubValue(v)
	return slog.Attr{Key: key, Value: v}, changed || c
}

// Integers of 11 or fewer digits cannot be card numbers; skipping them keeps
// counters and amounts off the slow path.
const minPANValue = 1e11

func scrubValue(v slog.Value) (slog.Value, bool) {
	switch v.Kind() {
	case slog.KindString:
		s := Redact(v.String())
		if s != v.String() {
			return slog.StringValue(s), true
		}
	case slog.KindInt64:
		if n := v.Int64(); n >= minPANValue || n <= -minPANValue {
			return scrubNumber(v, strconv.FormatInt(n, 10))
		}
	case slog.KindDuration:
		// The JSON handler writes a duration as its nanoseconds.
		if n := int64(v.Duration()); n >= minPANValue || n <= -minPANValue {
			return scrubNumber(v, strconv.FormatInt(n, 10))
		}
	case slog.KindUint64:
		if n := v.Uint64(); n >= minPANValue {
			return scrubNumber(v, strconv.FormatUint(n, 10))
		}
	case slog.KindFloat64:
		// encoding/json writes integral floats below 1e21 with every digit.
		if f := math.Abs(v.Float64()); f >= minPANValue && f < 1e21 {
			return scrubNumber(v, strconv.FormatFloat(v.Float64(), 'f', -1, 64))
		}
	case slog.KindGroup:
		attrs := v.Group()
		var out []slog.Attr
		for i, a := range attrs {
			s, c := scrubAttr(a)
			if c && out == nil {
				out = make([]slog.Attr, len(attrs))
				copy(out, attrs[:i])
			}
			if out != nil {
				out[i] = s
			}
		}
		if out != nil {
			return slog.GroupValue(out...), true
		}
	case slog.KindAny:
		return scrubAny(v.Any())
	}
	return v, false
}

// scrubNumber replaces a number by its masked text if its digits look like a
// card number; a masked number is no longer a number, so it becomes a string.
func scrubNumber(v slog.Value, text string) (slog.Value, bool) {
	if s := Redact(text); s != text {
		return slog.StringValue(s), true
	}
	return v, false
}

// scrubAny renders a value the way slog's JSON handler would — errors by
// their text, everything else with encoding/json — except that a
// fmt.Stringer is rendered with String(), the form its author chose to show.
// The rendering is then scrubbed and handed on pre-rendered, so that the
// bytes written are the bytes that were checked.
func scrubAny(x any) (slog.Value, bool) {
	switch x := x.(type) {
	case nil, slog.Level, *slog.Source:
		return slog.AnyValue(x), false
	case json.Marshaler:
		return scrubJSON(x)
	case error:
		// fmt guards against panics and nil receivers in Error and String.
		return slog.StringValue(Redact(fmt.Sprint(x))), true
	case fmt.Stringer:
		return slog.StringValue(Redact(fmt.Sprint(x))), true
	}
	return scrubJSON(x)
}

func scrubJSON(x any) (v slog.Value, changed bool) {
	defer func() {
		// slog survives a panicking MarshalJSON; so must the scrubber, and
		// the panic value is as untrusted as anything else.
		if p := recover(); p != nil {
			v, changed = slog.StringValue("!PANIC: "+Redact(fmt.Sprint(p))), true
		}
	}()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as slog does
	if err := enc.Encode(x); err != nil {
		return slog.StringValue("!ERROR:" + Redact(err.Error())), true
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	s := Redact(string(b))
	switch {
	case len(s) == len(b) && s == string(b):
		return slog.AnyValue(json.RawMessage(b)), true
	case json.Valid([]byte(s)):
		// Masking inside a JSON string keeps the document valid.
		return slog.AnyValue(json.RawMessage(s)), true
	}
	// Masking a JSON number does not; fall back to the text.
	return slog.StringValue(s), true
}
