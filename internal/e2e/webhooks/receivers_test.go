package webhooks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hangingReceiver is a receiver that never answers until released: a dead or
// black-holed merchant server. It counts the requests it holds.
type hangingReceiver struct {
	URL     string
	mu      sync.Mutex
	holding int
	total   int
}

// newHangingReceiver starts one for the test's lifetime; its held requests
// are let go when the test ends.
func newHangingReceiver(t testing.TB) *hangingReceiver {
	h := &hangingReceiver{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.holding++
		h.total++
		h.mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		h.mu.Lock()
		h.holding--
		h.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	h.URL = srv.URL
	return h
}

// held is how many requests it holds now.
func (h *hangingReceiver) held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holding
}

// rawReceiver is a receiver that keeps every request as it arrived.
type rawReceiver struct {
	URL   string
	mu    sync.Mutex
	fail  int // answer 503 to this many first
	reqs  []rawRequest
	reply func(w http.ResponseWriter) bool // optional: answers itself when it returns true
}

// rawRequest is one request as a rawReceiver got it.
type rawRequest struct {
	Header http.Header
	Body   []byte
}

// newRawReceiver starts one for the test's lifetime (its URL ends in /in).
func newRawReceiver(t testing.TB) *rawReceiver {
	rr := &rawReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rr.mu.Lock()
		defer rr.mu.Unlock()
		rr.reqs = append(rr.reqs, rawRequest{r.Header.Clone(), b})
		if rr.reply != nil && rr.reply(w) {
			return
		}
		if rr.fail > 0 {
			rr.fail--
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	rr.URL = srv.URL + "/in"
	return rr
}

// all lists the requests received, in arrival order.
func (rr *rawReceiver) all() []rawRequest {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]rawRequest(nil), rr.reqs...)
}

// verify checks a request's Standard Webhooks signature with secret.
func verify(secret string, q rawRequest) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.Verify(q.Body, q.Header)
}
