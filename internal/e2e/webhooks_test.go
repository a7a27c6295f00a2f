package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/coffer-vault/coffer/internal/app"
)

// withWebhookRetryBase shortens the first retry's delay.
func withWebhookRetryBase(d time.Duration) option {
	return func(c *app.Config) { c.WebhookRetryBase = d }
}

// receiver is a merchant's webhook endpoint: it verifies every delivery with
// the independent Standard Webhooks library and records what it accepted.
type receiver struct {
	URL    string
	t      testing.TB
	mu     sync.Mutex
	secret string
	fail   int // answer 500 to this many deliveries first
	calls  int
	got    []map[string]any // accepted events, in arrival order
	ids    map[string]int   // webhook-id → deliveries accepted
	bad    int              // deliveries whose signature did not verify
}

func newReceiver(t testing.TB) *receiver {
	rv := &receiver{t: t, ids: map[string]int{}}
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
		if rv.fail > 0 {
			rv.fail--
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

// ofType lists the accepted events of a type.
func (rv *receiver) ofType(typ string) []map[string]any {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	var out []map[string]any
	for _, e := range rv.got {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func (rv *receiver) register(t testing.TB, s *server, key string, events ...string) string {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	r := s.call("POST", "/v1/webhook_endpoints", key, map[string]any{"url": rv.URL, "events": events}).want(t, 201)
	if !strings.HasPrefix(r.str("secret"), "whsec_") {
		t.Fatalf("endpoint: %s", r.Raw)
	}
	rv.mu.Lock()
	rv.secret = r.str("secret")
	rv.mu.Unlock()
	return r.str("id")
}

func waitUntil(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhookRetries: a receiver that fails three times gets the event on
// the fourth attempt, every attempt signed, and the event's delivery log
// shows the four attempts with their status codes.
func TestWebhookRetries(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withWebhookRetryBase(100*time.Millisecond))...)
		sk := s.Dev.SecretKey
		rv := newReceiver(t)
		rv.fail = 3
		rv.register(t, s, sk, "payment.succeeded")
		p := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "card": card("4242424242424242")}), 201, "succeeded")
		waitUntil(t, 20*time.Second, "the event after three failures", func() bool { return len(rv.ofType("payment.succeeded")) == 1 })
		evs := s.call("GET", "/v1/events?type=payment.succeeded&object="+p["id"].(string), sk, nil).want(t, 200)
		data, _ := evs.Body["data"].([]any)
		if len(data) != 1 {
			t.Fatalf("events: %s", evs.Raw)
		}
		eid := dig(data[0], "id").(string)
		var ev resp
		waitUntil(t, 5*time.Second, "the log", func() bool {
			ev = s.call("GET", "/v1/events/"+eid, sk, nil).want(t, 200)
			return dig(ev.Body, "deliveries") != nil && len(dig(ev.Body, "deliveries").([]any)) == 1 &&
				dig(dig(ev.Body, "deliveries").([]any)[0], "status") == "succeeded"
		})
		atts := dig(dig(ev.Body, "deliveries").([]any)[0], "attempts").([]any)
		if len(atts) != 4 {
			t.Fatalf("attempts: %s", ev.Raw)
		}
		for i, a := range atts {
			want := float64(500)
			if i == 3 {
				want = 204
			}
			if dig(a, "status_code") != want || dig(a, "attempt") != float64(i+1) || dig(a, "at") == nil {
				t.Errorf("attempt %d: %v", i+1, a)
			}
		}
		if rv.bad != 0 || rv.ids[eid] != 1 {
			t.Errorf("bad signatures %d, accepted %d", rv.bad, rv.ids[eid])
		}
		if got := dig(rv.ofType("payment.succeeded")[0], "data", "object", "id"); got != p["id"] {
			t.Errorf("event object %v", got)
		}
	})
}

// TestWebhookSurvivesRestart: a delivery being retried when the server
// stops is delivered by the next server on the same data.
func TestWebhookSurvivesRestart(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		dir := t.TempDir()
		s := start(t, append(opts, withDataDir(dir), withWebhookRetryBase(300*time.Millisecond))...)
		sk := s.Dev.SecretKey
		rv := newReceiver(t)
		rv.fail = 1000 // down
		rv.register(t, s, sk, "payment.succeeded")
		payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "card": card("4242424242424242")}), 201, "succeeded")
		waitUntil(t, 10*time.Second, "a failed attempt", func() bool { rv.mu.Lock(); defer rv.mu.Unlock(); return rv.calls >= 1 })
		s.stop()
		rv.mu.Lock()
		rv.fail = 0 // the receiver recovers while Coffer is down
		rv.mu.Unlock()
		start(t, append(opts, withDataDir(dir), withWebhookRetryBase(300*time.Millisecond))...)
		waitUntil(t, 30*time.Second, "delivery after the restart", func() bool { return len(rv.ofType("payment.succeeded")) == 1 })
	})
}

