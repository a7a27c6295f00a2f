package pivot

// PAYMENT.* callbacks to a session's callbackUrl, with X-API-Key, and
// Pivot's retry rules.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestPivotCallbacks: a session's outcome is POSTed to its callbackUrl as
// {"event","data"} with X-API-Key = the merchant's callback secret; steps
// between are not told; a 400 answer is not retried.
func TestPivotCallbacks(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	secret := s.CallbackSecret(s.Dev.SecretKey)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("callback secret %q", secret)
	}
	rv := harness.NewRecorder(t, "/pivot/callback")
	v := harness.PivotAPISession(t, s, tok, map[string]any{"callbackUrl": rv.URL})
	id := harness.Str(v, "id")
	r := harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON("4000002500003155", "123"), true)})
	d := harness.PivotOK(t, "confirm", r)
	harness.PassChallenge(t, harness.Str(d, "paymentUrl"))
	s.Call("GET", "/pivot/v2/payments/"+id, tok, nil) // a read settles the session
	harness.WaitUntil(t, 15*time.Second, "the PAYMENT.PAID callback", func() bool { return len(rv.Hits()) >= 1 })
	time.Sleep(300 * time.Millisecond)
	hooks := rv.Hits()
	if len(hooks) != 1 {
		t.Fatalf("%d callbacks, want 1 (the outcome only)", len(hooks))
	}
	h := hooks[0]
	if h.Header.Get("X-API-Key") != secret || h.Header.Get("Content-Type") != "application/json" || h.JSON()["event"] != "PAYMENT.PAID" ||
		harness.Str(h.JSON(), "data", "id") != id || harness.Str(h.JSON(), "data", "status") != "PAID" ||
		harness.Str(harness.Dig(h.JSON(), "data", "chargeDetails").([]any)[0], "paidAt") == "" {
		t.Errorf("callback: %v %v", h.Header, h.JSON())
	}

	// A receiver answering 400 gets one attempt: Pivot retries only 5xx, 408, 429.
	bad := harness.NewRecorder(t, "/pivot/callback")
	bad.Status = 400
	v = harness.PivotAPISession(t, s, tok, map[string]any{"callbackUrl": bad.URL})
	harness.PivotOK(t, "confirm", harness.PivotConfirm(s, tok, harness.Str(v, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON("4242424242424242", "123"), false)}))
	// The delivery's own record says when the dispatcher has finished with
	// it: failed, nothing scheduled. Only then is the receiver's count final.
	var last any
	harness.WaitUntil(t, 15*time.Second, "the 400 delivery to end", func() bool {
		for _, e := range s.Events(t, s.Dev.SecretKey, "") {
			if e["type"] != "session.succeeded" || harness.Dig(e, "data", "object", "id") != harness.Str(v, "id") {
				continue
			}
			full := s.Call("GET", "/v1/events/"+e["id"].(string), s.Dev.SecretKey, nil).Want(t, 200)
			for _, dl := range full.Body["deliveries"].([]any) {
				if harness.Str(dl, "url") == bad.URL {
					last = dl
					return harness.Str(dl, "status") == "failed"
				}
			}
		}
		return false
	})
	if harness.Dig(last, "next_attempt") != nil {
		t.Errorf("the 400 delivery is scheduled again: %v", last)
	}
	if n := len(bad.Hits()); n != 1 {
		t.Errorf("a 400 answer was retried: %d attempts", n)
	}

	// Cancelled (the card holder's cancel on the hosted page) and expired are told too.
	ex := harness.NewRecorder(t, "/pivot/callback")
	v = harness.PivotAPISession(t, s, tok, map[string]any{"callbackUrl": ex.URL})
	s.ExpireSession(t, harness.Str(v, "id"))
	s.Call("GET", "/pivot/v2/payments/"+harness.Str(v, "id"), tok, nil)
	harness.WaitUntil(t, 15*time.Second, "the PAYMENT.EXPIRED callback", func() bool { return len(ex.Hits()) >= 1 })
	if e := ex.Hits()[0]; e.JSON()["event"] != "PAYMENT.EXPIRED" || harness.Str(e.JSON(), "data", "status") != "EXPIRED" {
		t.Errorf("expired callback: %v", e.JSON())
	}
}

// TestPivotCallbackRetrySchedule: a PAYMENT.PAID callback carries
// X-API-Key, and a 503 answer is retried on Pivot's schedule: the first
// retry 5 minutes later.
func TestPivotCallbackRetrySchedule(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	rv := harness.NewRecorder(t, "/pivot/callback")
	rv.Status = http.StatusServiceUnavailable
	d := paid(t, s, tok, "4242424242424242", map[string]any{"callbackUrl": rv.URL})
	harness.WaitUntil(t, 15*time.Second, "the first callback attempt", func() bool { return len(rv.Hits()) >= 1 })
	h := rv.Hits()[0]
	if h.JSON()["event"] != "PAYMENT.PAID" || h.Header.Get("X-API-Key") == "" {
		t.Errorf("callback: %v %v", h.Header, h.JSON())
	}
	var next any
	harness.WaitUntil(t, 10*time.Second, "the delivery's next attempt", func() bool {
		for _, e := range s.Events(t, s.Dev.SecretKey, "") {
			if e["type"] != "session.succeeded" || harness.Dig(e, "data", "object", "id") != harness.Str(d, "id") {
				continue
			}
			full := s.Call("GET", "/v1/events/"+e["id"].(string), s.Dev.SecretKey, nil).Want(t, 200)
			for _, dl := range full.Body["deliveries"].([]any) {
				// The receiver sees the request before the dispatcher records
				// its answer: until an attempt is logged, next_attempt is the
				// first attempt's time, not the retry's.
				tried, _ := harness.Dig(dl, "attempts").([]any)
				if harness.Str(dl, "url") == rv.URL && len(tried) >= 1 && harness.Dig(dl, "next_attempt") != nil {
					next = harness.Dig(dl, "next_attempt")
					return true
				}
			}
		}
		return false
	})
	var at time.Time
	switch n := next.(type) {
	case string:
		at, _ = time.Parse(time.RFC3339, n)
	case float64:
		at = time.Unix(int64(n), 0)
	}
	if in := time.Until(at); in < 4*time.Minute || in > 5*time.Minute+5*time.Second {
		t.Errorf("next attempt in %v (%v), want 5 minutes", in, next)
	}
}
