package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSessionStream: a WebSocket client of a 3-D Secure session sees it go
// open → requires_action → succeeded, and the stream closes at the end; the
// session's callback_url gets its events too.
func TestSessionStream(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	cb := harness.NewReceiver(t)
	cb.SetSecret(s.CallbackSecret(sk))
	r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 2500, "callback_url": cb.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/sessions/" + r.Str("id") + "/stream?client_secret=" + r.Str("client_secret")
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
	c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000002500003155", "123")}).Want(t, 200)
	read()
	harness.SubmitOTP(t, c.Str("next_action", "url"), "123456")
	read()
	if strings.Join(statuses, " → ") != "open → requires_action → succeeded" {
		t.Errorf("stream: %v", statuses)
	}
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("the stream did not close after the final state: %v", err)
	}
	harness.WaitUntil(t, 10*time.Second, "session.succeeded at the callback", func() bool { return len(cb.OfType("session.succeeded")) == 1 })
	if _, bad, _ := cb.Counts(); bad != 0 {
		t.Errorf("%d callback deliveries failed verification", bad)
	}
	// Bad credentials get no stream.
	if _, _, err := websocket.Dial(ctx, strings.Replace(wsURL, "client_secret=", "client_secret=x", 1), nil); err == nil {
		t.Errorf("a wrong client secret opened the stream")
	}
}

// TestSessionStreamShowsIntermediateChanges: the stream polls the
// session every 250 ms and sends only what it finds then, so changes in
// between are lost: a declined attempt (session.updated, with last_error,
// attempts 1) followed at once by a successful one reaches the client as
// open → succeeded. The outbox has both events (EventsAfter exists for
// this), but the stream does not read it. "sends the session object on
// every change".
func TestSessionStreamShowsIntermediateChanges(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1500})
	id := r.Str("id")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := s.SessionStream(ctx, id, r.Str("client_secret"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), `"status":"open"`) {
		t.Fatalf("first frame: %s %v", b, err)
	}
	d := s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000000000000002", "123")})
	if d.Status != 402 {
		t.Fatalf("declined attempt: %d %s", d.Status, d.Raw)
	}
	s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")}).Want(t, 200)
	_, frames, _ := harness.StreamFrames(ctx, conn)
	sawDecline := false
	var statuses []string
	for _, f := range frames {
		statuses = append(statuses, fmt.Sprint(f["status"], "/", f["attempts"]))
		if f["status"] == "open" && f["attempts"] == float64(1) && harness.Dig(f, "last_error", "code") != nil {
			sawDecline = true
		}
	}
	if !sawDecline {
		t.Errorf("the stream never showed the declined attempt (session.updated is in the outbox: %v); frames (status/attempts): %v",
			harness.EventTypes(s.Events(t, sk, "object="+id)), statuses)
	}
}

