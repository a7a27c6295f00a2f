package dialects

// MerchantInitiated: the holder-absent charge, reachable only through
// Ottu's auto-debit under the card's own agreement.

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestMerchantInitiatedOnlyForAgreementCards: the
// holder-absent charge (no CVC although require_cvc_for_saved_cards, no
// 3-D Secure) is reachable only through Ottu's auto-debit of a card saved
// under the same agreement: not through native JSON (json:"-"), not with a
// card saved elsewhere whose token metadata names an Ottu checkout, not with
// a card saved under another agreement.
func TestMerchantInitiatedOnlyForAgreementCards(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	agrTok, agrSession := savedUnderAgreement(t, s, sk, "rcd-mi", "agr-A", "5555555555554444", "529")
	otherTok, _ := savedUnderAgreement(t, s, sk, "rcd-mi", "agr-B", "6011111111111117", "284")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200)

	// A native token for the same customer claiming the agreement
	// checkout as its origin.
	cus := s.Call("GET", "/v1/sessions/"+agrSession, sk, nil).Want(t, 200).Str("customer")
	forged := s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("3566002020360505"), "customer": cus,
		"metadata": map[string]any{"session": agrSession}})
	if forged.Status != 201 {
		t.Fatalf("a native token with metadata.session: %d %s", forged.Status, forged.Raw)
	}
	auths := s.Sim.Stats().Authorizations
	target := ottuAutoDebit(t, s, sk, "rcd-mi", "agr-A", "rcd-mi-1", "").Str("session_id")
	if forged.Status == 201 {
		if a := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": target, "token": forged.Str("id")}); a.Status != 400 || harness.Dig(a.Body, "token") == nil {
			t.Errorf("auto-debit of a native token whose metadata names the agreement checkout: %d %s", a.Status, a.Raw)
		}
	}
	if a := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": target, "token": otherTok}); a.Status != 400 || harness.Dig(a.Body, "token") == nil {
		t.Errorf("auto-debit with a card saved under another agreement: %d %s", a.Status, a.Raw)
	}
	// Native confirm of the auto_debit checkout with the agreement card
	// and the json:"-" field spelled every way: the CVC is still required.
	for _, k := range []string{"MerchantInitiated", "merchant_initiated", "merchantInitiated"} {
		r := s.Call("POST", "/v1/sessions/"+target+"/confirm", sk, map[string]any{"token": agrTok, k: true})
		if r.Status != 400 {
			t.Errorf("native confirm with %s:true and no CVC: want 400, got %d %s", k, r.Status, r.Raw)
		}
		p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 100, "token": agrTok, k: true})
		if p.Status != 400 {
			t.Errorf("native payment with %s:true and no CVC: want 400, got %d %s", k, p.Status, p.Raw)
		}
	}
	// Pivot: a saved card always needs its CVC.
	pt := harness.PivotToken(t, s, s.Dev.ID, sk)
	pv := harness.PivotAPISession(t, s, pt, map[string]any{"customerId": cus})
	if c := harness.PivotConfirm(s, pt, harness.Str(pv, "id"), map[string]any{"token": agrTok}); c.Status != 400 {
		t.Errorf("Pivot confirm with the agreement card and no CVC: %d %s", c.Status, c.Raw)
	}
	if got := s.Sim.Stats().Authorizations; got != auths {
		t.Errorf("a refused merchant-initiated attempt charged: %d → %d", auths, got)
	}
	// The genuine one goes through, with no CVC.
	a := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, map[string]any{"session_id": target, "token": agrTok}).Want(t, 200)
	if a.Str("result") != "success" {
		t.Errorf("auto-debit under the agreement: %s", a.Raw)
	}
}
