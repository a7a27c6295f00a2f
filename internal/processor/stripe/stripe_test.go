package stripe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/stripemock"
)

const (
	testKey  = "sk_test_cofferUnitTestKey0123456789"
	merchant = "mer_test_1"
	pan      = "4242424242424242"
	cvcCode  = "737"
)

var card = processor.Card{Number: pan, ExpMonth: 12, ExpYear: 2031, CVC: cvcCode, HolderName: "Jo Holder", PostalCode: "94107", Country: "US"}

// apiPaths are the parts of Stripe's spec the connector calls; stripe-mock
// loads only these (it starts in ~3 s instead of ~10 s).
var apiPaths = []string{"/v1/payment_methods", "/v1/payment_intents", "/v1/refunds", "/v1/setup_intents"}

// startMock runs stripe-mock with the bundled fixtures changed by edit, and
// a connector pointed at its recorder.
func startMock(t *testing.T, edit func(r map[string]any)) (*stripemock.Server, *Client) {
	t.Helper()
	s := stripemock.Start(t, stripemock.WithPaths(apiPaths...), stripemock.WithFixtures(edit))
	return s, New(Config{SecretKey: testKey, BaseURL: s.URL})
}

// obj returns the fixture object at the path of keys, which must exist.
func obj(r map[string]any, keys ...string) map[string]any {
	m := r
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// approvedCharge makes the expanded latest_charge carry an auth code and passing checks.
func approvedCharge(r map[string]any, refunded int) {
	ch := obj(r, "charge")
	ch["amount_refunded"] = refunded
	cd := obj(ch, "payment_method_details", "card")
	cd["authorization_code"] = "123456"
	cd["checks"] = map[string]any{"address_line1_check": nil, "address_postal_code_check": "pass", "cvc_check": "pass"}
}

// noLeak fails if err's text holds the card number, the CVC or the key.
func noLeak(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	for _, secret := range []string{pan, testKey, "cofferUnitTestKey", "Sup3rS3cret"} {
		if strings.Contains(s, secret) {
			t.Fatalf("error leaks a secret: %q", s)
		}
	}
}

// find returns the recorded requests to path with method.
func find(s *stripemock.Server, method, path string) []stripemock.Request {
	var out []stripemock.Request
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func one(t *testing.T, s *stripemock.Server, method, path string) stripemock.Request {
	t.Helper()
	rs := find(s, method, path)
	if len(rs) != 1 {
		t.Fatalf("%s %s sent %d times, want 1 (all: %v)", method, path, len(rs), paths(s))
	}
	return rs[0]
}

func paths(s *stripemock.Server) []string {
	var p []string
	for _, r := range s.Requests() {
		p = append(p, r.Method+" "+r.Path)
	}
	return p
}

// wantForm checks form fields sent.
func wantForm(t *testing.T, r stripemock.Request, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got, ok := r.Form[kv[i]]; !ok || len(got) != 1 || got[0] != kv[i+1] {
			t.Errorf("%s %s: %s = %q, want %q", r.Method, r.Path, kv[i], got, kv[i+1])
		}
	}
}

func absent(t *testing.T, r stripemock.Request, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := r.Form[k]; ok {
			t.Errorf("%s %s: %s sent (%q), want absent", r.Method, r.Path, k, r.Form[k])
		}
	}
}

func wantHeader(t *testing.T, r stripemock.Request, name, want string) {
	t.Helper()
	if got := r.Header.Get(name); got != want {
		t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.Path, name, got, want)
	}
}

