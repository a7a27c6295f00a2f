package connectors

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/stripemock"
)

// stripePaths are the parts of Stripe's spec the connector calls: stripe-mock
// loads only these, validating requests to them against the full schemas.
var stripePaths = []string{"/v1/payment_methods", "/v1/payment_intents", "/v1/refunds", "/v1/setup_intents"}

const stripeCard = "4242424242424242"

// intent edits the PaymentIntent fixture every answer is made of.
func intent(status string, edit func(pi map[string]any)) stripemock.Option {
	return stripemock.WithFixtures(func(r map[string]any) {
		pi := r["payment_intent"].(map[string]any)
		pi["status"] = status
		pi["last_payment_error"] = nil
		pi["next_action"] = nil
		if edit != nil {
			edit(pi)
		}
	})
}

// echo makes stripe-mock's answers carry what this request asked for, as
// Stripe's would: the intent's metadata and amounts, a refund's amount.
func echo(req stripemock.Request, a map[string]any) {
	if req.Method != "POST" {
		return
	}
	switch a["object"] {
	case "payment_intent":
		if strings.HasSuffix(req.Path, "/capture") {
			a["status"], a["amount_received"] = "succeeded", number(req.Form.Get("amount_to_capture"))
			return
		}
		md := map[string]any{}
		for k, v := range req.Form {
			if name, ok := strings.CutPrefix(k, "metadata["); ok {
				md[strings.TrimSuffix(name, "]")] = v[0]
			}
		}
		a["metadata"] = md
		if a["status"] == "succeeded" {
			a["amount_received"] = number(req.Form.Get("amount"))
		}
	case "refund":
		a["amount"], a["status"] = number(req.Form.Get("amount")), "succeeded"
		a["metadata"] = map[string]any{"coffer_reference": req.Form.Get("metadata[coffer_reference]")}
	}
}

// number is a form value as the JSON number Stripe answers with.
func number(s string) float64 {
	n, _ := strconv.ParseFloat(s, 64)
	return n
}

// stripeAccount makes the merchant's Stripe account point at the mock.
func stripeAccount(t *testing.T, s *harness.Server, sk, baseURL string, extra ...any) string {
	t.Helper()
	body := harness.With(map[string]any{"type": "stripe", "name": "Stripe (mock)", "base_url": baseURL,
		"credentials": map[string]string{"secret_key": "sk_test_4eC39HqLyjWDarjtT1zdp7dc"}}, extra...)
	r := s.Call("POST", "/v1/processor_accounts", sk, body).Want(t, 201)
	if strings.Contains(string(r.Raw), "sk_test_") {
		t.Fatalf("the account answer shows its secret key: %s", r.Raw)
	}
	return r.Str("id")
}

// sentCardOnlyTo fails unless the card number reached Stripe in exactly one
// request, the PaymentMethod's creation.
func sentCardOnlyTo(t *testing.T, m *stripemock.Server) {
	t.Helper()
	n := 0
	for _, r := range m.Requests() {
		if strings.Contains(r.Body, stripeCard) || strings.Contains(r.Path, stripeCard) || strings.Contains(r.Query.Encode(), stripeCard) {
			if r.Path != "/v1/payment_methods" {
				t.Errorf("the card number was sent to %s %s", r.Method, r.Path)
			}
			n++
		}
	}
	if n != 1 {
		t.Errorf("the card number reached Stripe %d times, want once", n)
	}
}

func lastTo(t *testing.T, m *stripemock.Server, method, path string) stripemock.Request {
	t.Helper()
	var found *stripemock.Request
	for _, r := range m.Requests() {
		if r.Method == method && r.Path == path {
			found = &r
		}
	}
	if found == nil {
		t.Fatalf("no %s %s was sent to Stripe", method, path)
	}
	return *found
}

