package dialects

// One idempotency store under Idempotency-Key, X-REQUEST-ID and
// Tracking-Key: each API's keys in their own namespace, per merchant and
// per endpoint.

import (
	"bytes"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestTrackingKeyOwnKeySpace
//
// Bug: Ottu's Tracking-Key and the native Idempotency-Key are stored in one
// key space per merchant (idempotency.HTTP digests the raw key; Ottu's
// AutoDebit passes Tracking-Key unscoped, while Pivot scopes X-REQUEST-ID
// as "pivot:<op>|…"). A Tracking-Key that happens to equal a key the
// merchant's native integration used (or the other way round) is answered
// 409 "used with another request" instead of running.
//
// Why it matters: the two integrations pick keys independently (often the
// same order number or UUID scheme); an auto-debit refused with a 409 is a
// missed collection the Ottu client cannot resolve by retrying, and a native
// request can be blocked for the key's lifetime by an Ottu call.
//
// Expected: each API's idempotency keys live in their own namespace (scope
// the Tracking-Key as Pivot does): the native request creates its customer
// (201) and the auto-debit is answered on its merits (400 for an unknown
// checkout).
func TestTrackingKeyOwnKeySpace(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	unknown := map[string]any{"session_id": "ps_rcdnosuchcheckout000000", "token": "tok_rcdnosuchtoken00000000"}

	// Ottu first: its 400 is stored under the key.
	a := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, unknown, "Tracking-Key", "order-1001")
	if a.Status != 400 {
		t.Fatalf("auto-debit of an unknown checkout: %d %s", a.Status, a.Raw)
	}
	if n := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "rcd-cust-1001"}, "Idempotency-Key", "order-1001"); n.Status != 201 {
		t.Errorf("a native Idempotency-Key equal to an earlier Ottu Tracking-Key: want 201, got %d %s", n.Status, n.Raw)
	}

	// Native first: the Ottu call with the same value is refused.
	s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "rcd-cust-1002"}, "Idempotency-Key", "order-1002").Want(t, 201)
	if b := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, unknown, "Tracking-Key", "order-1002"); b.Status != 400 {
		t.Errorf("an Ottu Tracking-Key equal to an earlier native Idempotency-Key: want 400 (unknown checkout), got %d %s", b.Status, b.Raw)
	}
}

// TestIdempotencyAcrossMerchantsAndEndpoints: one
// X-REQUEST-ID / Idempotency-Key used by two merchants runs for each; the
// same native key on another endpoint is a 409, never a replay of the
// other endpoint's answer; a replay says so.
func TestIdempotencyAcrossMerchantsAndEndpoints(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	a, b := s.Dev, s.NewMerchant("Kedai B")
	ta, tb := harness.PivotToken(t, s, a.ID, a.SecretKey), harness.PivotToken(t, s, b.ID, b.SecretKey)
	body := map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API"}
	ra := s.Call("POST", "/pivot/v2/payments", ta, body, "X-REQUEST-ID", "shared-req-1")
	rb := s.Call("POST", "/pivot/v2/payments", tb, body, "X-REQUEST-ID", "shared-req-1")
	ida, idb := harness.Str(harness.PivotOK(t, "merchant A", ra), "id"), harness.Str(harness.PivotOK(t, "merchant B", rb), "id")
	if ida == idb || rb.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("one X-REQUEST-ID across merchants replayed: %s / %s", ra.Raw, rb.Raw)
	}
	if g := s.Call("GET", "/pivot/v2/payments/"+ida, tb, nil); g.Status != 404 {
		t.Errorf("merchant B reads A's session: %d", g.Status)
	}
	again := s.Call("POST", "/pivot/v2/payments", ta, body, "X-REQUEST-ID", "shared-req-1")
	if !bytes.Equal(again.Raw, ra.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("X-REQUEST-ID replay: %s / %s", ra.Raw, again.Raw)
	}

	c1 := s.Call("POST", "/v1/customers", a.SecretKey, map[string]any{"reference": "rcd-idem"}, "Idempotency-Key", "k-cross").Want(t, 201)
	c2 := s.Call("POST", "/v1/customers", b.SecretKey, map[string]any{"reference": "rcd-idem"}, "Idempotency-Key", "k-cross").Want(t, 201)
	if c1.Str("id") == c2.Str("id") || c2.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("one Idempotency-Key across merchants replayed")
	}
	if x := s.Call("POST", "/v1/sessions", a.SecretKey, map[string]any{"amount": 100}, "Idempotency-Key", "k-cross"); x.Status != 409 ||
		x.Str("error", "code") != "idempotency_key_reused" {
		t.Errorf("a key reused on another endpoint: want 409 idempotency_key_reused, got %d %s", x.Status, x.Raw)
	}
	if r := s.Call("POST", "/v1/customers", a.SecretKey, map[string]any{"reference": "rcd-idem"}, "Idempotency-Key", "k-cross"); !bytes.Equal(r.Raw, c1.Raw) ||
		r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("native replay: %d %s", r.Status, r.Raw)
	}
}