// wantCardSentOnce checks the card data goes to POST /v1/payment_methods and nowhere else.
func wantCardSentOnce(t *testing.T, s *stripemock.Server, reference string) {
	t.Helper()
	pm := one(t, s, "POST", "/v1/payment_methods")
	wantForm(t, pm, "type", "card", "card[number]", pan, "card[exp_month]", "12", "card[exp_year]", "2031",
		"card[cvc]", cvcCode, "billing_details[name]", "Jo Holder",
		"billing_details[address][postal_code]", "94107", "billing_details[address][country]", "US")
	wantHeader(t, pm, "Idempotency-Key", reference+"-pm")
	for _, r := range s.Requests() {
		if r.Path == "/v1/payment_methods" {
			continue
		}
		if strings.Contains(r.Body, pan) || strings.Contains(r.Query.Encode(), pan) {
			t.Errorf("%s %s carries the card number", r.Method, r.Path)
		}
	}
}

// wantKeyOnlyInAuthorization checks the secret key is sent as the bearer
// token and in no other header, query or body.
func wantKeyOnlyInAuthorization(t *testing.T, s *stripemock.Server, key string) {
	t.Helper()
	for _, r := range s.Requests() {
		wantHeader(t, r, "Authorization", "Bearer "+key)
		wantHeader(t, r, "Stripe-Version", APIVersion)
		for name, vs := range r.Header {
			if name == "Authorization" {
				continue
			}
			for _, v := range vs {
				if strings.Contains(v, key) {
					t.Errorf("%s %s: header %s carries the key", r.Method, r.Path, name)
				}
			}
		}
		if strings.Contains(r.Body, key) || strings.Contains(r.Query.Encode(), key) {
			t.Errorf("%s %s carries the key in its body or query", r.Method, r.Path)
		}
	}
}

