package harness

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// Helpers for payments (bodies, calls, and the contract's shape every
// payment object is checked against), events, and the session stream.

// PaymentBody builds a POST /v1/payments body: kv pairs override or (nil) delete.
func PaymentBody(amount any, kv ...any) map[string]any {
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

// TokenPayment is a payment body charging a token.
func TokenPayment(tok string, amount any, kv ...any) map[string]any {
	return PaymentBody(amount, append([]any{"token", tok}, kv...)...)
}

// CardPayment is a payment body charging a card directly (CVC of the brand's length).
func CardPayment(number string, amount any, kv ...any) map[string]any {
	return PaymentBody(amount, append([]any{"card", Card(number)}, kv...)...)
}

// CreatePayment posts a payment body (any value Request accepts).
func (s *Server) CreatePayment(key string, body any, hdr ...string) Resp {
	s.T.Helper()
	return s.Call("POST", "/v1/payments", key, body, hdr...)
}

// Int reads a JSON number as int64; -1 if it is absent or not an integer
// (unlike Num, which reads both as 0), so a shape check sees them.
func Int(v any, path ...string) int64 {
	f, ok := Dig(v, path...).(float64)
	if !ok || f != float64(int64(f)) {
		return -1
	}
	return int64(f)
}

// NewToken tokenizes a card (verified, CVC of the brand's length) with
// extra body fields kv and returns the token id; anything but 200/201
// fails the test.
func (s *Server) NewToken(t testing.TB, key, number string, kv ...any) string {
	t.Helper()
	body := map[string]any{"card": Card(number)}
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i].(string)] = kv[i+1]
	}
	r := s.Tokenize(t, key, body)
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("tokenize %s…: %d %s", number[:6], r.Status, r.Raw)
	}
	return r.Str("id")
}

// paymentCVCField is a JSON "cvc" key (a field, not a mention such as "param":"cvc").
var paymentCVCField = regexp.MustCompile(`"cvc\\?"\s*:`)

// rfc3339 is a time as the API writes it: RFC 3339 in UTC.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

// PaymentShape checks one payment object against the contract's shape and
// returns it. It checks the invariants that hold in every state:
// amount_captured ≤ amount, amount_refunded ≤ amount_captured, refunded ⇔
// (amount_refunded == amount_captured > 0), refunds sum to amount_refunded.
func PaymentShape(t testing.TB, v any) map[string]any {
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
	amount, capturable, captured, refundedAmt := Int(p, "amount"), Int(p, "amount_capturable"), Int(p, "amount_captured"), Int(p, "amount_refunded")
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
	paymentCardAndOutcome(p, status, fail)
	refunds, ok := p["refunds"].([]any)
	if !ok {
		fail("refunds must be an array")
	}
	var sum int64
	for _, r := range refunds {
		RefundShape(t, r)
		if Dig(r, "payment") != p["id"] {
			fail("refund of another payment listed")
		}
		if Dig(r, "status") != "failed" {
			sum += Int(r, "amount")
		}
	}
	if sum != refundedAmt {
		fail("refunds sum to %d, amount_refunded is %d", sum, refundedAmt)
	}
	for _, k := range []string{"created", "updated"} {
		if s, _ := p[k].(string); !rfc3339.MatchString(s) {
			fail("%s must be an RFC 3339 UTC time", k)
		}
	}
	if paymentCVCField.Match(j) {
		fail("a payment must never hold a cvc")
	}
	return p
}

// paymentCardAndOutcome is PaymentShape's check of the card, the acquirer's
// answer and the failure, which depend on the status.
func paymentCardAndOutcome(p map[string]any, status string, fail func(format string, args ...any)) {
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
}

// RefundShape checks one refund object against the contract's shape and
// returns it.
func RefundShape(t testing.TB, v any) map[string]any {
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
	if Int(r, "amount") <= 0 || !slices.Contains([]any{"succeeded", "failed", "pending"}, r["status"]) {
		t.Errorf("refund amount/status: %v", r)
	}
	if _, isStr := r["reason"].(string); r["reason"] != nil && !isStr {
		t.Errorf("refund.reason: %v", r)
	}
	if s, _ := r["created"].(string); !rfc3339.MatchString(s) {
		t.Errorf("refund.created: %v", r)
	}
	return r
}

// PaymentOK asserts a 201/200 payment response and returns the checked object.
func PaymentOK(t testing.TB, r Resp, status int, wantStatus string) map[string]any {
	t.Helper()
	r.Want(t, status)
	p := PaymentShape(t, r.Body)
	if p["status"] != wantStatus {
		t.Fatalf("payment status %v, want %s: %s", p["status"], wantStatus, r.Raw)
	}
	return p
}

// PaymentDeclined asserts a 402 card_error with error.payment (status
// failed, failure matching the error), and that GET of that payment
// returns it. decline "" means: decline_code not checked.
func (s *Server) PaymentDeclined(t testing.TB, key string, r Resp, code, decline string) map[string]any {
	t.Helper()
	if r.Status != 402 {
		t.Fatalf("status %d, want 402 %s/%s: %s", r.Status, code, decline, r.Raw)
	}
	typ, c, _ := r.ErrInfo()
	if typ != "card_error" || c != code || (decline != "" && r.Str("error", "decline_code") != decline) || r.Str("error", "message") == "" {
		t.Errorf("want card_error %s/%s with a message: %s", code, decline, r.Raw)
	}
	ep := Dig(r.Body, "error", "payment")
	if ep == nil {
		t.Fatalf("402 without error.payment: %s", r.Raw)
	}
	p := PaymentShape(t, ep)
	if p["status"] != "failed" || Dig(p, "failure", "code") != code || (decline != "" && Dig(p, "failure", "decline_code") != decline) {
		t.Errorf("error.payment must be the failed payment with failure %s/%s: %s", code, decline, r.Raw)
	}
	if Dig(p, "failure", "message") != r.Str("error", "message") {
		t.Errorf("failure.message and error.message differ: %s", r.Raw)
	}
	g := s.Call("GET", "/v1/payments/"+p["id"].(string), key, nil).Want(t, 200)
	if !reflect.DeepEqual(PaymentShape(t, g.Body), p) {
		t.Errorf("GET of a failed payment differs from error.payment:\n%s\n%s", g.Raw, r.Raw)
	}
	return p
}

