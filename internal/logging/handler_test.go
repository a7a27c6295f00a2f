package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// Card numbers in every form a careless log call might carry them.
var clear = []string{
	"4242424242424242",
	"4242 4242 4242 4242",
	"4242-4242-4242-4242",
	"378282246310005",
	"5555555555554444",
}

const (
	nonLuhnID = "4242424242424241"    // 16 digits, fails Luhn: an id
	unixNano  = "1773532800123456789" // fails Luhn
)

type cardHolder struct {
	Name   string
	Number string
	Amex   int64
}

type stringer struct{ pan string }

func (s stringer) String() string { return "card " + s.pan }

type valuer struct{ pan string }

func (v valuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("number", v.pan), slog.String("id", nonLuhnID))
}

func newLogger(buf *bytes.Buffer, opts *slog.HandlerOptions) *slog.Logger {
	return slog.New(NewJSONHandler(buf, opts))
}

func assertScrubbed(t *testing.T, out string, wantMasked ...string) {
	t.Helper()
	for _, c := range clear {
		if strings.Contains(out, c) {
			t.Errorf("output holds %q in clear:\n%s", c, out)
		}
	}
	for _, m := range wantMasked {
		if !strings.Contains(out, m) {
			t.Errorf("output lacks %q:\n%s", m, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not valid JSON: %s", line)
		}
	}
}

func TestHandlerScrubsEverything(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, nil).With(
		slog.String("with", "4242-4242-4242-4242"),
		slog.Group("g", slog.String("pan", "378282246310005")),
	).WithGroup("req")

	log.Info("charging 4242424242424242 now",
		slog.String("number", "4242 4242 4242 4242"),
		slog.Any("err", errors.New("declined card 5555555555554444")),
		slog.Any("wrapped", fmt.Errorf("vault: %w", errors.New("bad 4242424242424242"))),
		slog.Group("card", slog.String("n", "4242424242424242"), slog.Group("inner", slog.String("n", "378282246310005"))),
		slog.Any("holder", cardHolder{Name: "Abu", Number: "4242424242424242", Amex: 378282246310005}),
		slog.Any("map", map[string]any{"pan": "5555555555554444"}),
		slog.Any("stringer", stringer{"4242-4242-4242-4242"}),
		slog.Any("valuer", valuer{"5555555555554444"}),
		slog.Int64("int", 4242424242424242),
		slog.Uint64("uint", 5555555555554444),
		slog.Float64("float", 4242424242424242),
		slog.Duration("dur", 4242424242424242),
		slog.Duration("short", 1500*time.Millisecond),
		slog.String("4242424242424242", "key"),
		slog.String("id", nonLuhnID),
		slog.String("ts", unixNano),
		slog.Int64("ts_int", 1773532800123456789),
		slog.Int("amount", 1000),
	)
	out := buf.String()
	assertScrubbed(t, out, "424242******4242", "378282*****0005", "555555******4444",
		`"charging 424242******4242 now"`, `"with":"424242******4242"`, `"g":{"pan":"378282*****0005"}`,
		`"req":{`, `"err":"declined card 555555******4444"`, `"wrapped":"vault: bad 424242******4242"`,
		`"card":{"n":"424242******4242","inner":{"n":"378282*****0005"}}`,
		`"int":"424242******4242"`, `"uint":"555555******4444"`, `"float":"424242******4242"`,
		`"dur":"424242******4242"`, `"short":1500000000`,
		`"424242******4242":"key"`, `"stringer":"card 424242******4242"`,
		`"valuer":{"number":"555555******4444","id":"`+nonLuhnID+`"}`,
		`"map":{"pan":"555555******4444"}`,
		`"id":"`+nonLuhnID+`"`, `"ts":"`+unixNano+`"`, `"ts_int":`+unixNano, `"amount":1000`,
	)
	// A struct stays structured JSON when masking keeps it valid JSON;
	// a masked JSON number cannot, so the struct falls back to text.
	if !strings.Contains(out, `"holder":"{\"Name\":\"Abu\",\"Number\":\"424242******4242\",\"Amex\":378282*****0005}"`) {
		t.Errorf("holder not rendered as scrubbed text:\n%s", out)
	}
}