// TestAuthorizeVerify: a PaymentIntent in requires_capture, a SetupIntent that succeeded.
func TestAuthorizeVerify(t *testing.T) {
	t.Parallel()
	s, c := startMock(t, func(r map[string]any) {
		pi := obj(r, "payment_intent")
		pi["status"] = "requires_capture"
		pi["last_payment_error"] = nil
		approvedCharge(r, 0)
		si := obj(r, "setup_intent")
		si["status"] = "succeeded"
		si["last_setup_error"] = nil
		obj(r, "setup_attempt", "payment_method_details", "card")["checks"] =
			map[string]any{"address_line1_check": "pass", "address_postal_code_check": "pass", "cvc_check": "pass"}
	})
	ctx := context.Background()

	t.Run("authorize", func(t *testing.T) {
		s.Reset()
		a, err := c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_auth1", Card: card, Amount: 1234, Currency: "EUR"})
		noLeak(t, err)
		if err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		if !strings.HasPrefix(a.ID, "pi_") || a.Amount != 1234 || a.Currency != "EUR" || a.AuthCode != "123456" ||
			a.AVSResult != processor.CheckPass || a.CVCResult != processor.CheckPass || a.Captured != 0 || a.Voided {
			t.Fatalf("Authorize = %+v", a)
		}
		wantCardSentOnce(t, s, "pay_auth1")
		pi := one(t, s, "POST", "/v1/payment_intents")
		wantForm(t, pi, "amount", "1234", "currency", "eur", "confirm", "true", "capture_method", "manual",
			"payment_method_types[]", "card", "metadata[coffer_reference]", "pay_auth1", "metadata[coffer_merchant]", merchant,
			"error_on_requires_action", "true", "expand[]", "latest_charge")
		absent(t, pi, "return_url", "card[number]", "card[cvc]")
		if !strings.HasPrefix(pi.Form.Get("payment_method"), "pm_") {
			t.Errorf("payment_method = %q, want the created pm_…", pi.Form.Get("payment_method"))
		}
		wantHeader(t, pi, "Idempotency-Key", "pay_auth1")
		wantHeader(t, pi, "Content-Type", "application/x-www-form-urlencoded")
		wantKeyOnlyInAuthorization(t, s, testKey)
	})

	t.Run("authentication is not passed", func(t *testing.T) {
		s.Reset()
		_, err := c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_auth2", Card: card, Amount: 500, Currency: "USD",
			Authentication: &processor.Authentication{Status: processor.AuthAuthenticated, TransactionID: "8f0c2a4e-0000-4000-8000-000000000000", Version: "2.2.0", ECI: "05"}})
		if err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		for k := range one(t, s, "POST", "/v1/payment_intents").Form {
			if strings.HasPrefix(k, "payment_method_options") {
				t.Errorf("sent %s; 3-D Secure results are documented as not passed", k)
			}
		}
	})

	t.Run("verify", func(t *testing.T) {
		s.Reset()
		v, err := c.Verify(ctx, processor.VerifyRequest{MerchantID: merchant, Reference: "tok_v1", Card: card, Amount: 100, Currency: "USD"})
		noLeak(t, err)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if !strings.HasPrefix(v.AuthorizationID, "seti_") || v.AVSResult != processor.CheckPass || v.CVCResult != processor.CheckPass || !v.Voided {
			t.Fatalf("Verify = %+v", v)
		}
		wantCardSentOnce(t, s, "tok_v1")
		si := one(t, s, "POST", "/v1/setup_intents")
		wantForm(t, si, "confirm", "true", "usage", "off_session", "payment_method_types[]", "card",
			"metadata[coffer_reference]", "tok_v1", "metadata[coffer_merchant]", merchant, "expand[]", "latest_attempt")
		wantHeader(t, si, "Idempotency-Key", "tok_v1")
		if len(find(s, "POST", "/v1/payment_intents")) != 0 {
			t.Error("Verify created a PaymentIntent")
		}
	})

	t.Run("lookup of an unknown reference", func(t *testing.T) {
		s.Reset()
		_, err := c.Lookup(ctx, merchant, "pay_never")
		if !errors.Is(err, processor.ErrNotFound) {
			t.Fatalf("Lookup = %v, want ErrNotFound", err)
		}
		search := one(t, s, "GET", "/v1/payment_intents/search")
		if q := search.Query.Get("query"); q != "metadata['coffer_reference']:'pay_never' AND metadata['coffer_merchant']:'mer_test_1'" {
			t.Errorf("search query = %q", q)
		}
		// The search index lags: the recent list is read too.
		list := one(t, s, "GET", "/v1/payment_intents")
		if list.Query.Get("created[gte]") == "" || list.Query.Get("limit") != "100" {
			t.Errorf("recent list query = %v", list.Query)
		}
	})

	t.Run("a rejected key never shows", func(t *testing.T) {
		s.Reset()
		const liveKey = "sk_live_Sup3rS3cretKeyValue42"
		bad := New(Config{SecretKey: liveKey, BaseURL: s.URL})
		_, err := bad.Authorize(ctx, processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_key", Card: card, Amount: 100, Currency: "USD"})
		if !errors.Is(err, processor.ErrUnreachable) {
			t.Fatalf("Authorize with a live key on stripe-mock = %v, want ErrUnreachable (401)", err)
		}
		if strings.Contains(err.Error(), liveKey) || strings.Contains(err.Error(), "Sup3rS3cret") || !strings.Contains(err.Error(), "401") {
			t.Fatalf("error = %q: want the 401 without the key (stripe-mock echoes it)", err)
		}
		noLeak(t, err)
		wantKeyOnlyInAuthorization(t, s, liveKey)
	})
}

