package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/metrics"
	"github.com/coffer-vault/coffer/internal/store"
)

// nopWriter is a ResponseWriter that keeps nothing but its header map, so
// that a benchmark measures the middleware, not a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkObserve is the per-request cost of the middleware around a
// handler that writes a tiny body, with the production log handler
// writing to nowhere: what /healthz pays beyond a bare net/http handler.
func BenchmarkObserve(b *testing.B) {
	a := &API{log: slog.New(logging.NewJSONHandler(discardWriter{}, nil)), maxBody: DefaultMaxBody}
	body := []byte(`{"status":"ok"}`)
	healthz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = "GET /healthz" // as the mux sets it
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.Write(body)
	})
	h := a.observe(healthz)
	hm := (&API{log: a.log, maxBody: DefaultMaxBody, metrics: metrics.New()}).observe(healthz)
	for _, tc := range []struct {
		name, rid string
		h         http.Handler
	}{{"minted_id", "", h}, {"client_id", "client-req.42:abc", h}, {"client_id_metrics", "client-req.42:abc", hm}} {
		h := tc.h
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/healthz", nil)
			if tc.rid != "" {
				r.Header.Set("X-Request-Id", tc.rid)
			}
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// syncBuffer collects log lines written from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// TestObserveAccessLine: one line per request with exactly the fields the
// access log has always had; a client's request id is kept when it is
// well formed and replaced when it is not or could hide a card number.
func TestObserveAccessLine(t *testing.T) {
	var buf syncBuffer
	h := New(Config{Service: fakeService{auth: noKey}, Logger: slog.New(logging.NewJSONHandler(&buf, nil))})
	for _, tc := range []struct {
		rid  string
		keep bool
	}{
		{"", false},
		{"client-req.42:abc_Z", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"bad/slash", false},
		{"naïve", false},
		{"4242-4242-4242-4242", false}, // 16 digits: could be a card number
		{"id-12345678901", true},       // 11 digits
		{"id-123456789012", false},     // 12 digits
	} {
		buf.b.Reset()
		r := httptest.NewRequest("GET", "/healthz?q=secret", nil)
		if tc.rid != "" {
			r.Header.Set("X-Request-Id", tc.rid)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get("Request-Id")
		if tc.keep && got != tc.rid {
			t.Errorf("X-Request-Id %q: answered %q, want it kept", tc.rid, got)
		}
		if !tc.keep && (got == tc.rid || !strings.HasPrefix(got, "req_") || len(got) != 4+26 || strings.ToLower(got) != got) {
			t.Errorf("X-Request-Id %q: answered %q, want a minted req_ id", tc.rid, got)
		}
		lines := buf.lines(t)
		if len(lines) != 1 {
			t.Fatalf("%d log lines, want 1", len(lines))
		}
		l := lines[0]
		want := map[string]any{"level": "INFO", "msg": "request", "request_id": got, "method": "GET", "path": "/healthz",
			"status": float64(200), "bytes": float64(len(w.Body.Bytes()))}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("log %s = %v, want %v (line %v)", k, l[k], v, l)
			}
		}
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("log duration_ms missing: %v", l)
		}
		if _, ok := l["time"].(string); !ok {
			t.Errorf("log time missing: %v", l)
		}
		if len(l) != len(want)+2 {
			t.Errorf("log line has fields %v", l)
		}
	}
}

// TestObserveMerchantAndPanic: an authenticated request logs its
// merchant; a panicking handler answers 500 and logs the panic and an
// error-level access line.
func TestObserveMerchantAndPanic(t *testing.T) {
	var buf syncBuffer
	m := &store.Merchant{ID: "mer_test"}
	h := New(Config{Service: fakeService{auth: func(string) (*store.Merchant, error) { return m, nil }},
		Logger: slog.New(logging.NewJSONHandler(&buf, nil))})
	r := httptest.NewRequest("GET", "/v1/merchant", nil)
	r.Header.Set("Authorization", "Bearer sk_test")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // fakeService has no GetMerchant: the handler panics
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
	lines := buf.lines(t)
	if len(lines) != 2 || lines[0]["msg"] != "panic" || lines[1]["msg"] != "request" {
		t.Fatalf("lines %v", lines)
	}
	if lines[0]["request_id"] != lines[1]["request_id"] || lines[0]["stack"] == nil || lines[0]["level"] != "ERROR" {
		t.Errorf("panic line %v", lines[0])
	}
	if l := lines[1]; l["merchant"] != "mer_test" || l["status"] != float64(500) || l["level"] != "ERROR" || l["path"] != "/v1/merchant" {
		t.Errorf("access line %v", l)
	}
}

// TestObserveBodyLimit: bodies beyond the limit are cut off.
func TestObserveBodyLimit(t *testing.T) {
	a := &API{log: slog.New(slog.DiscardHandler), maxBody: 10}
	var n int64
	var err error
	h := a.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err = io.Copy(io.Discard, r.Body)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat("x", 100))))
	var mbe *http.MaxBytesError
	if n != 10 || !errors.As(err, &mbe) {
		t.Errorf("read %d bytes, err %v; want 10 and a MaxBytesError", n, err)
	}
}

// FuzzRequestIDOK: the byte loop accepts exactly what the pattern it
// replaced accepted, less ids of a dozen digits or more.
func FuzzRequestIDOK(f *testing.F) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	for _, s := range []string{"", "a", "req_1", "4242 4242", "x\n", "ab:cd.ef-gh_ij", strings.Repeat("9", 12), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits := 0
		for _, c := range []byte(s) {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if want := pattern.MatchString(s) && digits < 12; requestIDOK(s) != want {
			t.Fatalf("requestIDOK(%q) = %v, want %v", s, !want, want)
		}
	})
}

// TestNewRequestID: the minted id has id.New's shape.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v := newRequestID()
		// Not requestIDOK: that is the rule for ids clients send, and a
		// minted id may by chance hold a dozen of base32's digits 2–7.
		if !id.HasPrefix(v, "req") || len(v) != len(id.New("req")) || strings.Trim(v[4:], "abcdefghijklmnopqrstuvwxyz234567") != "" || seen[v] {
			t.Fatalf("bad or repeated request id %q", v)
		}
		seen[v] = true
	}
}

type patternSpy struct {
	mu  sync.Mutex
	got []string
}

func (p *patternSpy) ObserveHTTP(pattern, method string, status int, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, fmt.Sprintf("%s|%s|%d", pattern, method, status))
}

// TestObserveReportsPattern: the metrics hook is given the pattern that
// routed the request, never the path with its ids.
func TestObserveReportsPattern(t *testing.T) {
	spy := &patternSpy{}
	h := New(Config{Service: fakeService{auth: noKey}, Metrics: spy})
	for _, target := range []string{"/healthz", "/v1/tokens/tok_secretid123", "/no/such/route"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	want := []string{"GET /healthz|GET|200", "GET /v1/tokens/{id}|GET|401", "/|GET|404"}
	if fmt.Sprint(spy.got) != fmt.Sprint(want) {
		t.Errorf("observed %q, want %q", spy.got, want)
	}
}
