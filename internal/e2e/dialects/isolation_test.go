package dialects

// A session belongs to the API that created it (SessionView.CallbackFormat):
// no other dialect shows, pays or cancels it.

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSensePassSeesOnlyItsSessions
//
// Bug: SensePass's GET /transactions/{ps_…} and POST /transactions/cancel/
// {ps_…} (transaction.go lookup) read and cancel any session of the
// merchant: it never checks SessionView.CallbackFormat, which Pivot
// (pivotSession) and Ottu (session) do so that "only the checkouts this
// dialect created are Ottu checkouts" (docs/dialects.md).
//
// Why it matters: an Ottu auto_debit checkout or a Pivot session, whose
// dialect promises it is invisible elsewhere, is shown in SensePass's shape
// and can be cancelled through SensePass — a cross-dialect path around the
// owning dialect's rules (Ottu has no cancel; Pivot never cancels a session
// the client did not create with autoConfirm).
//
// Expected: SensePass answers 404 for sessions it did not create (format
// "sensepass" or "sensepass_get"), and the Ottu checkout stays "created".
func TestSensePassSeesOnlyItsSessions(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	ot := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "1.000", "currency_code": "KWD", "pg_codes": []string{"x"}})
	osid := ot.Str("session_id")
	pv := harness.PivotAPISession(t, s, harness.PivotToken(t, s, s.Dev.ID, sk), nil)
	psid := harness.Str(pv, "id")

	for name, id := range map[string]string{"an Ottu checkout": osid, "a Pivot session": psid} {
		if g := harness.SensePassGet(t, s, id, "apiKey", sk); g.Status != 404 {
			t.Errorf("SensePass GET of %s: want 404, got %d %s", name, g.Status, g.Raw)
		}
	}
	if c := harness.SensePassPost(t, s, "cancel/"+osid, map[string]any{"apiKey": sk}); c.Status != 404 {
		t.Errorf("SensePass cancel of an Ottu checkout: want 404, got %d %s", c.Status, c.Raw)
	}
	if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+osid, sk, nil).Want(t, 200); g.Str("state") != "created" {
		t.Errorf("the Ottu checkout after SensePass's cancel: state %q, want created", g.Str("state"))
	}
}

// TestSessionsStayInTheirDialect: Pivot and Ottu
// neither show nor pay a session another API made (CallbackFormat); the
// native API cannot give a session a dialect's format.
func TestSessionsStayInTheirDialect(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := harness.PivotToken(t, s, s.Dev.ID, sk)
	dk, _ := harness.SensePassDeviceKey(t, s, sk)

	native := s.Call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "mode": "api"}).Want(t, 201).Str("id")
	// json:"-" fields are not JSON: a native caller cannot claim a format.
	forged := s.Call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "mode": "api", "CallbackFormat": "ottu",
		"callback_format": "pivot", "-": "ottu"})
	sense := harness.SensePassPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 100, "deviceId": dk, "methodType": "Capture"}).Want(t, 201).Str("TransactionNumber")
	ottu := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "1.000", "currency_code": "KWD", "pg_codes": []string{"x"},
		"payment_type": "auto_debit", "customer_id": "rcd-iso", "agreement": map[string]any{"id": "agr-iso", "type": "unscheduled"}}).Str("session_id")
	pivot := harness.Str(harness.PivotAPISession(t, s, tok, nil), "id")

	if forged.Status != 400 {
		t.Logf("native session with CallbackFormat keys: %d", forged.Status)
	}
	foreignToPivot := []string{native, sense, ottu}
	foreignToOttu := []string{native, sense, pivot}
	if forged.Status == 201 {
		foreignToPivot = append(foreignToPivot, forged.Str("id"))
		foreignToOttu = append(foreignToOttu, forged.Str("id"))
	}
	for _, id := range foreignToPivot {
		if g := s.Call("GET", "/pivot/v2/payments/"+id, tok, nil); g.Status != 404 {
			t.Errorf("Pivot GET of foreign session %s: %d %s", id, g.Status, g.Raw)
		}
		if c := harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": "AAAA"}); c.Status != 404 {
			t.Errorf("Pivot confirm of foreign session %s: %d %s", id, c.Status, c.Raw)
		}
	}
	for _, id := range foreignToOttu {
		if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+id, sk, nil); g.Status != 404 {
			t.Errorf("Ottu GET of foreign session %s: %d %s", id, g.Status, g.Raw)
		}
		if a := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": id, "token": "tok_x"}); a.Status != 400 ||
			harness.Dig(a.Body, "session_id") == nil {
			t.Errorf("Ottu auto-debit of foreign session %s: %d %s", id, a.Status, a.Raw)
		}
	}
}