// TestCaptured: a PaymentIntent that succeeded (sale, capture), its refunds, its lookup.
func TestCaptured(t *testing.T) {
	t.Parallel()
	s, c := startMock(t, func(r map[string]any) {
		pi := obj(r, "payment_intent")
		pi["status"] = "succeeded"
		pi["amount_received"] = 1000
		pi["last_payment_error"] = nil
		pi["metadata"] = map[string]any{"coffer_reference": "pay_sale1", "coffer_merchant": merchant}
		approvedCharge(r, 400)
		re := obj(r, "refund")
		re["metadata"] = map[string]any{"coffer_reference": "rf_1"}
	})
	ctx := context.Background()

	t.Run("sale", func(t *testing.T) {
		s.Reset()
		a, cp, err := c.Sale(ctx, processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_sale1", Card: card, Amount: 1000, Currency: "USD"})
		noLeak(t, err)
		if err != nil {
			t.Fatalf("Sale: %v", err)
		}
		if a.ID == "" || a.Amount != 1000 || a.AuthCode != "123456" || cp.ID != a.ID || cp.AuthorizationID != a.ID || cp.Amount != 1000 {
			t.Fatalf("Sale = %+v, %+v", a, cp)
		}
		wantCardSentOnce(t, s, "pay_sale1")
		pi := one(t, s, "POST", "/v1/payment_intents")
		wantForm(t, pi, "amount", "1000", "currency", "usd", "capture_method", "automatic", "confirm", "true",
			"metadata[coffer_reference]", "pay_sale1", "metadata[coffer_merchant]", merchant)
		wantHeader(t, pi, "Idempotency-Key", "pay_sale1")
		if n := len(s.Requests()); n != 2 {
			t.Errorf("Sale sent %d requests (%v), want 2", n, paths(s))
		}
	})

	t.Run("capture", func(t *testing.T) {
		s.Reset()
		cp, err := c.Capture(ctx, "pi_cap1", 1000)
		if err != nil {
			t.Fatalf("Capture: %v", err)
		}
		if cp.ID != "pi_cap1" || cp.AuthorizationID != "pi_cap1" || cp.Amount != 1000 {
			t.Fatalf("Capture = %+v", cp)
		}
		r := one(t, s, "POST", "/v1/payment_intents/pi_cap1/capture")
		wantForm(t, r, "amount_to_capture", "1000")
		wantHeader(t, r, "Idempotency-Key", "pi_cap1-capture-1000")
	})

	t.Run("refund", func(t *testing.T) {
		s.Reset()
		rf, err := c.Refund(ctx, "pi_cap1", 400, "rf_1")
		if err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if !strings.HasPrefix(rf.ID, "re_") || rf.CaptureID != "pi_cap1" || rf.Amount != 400 {
			t.Fatalf("Refund = %+v", rf)
		}
		r := one(t, s, "POST", "/v1/refunds")
		wantForm(t, r, "payment_intent", "pi_cap1", "amount", "400", "metadata[coffer_reference]", "rf_1")
		wantHeader(t, r, "Idempotency-Key", "rf_1")
	})

	t.Run("lookup refund", func(t *testing.T) {
		s.Reset()
		rf, err := c.LookupRefund(ctx, "pi_cap1", "rf_1")
		if err != nil || rf.ID == "" || rf.CaptureID != "pi_cap1" {
			t.Fatalf("LookupRefund = %+v, %v", rf, err)
		}
		if q := one(t, s, "GET", "/v1/refunds").Query; q.Get("payment_intent") != "pi_cap1" {
			t.Errorf("refund list query = %v", q)
		}
		if _, err := c.LookupRefund(ctx, "pi_cap1", "rf_other"); !errors.Is(err, processor.ErrNotFound) {
			t.Fatalf("LookupRefund(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("lookup", func(t *testing.T) {
		s.Reset()
		a, err := c.Lookup(ctx, merchant, "pay_sale1")
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if a.ID == "" || a.Captured != 1000 || a.CaptureID != a.ID || a.Refunded != 400 || a.Voided {
			t.Fatalf("Lookup = %+v", a)
		}
		if n := len(s.Requests()); n != 1 {
			t.Errorf("Lookup sent %v, want only the search", paths(s))
		}
		// Another merchant's reference is not this one.
		if _, err := c.Lookup(ctx, "mer_other", "pay_sale1"); !errors.Is(err, processor.ErrNotFound) {
			t.Fatalf("Lookup(other merchant) = %v, want ErrNotFound", err)
		}
	})
}

// TestVoid: a PaymentIntent that was canceled.
func TestVoid(t *testing.T) {
	t.Parallel()
	s, c := startMock(t, func(r map[string]any) {
		pi := obj(r, "payment_intent")
		pi["status"] = "canceled"
		pi["last_payment_error"] = nil
		pi["metadata"] = map[string]any{"coffer_reference": "pay_void1", "coffer_merchant": merchant}
	})
	ctx := context.Background()
	if err := c.Void(ctx, "pi_void1"); err != nil {
		t.Fatalf("Void: %v", err)
	}
	r := one(t, s, "POST", "/v1/payment_intents/pi_void1/cancel")
	wantHeader(t, r, "Idempotency-Key", "pi_void1-cancel")
	a, err := c.Lookup(ctx, merchant, "pay_void1")
	if err != nil || !a.Voided || a.Captured != 0 {
		t.Fatalf("Lookup = %+v, %v; want voided", a, err)
	}
}

// TestDecline: a PaymentIntent and a SetupIntent left in requires_payment_method by the issuer.
func TestDecline(t *testing.T) {
	t.Parallel()
	_, c := startMock(t, func(r map[string]any) {
		pi := obj(r, "payment_intent")
		pi["status"] = "requires_payment_method"
		pi["metadata"] = map[string]any{"coffer_reference": "pay_dec1", "coffer_merchant": merchant}
		pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
			"message": "Your card has insufficient funds (card " + pan + ")."}
		si := obj(r, "setup_intent")
		si["status"] = "requires_payment_method"
		si["last_setup_error"] = map[string]any{"type": "card_error", "code": "expired_card", "message": "Your card has expired."}
	})
	ctx := context.Background()
	req := processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_dec1", Card: card, Amount: 700, Currency: "USD"}
	want := processor.Decline{Code: processor.CodeCardDeclined, DeclineCode: processor.DeclineInsufficientFunds}

	check := func(what string, a processor.Authorization, err error) {
		t.Helper()
		noLeak(t, err)
		var d *processor.Decline
		if !errors.As(err, &d) || d.Code != want.Code || d.DeclineCode != want.DeclineCode || !strings.HasPrefix(d.Message, "Your card has insufficient funds") {
			t.Fatalf("%s = %+v, %v; want decline %s/%s", what, a, err, want.Code, want.DeclineCode)
		}
		if a != (processor.Authorization{}) {
			t.Fatalf("%s returned an authorization with its decline: %+v", what, a)
		}
	}
	a, err := c.Authorize(ctx, req)
	check("Authorize", a, err)
	a, _, err = c.Sale(ctx, req)
	check("Sale", a, err)
	a, err = c.Lookup(ctx, merchant, "pay_dec1")
	check("Lookup", a, err)

	v, err := c.Verify(ctx, processor.VerifyRequest{MerchantID: merchant, Reference: "tok_dec", Card: card, Amount: 100, Currency: "USD"})
	var d *processor.Decline
	if !errors.As(err, &d) || d.Code != processor.CodeExpiredCard || d.Message != "Your card has expired." {
		t.Fatalf("Verify = %+v, %v; want expired_card", v, err)
	}
}

// TestRequiresAction: Stripe runs 3-D Secure itself and hands back a redirect.
func TestRequiresAction(t *testing.T) {
	t.Parallel()
	const redirect = "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_x"
	s, c := startMock(t, func(r map[string]any) {
		pi := obj(r, "payment_intent")
		pi["status"] = "requires_action"
		pi["last_payment_error"] = nil
		pi["metadata"] = map[string]any{"coffer_reference": "pay_3ds1", "coffer_merchant": merchant}
		pi["next_action"] = map[string]any{"type": "redirect_to_url",
			"redirect_to_url": map[string]any{"url": redirect, "return_url": "https://coffer.example/return"}}
	})
	ctx := context.Background()
	_, err := c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_3ds1", Card: card, Amount: 900, Currency: "USD",
		ReturnURL: "https://coffer.example/return"})
	var ar *processor.ActionRequired
	if !errors.As(err, &ar) || ar.RedirectURL != redirect || !strings.HasPrefix(ar.AuthorizationID, "pi_") {
		t.Fatalf("Authorize = %v, want ActionRequired to %s", err, redirect)
	}
	pi := one(t, s, "POST", "/v1/payment_intents")
	wantForm(t, pi, "return_url", "https://coffer.example/return", "capture_method", "manual")
	absent(t, pi, "error_on_requires_action")
	// Until the card holder is back, Lookup says the same.
	if _, err := c.Lookup(ctx, merchant, "pay_3ds1"); !errors.As(err, &ar) || ar.RedirectURL != redirect {
		t.Fatalf("Lookup = %v, want ActionRequired", err)
	}
}

