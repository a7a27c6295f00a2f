package webhooks

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestWebhookIsolation: one merchant's endpoints get only its events; another
// merchant can neither read nor redeliver them, nor see, rotate or delete its
// endpoints, nor page past its event ids, nor open its sessions' streams.
// Family filters and deletion hold.
func TestWebhookIsolation(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	other := s.NewMerchant("Other")
	mine := harness.NewReceiver(t)
	epID := mine.Register(t, s, sk, "payment.*")
	theirs := harness.NewReceiver(t)
	theirs.Register(t, s, other.SecretKey, "*")
	exact := harness.NewReceiver(t)
	exactID := exact.Register(t, s, sk, "token.created")

	p := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "card": harness.Card("4242424242424242")}), 201, "succeeded")
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444")}).Want(t, 201)
	harness.WaitUntil(t, 10*time.Second, "deliveries", func() bool {
		return len(mine.OfType("payment.succeeded")) == 1 && len(exact.OfType("token.created")) == 1
	})
	time.Sleep(500 * time.Millisecond)
	if theirsCalls, _, _ := theirs.Counts(); len(theirs.Events()) != 0 || theirsCalls != 0 {
		t.Errorf("another merchant's endpoint got %d deliveries", theirsCalls)
	}
	for _, e := range mine.Events() {
		if !strings.HasPrefix(e["type"].(string), "payment.") {
			t.Errorf("payment.* endpoint got %v", e["type"])
		}
	}
	if got := len(exact.Events()); got != 1 {
		t.Errorf("exact filter got %d", got)
	}

	evID := s.Events(t, sk, "type=payment.succeeded&object="+p["id"].(string))[0]["id"].(string)
	s.Call("GET", "/v1/events/"+evID, other.SecretKey, nil).Want(t, 404)
	s.Call("POST", "/v1/events/"+evID+"/redeliver", other.SecretKey, nil).Want(t, 404)
	s.Call("GET", "/v1/events?starting_after="+evID, other.SecretKey, nil).Want(t, 404)
	if l := s.Call("GET", "/v1/events?limit=100", other.SecretKey, nil).Want(t, 200); strings.Contains(string(l.Raw), p["id"].(string)) {
		t.Errorf("another merchant lists my events")
	}
	s.Call("GET", "/v1/webhook_endpoints/"+epID, other.SecretKey, nil).Want(t, 404)
	s.Call("POST", "/v1/webhook_endpoints/"+epID+"/rotate_secret", other.SecretKey, nil).Want(t, 404)
	s.Call("DELETE", "/v1/webhook_endpoints/"+epID, other.SecretKey, nil).Want(t, 404)
	s.Call("GET", "/v1/webhook_endpoints/"+epID, sk, nil).Want(t, 200)

	// Redeliver: the same event id again, as a new delivery with its own log.
	rd := s.Call("POST", "/v1/events/"+evID+"/redeliver", sk, nil).Want(t, 200)
	if ds := harness.Dig(rd.Body, "deliveries").([]any); len(ds) != 2 {
		t.Errorf("redeliver: %s", rd.Raw)
	}
	harness.WaitUntil(t, 10*time.Second, "the redelivery", func() bool { return len(mine.OfType("payment.succeeded")) == 2 })
	if _, _, ids := mine.Counts(); ids[evID] != 2 {
		t.Errorf("redelivered under another webhook-id: %v", ids)
	}

	// Deleting an endpoint stops its deliveries, pending retries included.
	s.Call("DELETE", "/v1/webhook_endpoints/"+exactID, sk, nil).Want(t, 200)
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("378282246310005")}).Want(t, 201)
	time.Sleep(700 * time.Millisecond)
	if len(exact.OfType("token.created")) != 1 {
		t.Errorf("a deleted endpoint still receives")
	}
}
