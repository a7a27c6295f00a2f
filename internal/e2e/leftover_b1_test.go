package e2e

// Helpers that moved with the payments and crash tests (internal/e2e/payments,
// internal/e2e/crash; now harness.PaymentBody, TokenPayment, NewToken,
// PaymentShape, RefundShape, PaymentOK and WaitUntil) but that files still in
// this package use. Copied unchanged; they go when those files move.

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// payBody builds a POST /v1/payments body: kv pairs override or (nil) delete.
func payBody(amount any, kv ...any) map[string]any {
	m := map[string]any{"amount": amount}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// payTok is a body charging a token.
func payTok(tok string, amount any, kv ...any) map[string]any {
	return payBody(amount, append([]any{"token", tok}, kv...)...)
}

// payNum reads a JSON number as int64; -1 if it is absent or not an integer.
func payNum(v any, path ...string) int64 {
	f, ok := dig(v, path...).(float64)
	if !ok || f != float64(int64(f)) {
		return -1
	}
	return int64(f)
}

// payToken tokenizes a card (verified) and returns the token id.
func payToken(t testing.TB, s *server, key, number string, kv ...any) string {
	t.Helper()
	body := map[string]any{"card": tcCard(number)}
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i].(string)] = kv[i+1]
	}
	r := tokenize(t, s, key, body)
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("tokenize %s…: %d %s", number[:6], r.Status, r.Raw)
	}
	return r.str("id")
}

// payCVCField is a JSON "cvc" key (a field, not a mention such as "param":"cvc").
var payCVCField = regexp.MustCompile(`"cvc\\?"\s*:`)

var payRFC3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

// payShape checks one payment object against the contract's shape and
// returns it. It checks the invariants that hold in every state:
// amount_captured ≤ amount, amount_refunded ≤ amount_captured, refunded ⇔
// (amount_refunded == amount_captured > 0), refunds sum to amount_refunded.
func payShape(t testing.TB, v any) map[string]any {
	t.Helper()
	p, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("payment is not an object: %v", v)
	}
	j, _ := json.Marshal(p)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("payment %s: "+format+"\n%s", append([]any{p["id"]}, append(args, j)...)...)
	}
	for _, k := range []string{"id", "object", "status", "amount", "amount_capturable", "amount_captured", "amount_refunded",
		"refunded", "currency", "capture_method", "token", "customer", "order_id", "description", "metadata", "card",
		"processor", "failure", "refunds", "created", "updated"} {
		if _, ok := p[k]; !ok {
			fail("field %q is missing", k)
		}
	}
	if id, _ := p["id"].(string); !strings.HasPrefix(id, "pay_") || len(id) < 14 {
		fail("id")
	}
	if p["object"] != "payment" {
		fail("object")
	}
	status, _ := p["status"].(string)
	if !slices.Contains([]string{"succeeded", "requires_capture", "failed", "canceled", "processing", "requires_action"}, status) {
		fail("status %q", status)
	}
	amount, capturable, captured, refundedAmt := payNum(p, "amount"), payNum(p, "amount_capturable"), payNum(p, "amount_captured"), payNum(p, "amount_refunded")
	if amount <= 0 || capturable < 0 || captured < 0 || refundedAmt < 0 {
		fail("amounts must be non-negative integers (amount positive)")
	}
	if captured > amount || capturable > amount || refundedAmt > captured {
		fail("amounts out of order: captured %d capturable %d refunded %d of %d", captured, capturable, refundedAmt, amount)
	}
	refunded, ok := p["refunded"].(bool)
	if !ok || refunded != (captured > 0 && refundedAmt == captured) {
		fail("refunded must be true exactly when amount_refunded reaches amount_captured")
	}
	switch status {
	case "requires_capture":
		if capturable != amount || captured != 0 {
			fail("requires_capture: amount_capturable must be the amount, nothing captured")
		}
	case "succeeded":
		if capturable != 0 || captured <= 0 {
			fail("succeeded: amount_capturable 0 and something captured")
		}
	case "failed", "canceled":
		if capturable != 0 || captured != 0 || refundedAmt != 0 {
			fail("%s: nothing capturable, captured or refunded", status)
		}
	}
	if c, _ := p["currency"].(string); len(c) != 3 || strings.ToUpper(c) != c {
		fail("currency")
	}
	if cm := p["capture_method"]; cm != "automatic" && cm != "manual" {
		fail("capture_method %v", cm)
	}
	for _, k := range []string{"token", "customer", "order_id", "description"} {
		if _, isStr := p[k].(string); p[k] != nil && !isStr {
			fail("%s must be null or a string", k)
		}
	}
	if tok, _ := p["token"].(string); tok != "" && !strings.HasPrefix(tok, "tok_") {
		fail("token")
	}
	if cus, _ := p["customer"].(string); cus != "" && !strings.HasPrefix(cus, "cus_") {
		fail("customer")
	}
	if _, ok := p["metadata"].(map[string]any); !ok {
		fail("metadata must be an object")
	}
	if c, ok := p["card"].(map[string]any); ok {
		for _, k := range []string{"brand", "bin", "last4", "mask", "exp_month", "exp_year", "fingerprint"} {
			if _, ok := c[k]; !ok {
				fail("card.%s is missing", k)
			}
		}
		if l4, _ := c["last4"].(string); len(l4) != 4 {
			fail("card.last4")
		}
		if m, _ := c["mask"].(string); !strings.Contains(m, "*") {
			fail("card.mask")
		}
	} else if status != "failed" {
		fail("card must be an object")
	}
	if pr, ok := p["processor"].(map[string]any); ok {
		for _, k := range []string{"auth_code", "avs_result", "cvc_result", "network_reference"} {
			if _, ok := pr[k]; !ok {
				fail("processor.%s is missing", k)
			}
		}
		if status == "succeeded" || status == "requires_capture" || status == "canceled" {
			if s, _ := pr["auth_code"].(string); s == "" {
				fail("an authorized payment has processor.auth_code")
			}
			if s, _ := pr["network_reference"].(string); s == "" {
				fail("an authorized payment has processor.network_reference")
			}
		}
	} else if status != "failed" {
		fail("processor must be an object")
	}
	if status == "failed" {
		f, ok := p["failure"].(map[string]any)
		if !ok || f["code"] == "" || f["code"] == nil || f["message"] == "" || f["message"] == nil {
			fail("a failed payment has failure{code,decline_code,message}")
		}
		if _, ok := f["decline_code"]; !ok && f != nil && f["code"] == "card_declined" {
			fail("a card_declined failure has a decline_code")
		}
	} else if p["failure"] != nil {
		fail("failure must be null unless failed")
	}
	refunds, ok := p["refunds"].([]any)
	if !ok {
		fail("refunds must be an array")
	}
	var sum int64
	for _, r := range refunds {
		payRefundShape(t, r)
		if dig(r, "payment") != p["id"] {
			fail("refund of another payment listed")
		}
		if dig(r, "status") != "failed" {
			sum += payNum(r, "amount")
		}
	}
	if sum != refundedAmt {
		fail("refunds sum to %d, amount_refunded is %d", sum, refundedAmt)
	}
	for _, k := range []string{"created", "updated"} {
		if s, _ := p[k].(string); !payRFC3339.MatchString(s) {
			fail("%s must be an RFC 3339 UTC time", k)
		}
	}
	if payCVCField.Match(j) {
		fail("a payment must never hold a cvc")
	}
	return p
}