func TestHandlerKeepsCleanRecordsAsSlogWould(t *testing.T) {
	var got, want bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	logs := []*slog.Logger{newLogger(&got, opts), slog.New(slog.NewJSONHandler(&want, opts))}
	for _, l := range logs {
		l.With("svc", "coffer").WithGroup("req").Info("token <created> & saved",
			"id", nonLuhnID, "ts", 1773532800123456789, "n", 42, "ok", true,
			"holder", struct {
				Name string
				Tags []string
			}{"Abu <x>", []string{"a"}},
			"nil", nil, "bytes", []byte("hi"), "err", errors.New("boom"))
	}
	if got.String() != want.String() {
		t.Errorf("clean record changed:\n got %s\nwant %s", got.String(), want.String())
	}
}

func TestHandlerScrubsReplaceAttrResult(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, &slog.HandlerOptions{
		AddSource: true,
		Level:     slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "x" {
				return slog.String("x", "oops 4242424242424242")
			}
			return a
		},
	})
	log.Debug("hello", "x", "fine")
	assertScrubbed(t, buf.String(), `"x":"oops 424242******4242"`, `"level":"DEBUG"`, `"source":{"function":`)
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("marshal 4242424242424242") }

type badJSON struct{}

func (badJSON) MarshalJSON() ([]byte, error) { return nil, errors.New("failed on 4242424242424242") }

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s }

func TestHandlerSurvivesHostileValues(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, nil)
	log.Info("m", "p", panicky{}, "b", badJSON{}, "n", (*nilStringer)(nil), "ch", make(chan int))
	assertScrubbed(t, buf.String(), `"p":"!PANIC: marshal 424242******4242"`, "424242******4242", `"n":"<nil>"`)
}

func TestHandlerConcurrent(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	base := slog.New(NewJSONHandler(w, nil)).With("pan", "4242424242424242")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			l := base.WithGroup(fmt.Sprint("g", i))
			for range 50 {
				l.Info("card 4242 4242 4242 4242", "n", "378282246310005", "e", errors.New("5555555555554444"))
			}
		})
	}
	wg.Wait()
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 16*50 {
		t.Fatalf("got %d lines", n)
	}
	assertScrubbed(t, out, "424242******4242")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestHandlerEnabled(t *testing.T) {
	h := NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled does not follow opts.Level")
	}
	if h.WithGroup("") != h {
		t.Error(`WithGroup("") should return the handler itself`)
	}
}

func BenchmarkHandler(b *testing.B) {
	log := slog.New(NewJSONHandler(discard{}, nil))
	b.ReportAllocs()
	for b.Loop() {
		log.Info("payment captured", "merchant", "mer_8f3k2QzT", "payment", "pay_01HZX3K7", "amount", 1000, "currency", "MYR")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkLogLine is one access-log line (the fields observe writes)
// through the redacting JSON handler.
func BenchmarkLogLine(b *testing.B) {
	h := NewJSONHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("request_id", "req_kq3vx7d2m4ab5cdefghijklmno"), slog.String("method", "POST"),
			slog.String("path", "/v1/tokens/tok_abcdefghijklmnopqrstuvwxyz/validate"), slog.Int("status", 200),
			slog.Float64("duration_ms", 1.234), slog.Int("bytes", 312), slog.String("merchant", "mer_abcdefghijklmnopqrstuvwxyz"))
		h.Handle(ctx, r)
	}
}

// FuzzPlainAgreesWithScrub: the fast path never lets through an attribute
// the full path would have changed.
func FuzzPlainAgreesWithScrub(f *testing.F) {
	f.Add("k", "4242424242424242", int64(4242424242424242), 4242424242424242.0)
	f.Add("4242 4242 4242 4242", "v", int64(99), -1e11)
	f.Add("", "", int64(-378282246310005), 1e21)
	f.Fuzz(func(t *testing.T, key, s string, n int64, x float64) {
		for _, a := range []slog.Attr{slog.String(key, s), slog.Int64(key, n), slog.Uint64(key, uint64(n)),
			slog.Float64(key, x), slog.Duration(key, time.Duration(n)), slog.Bool(key, true),
			slog.Group(key, slog.String("s", s), slog.Int64("n", n))} {
			if _, changed := scrubAttr(a); plain(a) && changed {
				t.Fatalf("plain(%v) but scrubAttr changes it", a)
			}
		}
	})
}