// TestSessionStreamCredentialsAndClosing: the stream's credentials (own secret
// key or the session's client secret; not a wrong key, another merchant's
// key, a publishable key, another session's secret), the state first, one
// frame per change on a 3-D Secure session even with many streams and
// readers at once, exactly one session.succeeded, closing at canceled,
// expired by the sweeper and failed, no client secret in frames or logs.
func TestSessionStreamCredentialsAndClosing(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithSweepInterval(100*time.Millisecond))
	sk := s.Dev.SecretKey
	other := s.NewMerchant("Other")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 2500})
	id, cs := r.Str("id"), r.Str("client_secret")
	r2 := s.NewSession(t, sk, map[string]any{"amount": 100})
	for _, c := range []struct{ name, secret, key string }{
		{"no credential", "", ""},
		{"wrong secret key", "", "sk_test_" + strings.Repeat("x", 32)},
		{"another merchant's key", "", other.SecretKey},
		{"publishable key", "", s.Dev.PublishableKey},
		{"another session's secret", r2.Str("client_secret"), ""},
		{"truncated secret", cs[:len(cs)-1], ""},
	} {
		if conn, res, err := s.SessionStream(ctx, id, c.secret, c.key); err == nil {
			conn.CloseNow()
			t.Errorf("%s opened the stream", c.name)
		} else if res != nil && res.StatusCode != 401 && res.StatusCode != 404 {
			t.Errorf("%s: %d", c.name, res.StatusCode)
		}
	}

	// Many streams, by key and by client secret, plus concurrent readers.
	const n = 20
	type result struct {
		raw []string
		err error
	}
	results := make(chan result, n)
	var ready sync.WaitGroup
	for i := 0; i < n; i++ {
		key, secret := "", cs
		if i%2 == 0 {
			key, secret = sk, ""
		}
		conn, _, err := s.SessionStream(ctx, id, secret, key)
		if err != nil {
			t.Fatal(err)
		}
		ready.Add(1)
		go func() {
			defer conn.CloseNow()
			var raw []string
			first := true
			for {
				_, b, err := conn.Read(ctx)
				if first {
					ready.Done()
					first = false
				}
				if err != nil {
					results <- result{raw, err}
					return
				}
				raw = append(raw, string(b))
			}
		}()
	}
	ready.Wait()
	c := s.Call("POST", "/v1/sessions/"+id+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4000002500003155", "123")}).Want(t, 200)
	time.Sleep(600 * time.Millisecond)
	harness.SubmitOTP(t, c.Str("next_action", "url"), "123456")
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.Call("GET", "/v1/sessions/"+id, sk, nil) }()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		res := <-results
		var statuses []string
		for _, f := range res.raw {
			var v map[string]any
			json.Unmarshal([]byte(f), &v)
			statuses = append(statuses, v["status"].(string))
			if strings.Contains(f, cs) || strings.Contains(f, "client_secret") || strings.Contains(f, "4000002500003155") {
				t.Errorf("frame leaks: %s", f)
			}
		}
		if strings.Join(statuses, " ") != "open requires_action succeeded" || websocket.CloseStatus(res.err) != websocket.StatusNormalClosure {
			t.Errorf("stream: %v, close %v", statuses, res.err)
		}
	}
	harness.WantEventCounts(t, "3DS session", s.EventCounts(t, sk, id), map[string]int{"session.created": 1, "session.requires_action": 1, "session.succeeded": 1})

	// Canceled: the stream closes after showing it.
	closesAt := func(sessionID, secret string, act func(), want string) {
		t.Helper()
		conn, _, err := s.SessionStream(ctx, sessionID, secret, "")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if _, _, err := conn.Read(ctx); err != nil {
			t.Fatal(err)
		}
		act()
		_, frames, err := harness.StreamFrames(ctx, conn)
		if len(frames) == 0 || frames[len(frames)-1]["status"] != want || websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("stream of a session going %s: %v, %v", want, frames, err)
		}
	}
	closesAt(r2.Str("id"), r2.Str("client_secret"), func() { s.Call("POST", "/v1/sessions/"+r2.Str("id")+"/cancel", sk, nil).Want(t, 200) }, "canceled")

	// Expired by the sweeper (nobody reads it): its callback hears of it.
	cb := harness.NewReceiver(t)
	cb.SetSecret(s.CallbackSecret(sk))
	r3 := s.NewSession(t, sk, map[string]any{"amount": 100, "callback_url": cb.URL})
	closesAt(r3.Str("id"), r3.Str("client_secret"), func() { s.ExpireSession(t, r3.Str("id")) }, "expired")
	harness.WaitUntil(t, 10*time.Second, "session.expired at the callback", func() bool { return len(cb.OfType("session.expired")) == 1 })
	r4 := s.NewSession(t, sk, map[string]any{"amount": 100, "callback_url": cb.URL})
	s.ExpireSession(t, r4.Str("id"))
	harness.WaitUntil(t, 10*time.Second, "the sweeper's session.expired at the callback", func() bool { return len(cb.OfType("session.expired")) == 2 })
	for _, e := range cb.Events() {
		if o := harness.Dig(e, "data", "object", "id"); o != r3.Str("id") && o != r4.Str("id") {
			t.Errorf("callback got another session's event: %v", o)
		}
	}

	// Failed after five declined attempts.
	r5 := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 100})
	closesAt(r5.Str("id"), r5.Str("client_secret"), func() {
		for i := 0; i < 5; i++ {
			s.Call("POST", "/v1/sessions/"+r5.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r5, "4000000000000002", "123")})
		}
	}, "failed")

	if strings.Contains(s.Logs.String(), cs) || strings.Contains(s.Logs.String(), "client_secret=") {
		t.Errorf("a client secret from a stream URL is in the logs")
	}
}