// ListPayments reads one page of GET /v1/payments+query, checks the list's
// shape and every payment's, and returns the ids, has_more and the data.
func (s *Server) ListPayments(t testing.TB, key, query string) (ids []string, more bool, data []any) {
	t.Helper()
	r := s.Call("GET", "/v1/payments"+query, key, nil).Want(t, 200)
	if r.Str("object") != "list" {
		t.Errorf("list object: %s", Short(r.Raw))
	}
	more, ok := r.Body["has_more"].(bool)
	if !ok {
		t.Errorf("list has_more: %s", Short(r.Raw))
	}
	data, ok = r.Body["data"].([]any)
	if !ok {
		t.Fatalf("list data: %s", Short(r.Raw))
	}
	for _, d := range data {
		ids = append(ids, PaymentShape(t, d)["id"].(string))
	}
	return ids, more, data
}

// PaymentIDs lists every payment of a merchant (≤ 100), newest first.
func (s *Server) PaymentIDs(t testing.TB, key string) []string {
	t.Helper()
	ids, more, _ := s.ListPayments(t, key, "?limit=100")
	if more {
		t.Fatal("more than 100 payments")
	}
	return ids
}

// GetPayment reads a payment (200 required) and checks its shape.
func (s *Server) GetPayment(t testing.TB, key, id string) map[string]any {
	t.Helper()
	return PaymentShape(t, s.Call("GET", "/v1/payments/"+id, key, nil).Want(t, 200).Body)
}

// StatsDelta is after − before: what the acquirer did between two reads
// of its Stats.
func StatsDelta(before, after simulator.Stats) simulator.Stats {
	return simulator.Stats{
		Authorizations: after.Authorizations - before.Authorizations, Captures: after.Captures - before.Captures,
		Voids: after.Voids - before.Voids, Refunds: after.Refunds - before.Refunds, Verifications: after.Verifications - before.Verifications,
	}
}

// UUIDv4 is a random version-4 UUID, e.g. an Idempotency-Key as client
// libraries make them.
func UUIDv4() string {
	var b [16]byte
	crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// SameJSON fails unless two bodies hold the same JSON (a retry's answer
// against the first).
func SameJSON(t testing.TB, what string, a, b []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v: %s", what, err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v: %s", what, err, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	if !bytes.Equal(xa, ya) {
		t.Fatalf("%s: the retry's answer differs from the first:\n%s\n%s", what, a, b)
	}
}

// JSONField is a top-level string field of a raw JSON object ("" when
// absent, not a string, or not JSON).
func JSONField(raw []byte, k string) string {
	var m map[string]any
	json.Unmarshal(raw, &m)
	v, _ := m[k].(string)
	return v
}

// WithWebhooksAllowPrivate sets the operator's webhook address policy
// explicitly (whether endpoints may be private or loopback addresses).
func WithWebhooksAllowPrivate(allow bool) Option {
	return func(c *app.Config) { c.WebhooksAllowPrivate = &allow }
}

// Events lists a merchant's events (newest first, up to 100) for a query
// ("type=…&object=…").
func (s *Server) Events(t testing.TB, key, query string) []map[string]any {
	t.Helper()
	r := s.Call("GET", "/v1/events?limit=100&"+query, key, nil).Want(t, 200)
	var out []map[string]any
	for _, e := range r.Body["data"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// EventTypes lists the types of events as Events returns them, oldest first.
func EventTypes(evs []map[string]any) []string {
	out := make([]string, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i]["type"].(string))
	}
	return out
}

// EventCounts counts an object's events by type.
func (s *Server) EventCounts(t testing.TB, key, objectID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range s.Events(t, key, "object="+objectID) {
		out[e["type"].(string)]++
	}
	return out
}

// WantEventCounts reports an error unless an object's event counts (from
// EventCounts) are exactly want.
func WantEventCounts(t testing.TB, what string, got map[string]int, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: events %v, want %v", what, got, want)
	}
}

// SessionStream opens a session's live stream (websocket) with its client
// secret and/or a key as bearer; either may be "".
func (s *Server) SessionStream(ctx context.Context, sessionID, clientSecret, key string) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/sessions/" + sessionID + "/stream"
	if clientSecret != "" {
		u += "?client_secret=" + clientSecret
	}
	var opts *websocket.DialOptions
	if key != "" {
		opts = &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + key}}}
	}
	return websocket.Dial(ctx, u, opts)
}

// StreamFrames reads a stream until it closes, returning the frames (raw
// and decoded) and the close error.
func StreamFrames(ctx context.Context, conn *websocket.Conn) ([]string, []map[string]any, error) {
	var raw []string
	var got []map[string]any
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return raw, got, err
		}
		var v map[string]any
		json.Unmarshal(b, &v)
		raw = append(raw, string(b))
		got = append(got, v)
	}
}