// TestUnreachable: nothing listens at the base URL.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback: nothing listens there (a port found free and let
	// go could be taken by a test beside this one before the dial).
	c := New(Config{SecretKey: testKey, BaseURL: "http://127.0.0.1:1"})
	_, err := c.Authorize(context.Background(), processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_u", Card: card, Amount: 100, Currency: "USD"})
	if !errors.Is(err, processor.ErrUnreachable) || errors.Is(err, processor.ErrUnavailable) {
		t.Fatalf("Authorize = %v, want ErrUnreachable", err)
	}
	noLeak(t, err)
}

// fake answers every request with status and body.
func fake(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return New(Config{SecretKey: testKey, BaseURL: srv.URL})
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// TestUnavailable: a 5xx, and a timeout after the request was sent.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	c := fake(t, answer(500, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`))
	_, err := c.Authorize(context.Background(), processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_5", Card: card, Amount: 100, Currency: "USD"})
	if !errors.Is(err, processor.ErrUnavailable) || !strings.Contains(err.Error(), "An unknown error occurred") {
		t.Fatalf("500: %v, want ErrUnavailable with Stripe's message", err)
	}
	noLeak(t, err)

	// Read the request, then answer nothing until the client gives up (the
	// server notices the closed connection once the body is consumed).
	c = fake(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.Capture(ctx, "pi_slow", 100)
	if !errors.Is(err, processor.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout after sending: %v, want ErrUnavailable (and DeadlineExceeded)", err)
	}
}

// TestErrorMapping: Stripe's error answers as processor errors.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"bad key", 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: ` + testKey + `"}}`, processor.ErrUnreachable},
		{"forbidden", 403, `{"error":{"type":"invalid_request_error","message":"The provided key does not have access"}}`, processor.ErrUnreachable},
		{"rate limited", 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`, processor.ErrUnreachable},
		{"key in flight", 409, `{"error":{"type":"idempotency_error","message":"There is currently another in-progress request using this Idempotent Key"}}`, processor.ErrUnavailable},
		{"missing", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent: 'pi_x'"}}`, processor.ErrNotFound},
		{"unknown url", 404, `{"error":{"type":"invalid_request_error","message":"Unrecognized request URL"}}`, processor.ErrInvalidRequest},
		{"second capture", 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"This PaymentIntent could not be captured because it has a status of succeeded."}}`, processor.ErrInvalidState},
		{"too much", 400, `{"error":{"type":"invalid_request_error","code":"amount_too_large","message":"Amount too large"}}`, processor.ErrInvalidState},
		{"bad param", 400, `{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer","param":"amount_to_capture","message":"Invalid integer: 4242424242424242"}}`, processor.ErrInvalidRequest},
		{"not json", 502, `<html>bad gateway</html>`, processor.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake(t, answer(tc.status, tc.body))
			_, err := c.Capture(context.Background(), "pi_x", 100)
			if !errors.Is(err, tc.want) {
				t.Fatalf("HTTP %d: %v, want %v", tc.status, err, tc.want)
			}
			noLeak(t, err)
			if tc.name == "bad param" && !strings.Contains(err.Error(), "Invalid integer: ****************") {
				t.Errorf("error = %q, want Stripe's message with the digits masked", err)
			}
		})
	}

	t.Run("card error", func(t *testing.T) {
		c := fake(t, answer(402, `{"error":{"type":"card_error","code":"incorrect_cvc","decline_code":"incorrect_cvc","message":"Your card's security code is incorrect."}}`))
		_, err := c.Authorize(context.Background(), processor.AuthorizeRequest{MerchantID: merchant, Reference: "pay_cvc", Card: card, Amount: 100, Currency: "USD"})
		var d *processor.Decline
		if !errors.As(err, &d) || d.Code != processor.CodeIncorrectCVC || d.CVCResult != processor.CheckFail || d.Message != "Your card's security code is incorrect." {
			t.Fatalf("402 = %v, want incorrect_cvc decline", err)
		}
	})
}