// A sale through a Stripe account: the card goes to Stripe once, as a
// PaymentMethod; the PaymentIntent is confirmed with automatic capture under
// the payment's id as Idempotency-Key; the payment records the account, the
// connector and Stripe's id.
func TestStripeSale(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		m := stripemock.Start(t, stripemock.WithPaths(stripePaths...), intent("succeeded", nil), stripemock.WithAnswers(echo))
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		pa := stripeAccount(t, s, sk, m.URL)
		p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1250, "currency": "USD", "card": harness.Card(stripeCard)}).Want(t, 201)
		if p.Str("status") != "succeeded" || p.Num("amount_captured") != 1250 || p.Str("processor", "account") != pa ||
			p.Str("processor", "type") != "stripe" || !strings.HasPrefix(p.Str("processor", "reference"), "pi_") {
			t.Fatalf("payment: %s", p.Raw)
		}
		sentCardOnlyTo(t, m)
		pi := lastTo(t, m, "POST", "/v1/payment_intents")
		for k, want := range map[string]string{"amount": "1250", "currency": "usd", "capture_method": "automatic", "confirm": "true",
			"metadata[coffer_reference]": p.Str("id"), "metadata[coffer_merchant]": s.Dev.ID} {
			if got := pi.Form.Get(k); got != want {
				t.Errorf("PaymentIntent %s = %q, want %q", k, got, want)
			}
		}
		if got := pi.Header.Get("Idempotency-Key"); got != p.Str("id") {
			t.Errorf("Idempotency-Key %q, want the payment id %s", got, p.Str("id"))
		}
		if strings.Contains(s.Logs.String(), stripeCard) || strings.Contains(s.Logs.String(), "sk_test_4eC39") {
			t.Error("the server log holds the card number or the Stripe key")
		}
		if s.Cfg.DatabaseURL == "" {
			// At rest the key is sealed like card data, and no answer of
			// Stripe's is stored with a card number in it.
			if where := s.DBHolds(t, "sk_test_4eC39"); len(where) > 0 {
				t.Errorf("the Stripe key is stored in clear in %v", where)
			}
			if where := s.DBHolds(t, stripeCard); len(where) > 0 {
				t.Errorf("the card number is stored in clear in %v", where)
			}
		}
	})
}

// Authorize, capture and refund through Stripe: each call goes to the
// account the payment was authorized at, by Stripe's PaymentIntent id.
func TestStripeAuthorizeCaptureRefund(t *testing.T) {
	t.Parallel()
	m := stripemock.Start(t, stripemock.WithPaths(stripePaths...), intent("requires_capture", nil), stripemock.WithAnswers(echo))
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	stripeAccount(t, s, sk, m.URL)
	p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 2000, "currency": "USD", "capture": false,
		"card": harness.Card(stripeCard)}).Want(t, 201)
	if p.Str("status") != "requires_capture" || lastTo(t, m, "POST", "/v1/payment_intents").Form.Get("capture_method") != "manual" {
		t.Fatalf("authorization: %s", p.Raw)
	}
	pi := p.Str("processor", "reference")
	c := s.Call("POST", "/v1/payments/"+p.Str("id")+"/capture", sk, map[string]any{"amount": 1500}).Want(t, 200)
	if c.Str("status") != "succeeded" || c.Num("amount_captured") != 1500 {
		t.Fatalf("capture: %s", c.Raw)
	}
	if got := lastTo(t, m, "POST", "/v1/payment_intents/"+pi+"/capture").Form.Get("amount_to_capture"); got != "1500" {
		t.Fatalf("amount_to_capture %q", got)
	}
	r := s.Call("POST", "/v1/payments/"+p.Str("id")+"/refunds", sk, map[string]any{"amount": 500}).Want(t, 201)
	if r.Str("status") != "succeeded" || r.Num("amount") != 500 {
		t.Fatalf("refund: %s", r.Raw)
	}
	rf := lastTo(t, m, "POST", "/v1/refunds")
	if rf.Form.Get("payment_intent") != pi || rf.Form.Get("amount") != "500" || rf.Header.Get("Idempotency-Key") != r.Str("id") {
		t.Fatalf("refund sent as %v, Idempotency-Key %q", rf.Form, rf.Header.Get("Idempotency-Key"))
	}
	sentCardOnlyTo(t, m)
}