// directAndSlog writes r through the direct path and through slog's JSON
// handler, and reports whether the direct path took it.
func directAndSlog(t *testing.T, r slog.Record) (got, want string, took bool) {
	t.Helper()
	var out, exp bytes.Buffer
	took, err := (&direct{w: &lockedWriter{w: &out}}).handle(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := slog.NewJSONHandler(&exp, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return out.String(), exp.String(), took
}

// TestDirectMatchesSlog: the direct path writes what slog would have, for
// the values whose formatting has corners.
func TestDirectMatchesSlog(t *testing.T) {
	when := time.Date(2026, 3, 15, 12, 0, 0, 123456789, time.FixedZone("MYT", 8*3600))
	strs := []string{"", "plain", `q"uote\\back`, "tab\tnl\ncr\r", "ctl\x00\x01\x1f\x7f", "<html>&amp;", "bad\xffutf8\xc3",
		"sep\u2028\u2029", "naïve 日本", "2026-03-15T12:00:00Z", "amount 1000 MYR 12345678901"}
	floats := []float64{0, math.Copysign(0, -1), 1.234, -0.5, 1e-6, 1e-7, 9.99e-7, 123456.789, 99999999999, 1.5e10, 1e-100, 0.1 + 0.2}
	for _, s := range strs {
		for i, f := range floats {
			r := slog.NewRecord(when, slog.Level(i-4), s, 0)
			r.AddAttrs(slog.String("s", s), slog.String(s+"k", "v"), slog.Float64("f", f), slog.Int("i", -i*1000),
				slog.Uint64("u", uint64(i)), slog.Bool("b", i%2 == 0), slog.Duration("d", time.Duration(i)*time.Second))
			got, want, took := directAndSlog(t, r)
			if !took || got != want {
				t.Fatalf("direct path (took %v):\n got %s\nwant %s", took, got, want)
			}
		}
	}
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "no time", 0)
	if got, want, took := directAndSlog(t, r); !took || got != want {
		t.Fatalf("zero time (took %v):\n got %s\nwant %s", took, got, want)
	}
	// What the direct path leaves to the long way, it writes nothing for.
	for _, a := range []slog.Attr{slog.String("pan", "4242424242424242"), slog.Int64("n", 424242424242), slog.Float64("nan", math.NaN()),
		slog.Any("err", errors.New("x")), slog.Group("g", slog.Int("n", 1)), slog.Time("t", when), {}, slog.String("", "v"),
		slog.String("4242424242424242", "v")} {
		r := slog.NewRecord(when, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.Int("first", 1), a)
		if got, _, took := directAndSlog(t, r); took || got != "" {
			t.Errorf("%v: direct path took it (%q)", a, got)
		}
	}
	if _, _, took := directAndSlog(t, slog.NewRecord(when, slog.LevelInfo, "card 4242424242424242", 0)); took {
		t.Error("direct path took a message with a card number")
	}
}

// FuzzDirectMatchesSlog: whatever the direct path writes, slog would have
// written byte for byte; whatever it refuses, it writes nothing for.
func FuzzDirectMatchesSlog(f *testing.F) {
	f.Add("request", "k", "v", int64(200), 1.5, int64(12))
	f.Add("m\n\x00", "k\"", "\xff\u2028", int64(-1), 1e-7, int64(-5))
	f.Fuzz(func(t *testing.T, msg, key, s string, n int64, x float64, lvl int64) {
		r := slog.NewRecord(time.Unix(0, n).UTC(), slog.Level(lvl), msg, 0)
		r.AddAttrs(slog.String(key, s), slog.Int64("n", n), slog.Float64("x", x), slog.Duration("d", time.Duration(n)),
			slog.Uint64("u", uint64(n)), slog.Bool("b", n > 0), slog.String("s2", s))
		got, want, took := directAndSlog(t, r)
		if took && got != want {
			t.Fatalf("direct path:\n got %s\nwant %s", got, want)
		}
		if !took && got != "" {
			t.Fatalf("refused yet wrote %q", got)
		}
	})
}