// TestVoidRepeat: voiding a canceled intent succeeds; a captured one is ErrInvalidState.
func TestVoidRepeat(t *testing.T) {
	t.Parallel()
	for status, ok := range map[string]bool{"canceled": true, "succeeded": false} {
		c := fake(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "GET" && r.URL.Path == "/v1/payment_intents/pi_v" {
				answer(200, `{"id":"pi_v","object":"payment_intent","status":"`+status+`"}`)(w, r)
				return
			}
			answer(400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"You cannot cancel this PaymentIntent because it has a status of `+status+`."}}`)(w, r)
		})
		err := c.Void(context.Background(), "pi_v")
		if ok && err != nil || !ok && !errors.Is(err, processor.ErrInvalidState) {
			t.Fatalf("Void of a %s intent = %v", status, err)
		}
	}
}

// TestDeclineCodes: Stripe's codes as Coffer's.
func TestDeclineCodes(t *testing.T) {
	t.Parallel()
	c := New(Config{SecretKey: testKey})
	for _, tc := range []struct{ code, declineCode, wantCode, wantDecline string }{
		{"card_declined", "insufficient_funds", "card_declined", "insufficient_funds"},
		{"card_declined", "lost_card", "card_declined", "lost_card"},
		{"card_declined", "stolen_card", "card_declined", "stolen_card"},
		{"card_declined", "do_not_honor", "card_declined", "do_not_honor"},
		{"card_declined", "generic_decline", "card_declined", "generic_decline"},
		{"card_declined", "fraudulent", "card_declined", "generic_decline"},
		{"card_declined", "pickup_card", "card_declined", "card_blocked"},
		{"card_declined", "", "card_declined", "generic_decline"},
		{"expired_card", "", "expired_card", "expired_card"},
		{"incorrect_cvc", "", "incorrect_cvc", "incorrect_cvc"},
		{"invalid_cvc", "", "invalid_cvc", "invalid_cvc"},
		{"incorrect_number", "", "incorrect_number", "incorrect_number"},
		{"invalid_number", "", "incorrect_number", "incorrect_number"},
		{"invalid_expiry_month", "", "invalid_expiry", "invalid_expiry"},
		{"invalid_expiry_year", "", "invalid_expiry", "invalid_expiry"},
		{"processing_error", "", "processing_error", "processing_error"},
		{"authentication_required", "", "authentication_failed", "authentication_failed"},
		{"card_declined", "authentication_required", "authentication_failed", "authentication_failed"},
		{"something_new", "", "card_declined", "generic_decline"},
	} {
		d := c.decline(&apiError{Type: "card_error", Code: tc.code, DeclineCode: tc.declineCode, Message: "m"})
		if d.Code != tc.wantCode || d.DeclineCode != tc.wantDecline {
			t.Errorf("%s/%s → %s/%s, want %s/%s", tc.code, tc.declineCode, d.Code, d.DeclineCode, tc.wantCode, tc.wantDecline)
		}
	}
	if d := c.decline(&apiError{Type: "idempotency_error", Message: "Keys for idempotent requests…"}); d.Message != defaultDeclineMessage {
		t.Errorf("a non-card error's message reached the card holder: %q", d.Message)
	}
}
