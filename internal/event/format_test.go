package event

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// okFormat is a provider-like format: a form POST carrying the event id,
// delivered only when the receiver answers the plain text OK; it sends
// nothing for "*.updated" events; with a schedule, it retries only 5xx.
type okFormat struct {
	mu       sync.Mutex
	requests int
	schedule bool
	fail     error // Request fails this way
}

func (f *okFormat) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if strings.HasSuffix(ev.Type, ".updated") {
		return nil, ErrSkip
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader("event="+ev.ID+"&merchant="+merchantID))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func (f *okFormat) Delivered(status int, body []byte) string {
	if why := Delivered2xx(status, body); why != "" {
		return why
	}
	if string(bytes.TrimSpace(body)) != "OK" {
		return "the receiver did not answer OK"
	}
	return ""
}

type scheduled struct{ *okFormat }

func (s scheduled) Retry(n, status int) (time.Duration, bool) {
	if status < 500 {
		return 0, false
	}
	return time.Duration(n) * 10 * time.Millisecond, true
}

// formReceiver answers the nth request with answer(n).
type formReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
	types  []string
}

func newFormReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *formReceiver {
	fr := &formReceiver{}
	fr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fr.mu.Lock()
		fr.bodies = append(fr.bodies, string(b))
		fr.types = append(fr.types, r.Header.Get("Content-Type"))
		n := len(fr.bodies)
		fr.mu.Unlock()
		answer(n, w)
	}))
	t.Cleanup(fr.srv.Close)
	return fr
}

func (fr *formReceiver) count() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return len(fr.bodies)
}

func (e *env) formatted(ev *store.Event, url, format string) *store.Delivery {
	e.t.Helper()
	now := time.Now().UTC()
	dl := &store.Delivery{ID: "dlv_" + ev.ID, MerchantID: e.m.ID, EventID: ev.ID, URL: url, Format: format,
		Status: store.DeliveryPending, NextAttempt: now, Created: now, Updated: now}
	e.write(func(tx store.Tx) error { return tx.InsertDelivery(dl) })
	return dl
}

// A formatted delivery is sent as its format renders it, and retried —
// even after 2xx answers — until the format's own test of the answer passes;
// the answer's body is judged but never logged.
func TestFormatDecidesRequestAndSuccess(t *testing.T) {
	e := newEnv(t)
	rc := newFormReceiver(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			io.WriteString(w, "received, secret-receiver-words") // 200, but not OK
			return
		}
		io.WriteString(w, "OK\r\n")
	})
	f := &okFormat{}
	c := e.config()
	c.Formats = map[string]Format{"okform": f}
	ev := e.event("session.succeeded")
	dl := e.formatted(ev, rc.srv.URL, "okform")
	stop := e.run(New(c))
	got := e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
	stop()
	if got.Attempts != 3 || rc.count() != 3 {
		t.Fatalf("%d attempts, %d requests; want 3 and 3", got.Attempts, rc.count())
	}
	as := e.attempts(dl.ID)
	for i, a := range as[:2] {
		if a.StatusCode != 200 || a.Error != "the receiver did not answer OK" {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	if as[2].Error != "" {
		t.Errorf("last attempt: %+v", as[2])
	}
	if rc.bodies[0] != "event="+ev.ID+"&merchant="+e.m.ID || rc.types[0] != "application/x-www-form-urlencoded" {
		t.Errorf("sent %q (%s), not the format's request", rc.bodies[0], rc.types[0])
	}
	if strings.Contains(e.logs.String(), "secret-receiver-words") {
		t.Error("a response body reached the logs")
	}
}

// An event the format does not send ends as skipped without a request.
func TestFormatSkip(t *testing.T) {
	e := newEnv(t)
	rc := newFormReceiver(t, func(int, http.ResponseWriter) {})
	c := e.config()
	c.Formats = map[string]Format{"okform": &okFormat{}}
	dl := e.formatted(e.event("session.updated"), rc.srv.URL, "okform")
	stop := e.run(New(c))
	got := e.waitStatus(dl.ID, store.DeliverySkipped, 10*time.Second)
	stop()
	if got.Attempts != 0 || rc.count() != 0 || len(e.attempts(dl.ID)) != 0 {
		t.Fatalf("skipped delivery: %d attempts, %d requests", got.Attempts, rc.count())
	}
}

// A format's schedule decides the retries: here it gives up at once on a
// 4xx, while a 5xx is retried.
func TestFormatSchedule(t *testing.T) {
	e := newEnv(t)
	rc := newFormReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(404)
	})
	c := e.config()
	c.RetryBase, c.MaxRetryDelay = time.Hour, time.Hour // the default backoff would never retry within the test
	c.Formats = map[string]Format{"sched": scheduled{&okFormat{}}}
	dl := e.formatted(e.event("session.succeeded"), rc.srv.URL, "sched")
	stop := e.run(New(c))
	got := e.waitStatus(dl.ID, store.DeliveryFailed, 10*time.Second)
	stop()
	if got.Attempts != 2 || got.LastStatus != 404 {
		t.Fatalf("delivery %+v, want 2 attempts ending with 404", got)
	}
}

// A delivery in a format the server does not know fails its attempts (and
// is retried: a newer server may know it); a format that cannot build its
// request records why without sending anything.
func TestFormatUnknownOrBroken(t *testing.T) {
	e := newEnv(t)
	rc := newFormReceiver(t, func(int, http.ResponseWriter) {})
	c := e.config()
	c.Formats = map[string]Format{"broken": &okFormat{fail: errors.New("no secret")}}
	unknown := e.formatted(e.event("session.succeeded"), rc.srv.URL, "nosuch")
	broken := e.formatted(e.event("session.failed"), rc.srv.URL, "broken")
	stop := e.run(New(c))
	waitFor(t, 10*time.Second, func() bool {
		return len(e.attempts(unknown.ID)) >= 2 && len(e.attempts(broken.ID)) >= 2
	}, func() string { return "no retried failures" })
	stop()
	if a := e.attempts(unknown.ID)[0]; a.Error != `unknown delivery format "nosuch"` || a.StatusCode != 0 {
		t.Errorf("unknown format attempt: %+v", a)
	}
	if a := e.attempts(broken.ID)[0]; a.Error != "the broken request could not be made" {
		t.Errorf("broken format attempt: %+v", a)
	}
	if rc.count() != 0 {
		t.Errorf("%d requests sent", rc.count())
	}
}

// Formatted deliveries obey the same address rules as webhooks.
func TestFormatRefusesForbiddenURL(t *testing.T) {
	e := newEnv(t)
	f := &okFormat{}
	c := e.config()
	c.AllowPrivate = false
	c.Formats = map[string]Format{"okform": f}
	dl := e.formatted(e.event("session.succeeded"), "http://127.0.0.1:9/cb", "okform")
	stop := e.run(New(c))
	waitFor(t, 10*time.Second, func() bool { return len(e.attempts(dl.ID)) >= 1 }, func() string { return "no attempt" })
	stop()
	if a := e.attempts(dl.ID)[0]; !strings.HasPrefix(a.Error, "URL not allowed") {
		t.Errorf("attempt %+v", a)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests != 0 {
		t.Error("the format was asked to render a delivery to a forbidden URL")
	}
}