// TestWebhooksThousandPayments: 1,000 payments make 1,000 payment.succeeded
// deliveries — none lost, none twice (nothing was retried).
func TestWebhooksThousandPayments(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	rv := newReceiver(t)
	rv.register(t, s, sk, "payment.succeeded")
	tok := s.call("POST", "/v1/tokens", sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	const n = 1000
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				r := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 100 + i, "token": tok})
				if r.Status != 201 {
					t.Errorf("payment %d: %d %s", i, r.Status, r.Raw)
					continue
				}
				ids <- r.str("id")
			}
		}()
	}
	wg.Wait()
	close(ids)
	waitUntil(t, 60*time.Second, "1,000 deliveries", func() bool { return len(rv.ofType("payment.succeeded")) >= n })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	seen := map[string]int{}
	for _, e := range rv.ofType("payment.succeeded") {
		seen[dig(e, "data", "object", "id").(string)]++
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("payment %s delivered %d times", id, seen[id])
		}
	}
	if len(seen) != n || rv.bad != 0 {
		t.Errorf("%d payments delivered, %d bad signatures", len(seen), rv.bad)
	}
}

// TestWebhookEndpoints: creation rules (http(s) only, no metadata or
// link-local address, event filters), secret rotation with both secrets
// valid, deletion, and the events list with filters.
func TestWebhookEndpoints(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	for _, bad := range []map[string]any{
		{"url": "ftp://shop.example/hooks"},
		{"url": "http://169.254.169.254/latest/meta-data"},
		{"url": "http://[fe80::1]/x"},
		{"url": "https://shop.example/hooks", "events": []string{"payment.exploded"}},
		{},
	} {
		r := s.call("POST", "/v1/webhook_endpoints", sk, bad)
		if r.Status != 400 || (r.str("error", "param") != "url" && r.str("error", "param") != "events") {
			t.Errorf("%v: %d %s", bad, r.Status, r.Raw)
		}
	}
	rv := newReceiver(t)
	epID := rv.register(t, s, sk, "token.*")
	if l := s.call("GET", "/v1/webhook_endpoints", sk, nil).want(t, 200); len(l.Body["data"].([]any)) != 1 || strings.Contains(string(l.Raw), "whsec_") {
		t.Errorf("list (must not show secrets): %s", l.Raw)
	}
	old := rv.secret
	rot := s.call("POST", "/v1/webhook_endpoints/"+epID+"/rotate_secret", sk, nil).want(t, 200)
	if rot.str("secret") == old || rot.str("previous_secret_expires") == "" {
		t.Fatalf("rotate: %s", rot.Raw)
	}
	// The receiver still knows only the old secret: deliveries carry both
	// signatures during the grace period, so it verifies.
	tokenize(t, s, sk, map[string]any{"card": card("5555555555554444")}).want(t, 201)
	waitUntil(t, 10*time.Second, "token.created with the old secret", func() bool { return len(rv.ofType("token.created")) == 1 })
	rv.mu.Lock()
	rv.secret = rot.str("secret")
	rv.mu.Unlock()
	tokenize(t, s, sk, map[string]any{"card": card("378282246310005")}).want(t, 201)
	waitUntil(t, 10*time.Second, "token.created with the new secret", func() bool { return len(rv.ofType("token.created")) == 2 })
	if len(rv.ofType("payment.succeeded")) != 0 {
		t.Errorf("a token.* endpoint got payment events")
	}
	evs := s.call("GET", "/v1/events?type=token.created&limit=1", sk, nil).want(t, 200)
	if d := evs.Body["data"].([]any); len(d) != 1 || evs.Body["has_more"] != true {
		t.Errorf("events page: %s", evs.Raw)
	}
	s.call("DELETE", "/v1/webhook_endpoints/"+epID, sk, nil).want(t, 200)
	s.call("GET", "/v1/webhook_endpoints/"+epID, sk, nil).want(t, 404)
	other := s.newMerchant("Other")
	s.call("GET", "/v1/events/"+dig(evs.Body["data"].([]any)[0], "id").(string), other.SecretKey, nil).want(t, 404)
}

// TestSessionStream: a WebSocket client of a 3-D Secure session sees it go
// open → requires_action → succeeded, and the stream closes at the end; the
// session's callback_url gets its events too.
func TestSessionStream(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	cb := newReceiver(t)
	sec, err := s.callbackSecret(sk)
	if err != nil {
		t.Fatal(err)
	}
	cb.secret = sec
	r := newSession(t, s, sk, map[string]any{"mode": "api", "amount": 2500, "callback_url": cb.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/sessions/" + r.str("id") + "/stream?client_secret=" + r.str("client_secret")
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var statuses []string
	read := func() {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v (so far %v)", err, statuses)
		}
		var v map[string]any
		json.Unmarshal(b, &v)
		statuses = append(statuses, v["status"].(string))
	}
	read()
	c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4000002500003155", "123")}).want(t, 200)
	read()
	submitOTP(t, c.str("next_action", "url"), "123456")
	read()
	if strings.Join(statuses, " → ") != "open → requires_action → succeeded" {
		t.Errorf("stream: %v", statuses)
	}
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("the stream did not close after the final state: %v", err)
	}
	waitUntil(t, 10*time.Second, "session.succeeded at the callback", func() bool { return len(cb.ofType("session.succeeded")) == 1 })
	if cb.bad != 0 {
		t.Errorf("%d callback deliveries failed verification", cb.bad)
	}
	// Bad credentials get no stream.
	if _, _, err := websocket.Dial(ctx, strings.Replace(wsURL, "client_secret=", "client_secret=x", 1), nil); err == nil {
		t.Errorf("a wrong client secret opened the stream")
	}
}

// callbackSecret reads the merchant's callback signing secret.
func (s *server) callbackSecret(key string) (string, error) {
	r := s.call("GET", "/v1/merchant", key, nil)
	return r.str("callback_secret"), nil
}