// Stripe's decline codes come back as Coffer's: a failed payment and a 402.
func TestStripeDecline(t *testing.T) {
	t.Parallel()
	m := stripemock.Start(t, stripemock.WithPaths(stripePaths...), intent("requires_payment_method", func(pi map[string]any) {
		pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
			"message": "Your card has insufficient funds."}
	}), stripemock.WithAnswers(echo))
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	stripeAccount(t, s, sk, m.URL)
	r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 990, "currency": "USD", "card": harness.Card(stripeCard)})
	if typ, code, _ := r.ErrInfo(); r.Status != 402 || typ != "card_error" || code != "card_declined" ||
		r.Str("error", "decline_code") != "insufficient_funds" {
		t.Fatalf("declined payment: %d %s", r.Status, r.Raw)
	}
	ids := s.PaymentIDs(t, sk)
	if len(ids) != 1 {
		t.Fatalf("payments recorded: %d", len(ids))
	}
	if p := s.Call("GET", "/v1/payments/"+ids[0], sk, nil).Want(t, 200); p.Str("status") != "failed" ||
		p.Str("failure", "decline_code") != "insufficient_funds" {
		t.Fatalf("the failed payment: %s", p.Raw)
	}
}

// A PaymentIntent that asks for 3-D Secure sends the card holder to Stripe's
// page (next_action), with the merchant's return_url passed on; once Stripe
// reports the intent authorized, reading the payment records it.
func TestStripeThreeDSecure(t *testing.T) {
	t.Parallel()
	const hosted = "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_3ds"
	var passed atomic.Bool
	m := stripemock.Start(t, stripemock.WithPaths(stripePaths...), intent("requires_action", func(pi map[string]any) {
		pi["next_action"] = map[string]any{"type": "redirect_to_url", "redirect_to_url": map[string]any{"url": hosted, "return_url": "http://127.0.0.1:9/back"}}
	}), stripemock.WithAnswers(func(req stripemock.Request, a map[string]any) {
		echo(req, a)
		if req.Method == "GET" && passed.Load() {
			// The card holder passed: the search finds the intent authorized.
			for _, it := range a["data"].([]any) {
				pi := it.(map[string]any)
				pi["status"], pi["next_action"] = "requires_capture", nil
				pi["metadata"] = map[string]any{"coffer_reference": searched(req, "coffer_reference"), "coffer_merchant": searched(req, "coffer_merchant")}
			}
		}
	}))
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	stripeAccount(t, s, sk, m.URL)
	p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 3100, "currency": "USD", "capture": false,
		"return_url": "http://127.0.0.1:9/back", "card": harness.Card(stripeCard)}).Want(t, 201)
	if p.Str("status") != "requires_action" || p.Str("next_action", "type") != "redirect" || p.Str("next_action", "url") != hosted {
		t.Fatalf("payment: %s", p.Raw)
	}
	if got := lastTo(t, m, "POST", "/v1/payment_intents").Form.Get("return_url"); got != "http://127.0.0.1:9/back" {
		t.Fatalf("return_url sent: %q", got)
	}
	if again := s.Call("GET", "/v1/payments/"+p.Str("id"), sk, nil).Want(t, 200); again.Str("status") != "requires_action" {
		t.Fatalf("before the card holder passed: %s", again.Raw)
	}
	passed.Store(true)
	done := s.Call("GET", "/v1/payments/"+p.Str("id"), sk, nil).Want(t, 200)
	if done.Str("status") != "requires_capture" || harness.Dig(done.Body, "next_action") != nil || done.Num("amount_capturable") != 3100 {
		t.Fatalf("after the card holder passed: %s", done.Raw)
	}
}

// searched reads one metadata value out of the search query Lookup sent.
func searched(req stripemock.Request, key string) string {
	q := req.Query.Get("query")
	i := strings.Index(q, "metadata['"+key+"']:'")
	if i < 0 {
		return ""
	}
	rest := q[i+len("metadata['"+key+"']:'"):]
	return rest[:strings.IndexByte(rest, '\'')]
}