func payRefundShape(t testing.TB, v any) map[string]any {
	t.Helper()
	r, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("refund is not an object: %v", v)
	}
	for _, k := range []string{"id", "object", "payment", "amount", "currency", "status", "reason", "created"} {
		if _, ok := r[k]; !ok {
			t.Errorf("refund: field %q is missing: %v", k, r)
		}
	}
	if id, _ := r["id"].(string); !strings.HasPrefix(id, "re_") || r["object"] != "refund" {
		t.Errorf("refund id/object: %v", r)
	}
	if p, _ := r["payment"].(string); !strings.HasPrefix(p, "pay_") {
		t.Errorf("refund.payment: %v", r)
	}
	if payNum(r, "amount") <= 0 || !slices.Contains([]any{"succeeded", "failed", "pending"}, r["status"]) {
		t.Errorf("refund amount/status: %v", r)
	}
	if _, isStr := r["reason"].(string); r["reason"] != nil && !isStr {
		t.Errorf("refund.reason: %v", r)
	}
	if s, _ := r["created"].(string); !payRFC3339.MatchString(s) {
		t.Errorf("refund.created: %v", r)
	}
	return r
}

// payOK asserts a 201/200 payment response and returns the checked object.
func payOK(t testing.TB, r resp, status int, wantStatus string) map[string]any {
	t.Helper()
	r.want(t, status)
	p := payShape(t, r.Body)
	if p["status"] != wantStatus {
		t.Fatalf("payment status %v, want %s: %s", p["status"], wantStatus, r.Raw)
	}
	return p
}

// payDeclined asserts a 402 card_error with error.payment (status failed,
// failure matching the error), and that GET of that payment returns it.
// decline "" means: decline_code not checked.
// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 10 s")
}
