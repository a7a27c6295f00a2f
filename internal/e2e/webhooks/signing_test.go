package webhooks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestWebhookSigning: webhook-id is the event id on every attempt, the
// timestamp is fresh integer seconds, the body is the same bytes each time
// and is what was signed; during a rotation both secrets sign, and once
// previous_until has passed only the new one does.
func TestWebhookSigning(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(50*time.Millisecond))
	sk := s.Dev.SecretKey
	rr := newRawReceiver(t)
	rr.fail = 2
	ep := s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": rr.URL, "events": []string{"token.created"}}).Want(t, 201)
	oldSecret := ep.Str("secret")
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201)
	harness.WaitUntil(t, 15*time.Second, "three attempts", func() bool { return len(rr.all()) >= 3 })
	reqs := rr.all()
	for i, q := range reqs[:3] {
		if q.Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") || strings.Contains(q.Header.Get("webhook-id"), ".") ||
			string(q.Body) != string(reqs[0].Body) {
			t.Errorf("attempt %d: id %q body %s", i+1, q.Header.Get("webhook-id"), q.Body)
		}
		ts := q.Header.Get("webhook-timestamp")
		var n int64
		if _, err := fmt.Sscanf(ts, "%d", &n); err != nil || fmt.Sprint(n) != ts || time.Since(time.Unix(n, 0)).Abs() > time.Minute {
			t.Errorf("attempt %d: timestamp %q", i+1, ts)
		}
		if err := verify(oldSecret, q); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
		if strings.Contains(string(q.Body), "4242424242424242") || strings.Contains(string(q.Body), `"cvc"`) {
			t.Errorf("card data in the body: %s", q.Body)
		}
	}

	rot := s.Call("POST", "/v1/webhook_endpoints/"+ep.Str("id")+"/rotate_secret", sk, nil).Want(t, 200)
	n := len(rr.all())
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444")}).Want(t, 201)
	harness.WaitUntil(t, 10*time.Second, "a delivery after the rotation", func() bool { return len(rr.all()) > n })
	q := rr.all()[n]
	if sigs := strings.Fields(q.Header.Get("webhook-signature")); len(sigs) != 2 || verify(oldSecret, q) != nil || verify(rot.Str("secret"), q) != nil {
		t.Errorf("during the grace period: %q", q.Header.Get("webhook-signature"))
	}

	// The grace period ends (moved into the past in the database).
	if _, err := s.OpenDB(t).Exec(s.Rebind(`UPDATE webhook_endpoints SET previous_until = ? WHERE id = ?`),
		time.Now().Add(-time.Minute).UnixMicro(), ep.Str("id")); err != nil {
		t.Fatal(err)
	}
	n = len(rr.all())
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("378282246310005")}).Want(t, 201)
	harness.WaitUntil(t, 10*time.Second, "a delivery after the grace period", func() bool { return len(rr.all()) > n })
	q = rr.all()[n]
	if sigs := strings.Fields(q.Header.Get("webhook-signature")); len(sigs) != 1 || verify(oldSecret, q) == nil || verify(rot.Str("secret"), q) != nil {
		t.Errorf("after the grace period: %q", q.Header.Get("webhook-signature"))
	}
	if g := s.Call("GET", "/v1/webhook_endpoints/"+ep.Str("id"), sk, nil).Want(t, 200); harness.Dig(g.Body, "previous_secret_expires") != nil || g.Str("secret") != "" {
		t.Errorf("endpoint after the grace period: %s", g.Raw)
	}
}
