package ottu

// One merchant reaches none of another's Ottu objects.

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestOttuCrossMerchant: one merchant reaches none of another's Ottu
// objects: checkouts, saved cards (list, delete) and auto-debit with its
// token.
func TestOttuCrossMerchant(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnAutoDebit(t, s, sk, "cust_shared", "agr-x")
	sid := autoDebitCheckout(t, s, sk, "cust_shared", "agr-x", "x-2")
	other := s.NewMerchant("Other").SecretKey
	if l := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_shared", other, nil).Want(t, 200)); len(l) != 0 {
		t.Errorf("another merchant listed the cards: %v", l)
	}
	harness.OttuDetail(t, "another merchant's checkout", harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid+"/", other, nil), 404)
	auths := s.Sim.Stats().Authorizations
	harness.OttuFieldError(t, "another merchant's session", harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", other, map[string]any{"session_id": sid, "token": tok}), "session_id")
	// The other merchant's own auto_debit checkout for the same reference.
	osid := autoDebitCheckout(t, s, other, "cust_shared", "agr-x", "x-3")
	r := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", other, map[string]any{"session_id": osid, "token": tok})
	if r.Status == 200 {
		t.Errorf("another merchant charged the token: %s", r.Raw)
	}
	if s.Sim.Stats().Authorizations != auths {
		t.Error("another merchant's auto-debit charged")
	}
	harness.OttuDetail(t, "another merchant deleting the card", harness.OttuCall(t, s, "DELETE", "/b/pbl/v2/card/"+tok+"/?customer_id=cust_shared", other, nil), 404)
	if l := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_shared", sk, nil).Want(t, 200)); len(l) != 1 {
		t.Errorf("the owner's card after the other merchant's attempts: %v", l)
	}
}
