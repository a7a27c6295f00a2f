package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Receiver is a merchant's webhook endpoint on loopback: it verifies every
// delivery with the independent Standard Webhooks library and records what
// it accepted.
type Receiver struct {
	URL string
	mu  sync.Mutex
	// Fail is how many deliveries are answered 500 before any is accepted.
	Fail   int
	secret string
	calls  int
	got    []map[string]any // accepted events, in arrival order
	ids    map[string]int   // webhook-id → deliveries accepted
	bad    int              // deliveries whose signature did not verify
}

// NewReceiver starts a receiver for the test's lifetime.
func NewReceiver(t testing.TB) *Receiver {
	rv := &Receiver{ids: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.calls++
		wh, err := standardwebhooks.NewWebhook(rv.secret)
		if err != nil || wh.Verify(body, r.Header) != nil {
			rv.bad++
			w.WriteHeader(400)
			return
		}
		if rv.Fail > 0 {
			rv.Fail--
			w.WriteHeader(500)
			return
		}
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil || e["id"] != r.Header.Get("webhook-id") {
			rv.bad++
			w.WriteHeader(400)
			return
		}
		rv.ids[r.Header.Get("webhook-id")]++
		rv.got = append(rv.got, e)
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + "/hooks"
	return rv
}

// Register makes the receiver a webhook endpoint of the key's merchant for
// events (all when none) and returns the endpoint's id.
func (rv *Receiver) Register(t testing.TB, s *Server, key string, events ...string) string {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	r := s.Call("POST", "/v1/webhook_endpoints", key, map[string]any{"url": rv.URL, "events": events}).Want(t, 201)
	if !strings.HasPrefix(r.Str("secret"), "whsec_") {
		t.Fatalf("endpoint: %s", r.Raw)
	}
	rv.SetSecret(r.Str("secret"))
	return r.Str("id")
}

// SetSecret sets the secret deliveries are verified with.
func (rv *Receiver) SetSecret(secret string) {
	rv.mu.Lock()
	rv.secret = secret
	rv.mu.Unlock()
}

// Events lists the accepted events in arrival order.
func (rv *Receiver) Events() []map[string]any {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]map[string]any(nil), rv.got...)
}

// OfType lists the accepted events of a type.
func (rv *Receiver) OfType(typ string) []map[string]any {
	var out []map[string]any
	for _, e := range rv.Events() {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

// Counts reports all requests, the ones refused for a bad signature, and
// how often each webhook-id was accepted.
func (rv *Receiver) Counts() (calls, bad int, perID map[string]int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	perID = make(map[string]int, len(rv.ids))
	for k, v := range rv.ids {
		perID[k] = v
	}
	return rv.calls, rv.bad, perID
}

// Hit is one request as a Recorder received it.
type Hit struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// JSON decodes the body as a JSON object (nil if it is not one).
func (h Hit) JSON() map[string]any {
	var m map[string]any
	json.Unmarshal(h.Body, &m)
	return m
}

// Recorder is a merchant's callback URL on loopback that checks nothing: it
// records every request and answers Status (200 unless set), or 500 to the
// first Fail of them — for the dialects' callbacks, which each test verifies
// in its provider's own way.
type Recorder struct {
	URL    string
	mu     sync.Mutex
	Status int
	Fail   int
	// Reply, when set, is written as the body of every answer that is not
	// a failure (e.g. senangPay's "OK").
	Reply string
	got   []Hit
}

// NewRecorder starts a recorder for the test's lifetime; path is appended
// to its URL.
func NewRecorder(t testing.TB, path string) *Recorder {
	rv := &Recorder{Status: 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.got = append(rv.got, Hit{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		if rv.Fail > 0 {
			rv.Fail--
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(rv.Status)
		io.WriteString(w, rv.Reply)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + path
	return rv
}

// Set changes what the recorder answers, safely while requests arrive.
func (rv *Recorder) Set(status, fail int, reply string) {
	rv.mu.Lock()
	rv.Status, rv.Fail, rv.Reply = status, fail, reply
	rv.mu.Unlock()
}

// Hits lists the requests received, in arrival order.
func (rv *Recorder) Hits() []Hit {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]Hit(nil), rv.got...)
}

// Await waits (15 s at most) until the recorder holds n requests and
// returns them all, with each POST body decoded (nil for other methods); a
// POST body that is not JSON fails the test.
func (rv *Recorder) Await(t testing.TB, n int) ([]Hit, []map[string]any) {
	t.Helper()
	WaitUntil(t, 15*time.Second, fmt.Sprintf("%d callbacks", n), func() bool { return len(rv.Hits()) >= n })
	hooks := rv.Hits()
	bodies := make([]map[string]any, len(hooks))
	for i, h := range hooks {
		if h.Method == http.MethodPost {
			if err := json.Unmarshal(h.Body, &bodies[i]); err != nil {
				t.Fatalf("callback %d is not JSON: %s", i, h.Body)
			}
		}
	}
	return hooks, bodies
}

// SetFail sets how many deliveries the receiver answers 500 before it
// accepts any, safely while deliveries arrive (Fail is for before they do).
func (rv *Receiver) SetFail(n int) {
	rv.mu.Lock()
	rv.Fail = n
	rv.mu.Unlock()
}

// Secret is the secret deliveries are verified with (set by Register or
// SetSecret), e.g. to compare with a rotated one.
func (rv *Receiver) Secret() string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.secret
}
