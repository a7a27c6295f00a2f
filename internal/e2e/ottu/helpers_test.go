package ottu

// The seed's checkout and the ways the Ottu tests save a card.

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// seedCheckout is the seed's tokenization showcase request, verbatim.
const seedCheckout = `{
    "type": "payment_request",
    "pg_codes": ["ottu_pg_kwd_tkn"],
    "amount": "19",
    "customer_id":"user_example",
    "order_no": "token_showcase",
    "currency_code": "KWD"
}`

// cardPAN and cardCVC are the card the helpers below save.
const cardPAN, cardCVC = "4242424242424242", "739"

// agreement is an agreement as a merchant sends it.
func agreement(id string) map[string]any {
	return map[string]any{"id": id, "type": "unscheduled", "frequency": "irregular"}
}

// autoDebitCheckout creates an auto_debit checkout for customer.
func autoDebitCheckout(t testing.TB, s *harness.Server, sk, customer, agreementID, order string) string {
	t.Helper()
	return harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "20.500", "currency_code": "KWD",
		"pg_codes": []string{"ottu_pg_kwd_tkn"}, "payment_type": "auto_debit", "customer_id": customer, "order_no": order,
		"agreement": agreement(agreementID)}).Str("session_id")
}

// savedOnOneOff saves a card the way the seed's showcase does: a
// one_off checkout with customer_id, paid on the hosted page with "Save
// Your Card" ticked. No agreement was ever shown to the holder.
func savedOnOneOff(t testing.TB, s *harness.Server, sk, customer string) string {
	t.Helper()
	sid := harness.OttuCheckout(t, s, sk, map[string]any{"type": "payment_request", "amount": "19", "currency_code": "KWD",
		"pg_codes": []string{"ottu_pg_kwd_tkn"}, "customer_id": customer, "order_no": "showcase-" + customer}).Str("session_id")
	harness.OttuPayNative(t, s, sk, sid, cardPAN, cardCVC, true)
	return onlyToken(t, s, sk, customer)
}

// savedOnAutoDebit saves a card on an auto_debit checkout paid by
// the holder on the hosted page: the holder's agreement agreementID.
func savedOnAutoDebit(t testing.TB, s *harness.Server, sk, customer, agreementID string) string {
	t.Helper()
	sid := autoDebitCheckout(t, s, sk, customer, agreementID, "first-"+customer)
	harness.OttuPayNative(t, s, sk, sid, cardPAN, cardCVC, false)
	return onlyToken(t, s, sk, customer)
}

// onlyToken is the token of the customer's one saved card.
func onlyToken(t testing.TB, s *harness.Server, sk, customer string) string {
	t.Helper()
	l := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id="+customer, sk, nil).Want(t, 200))
	if len(l) != 1 {
		t.Fatalf("want one saved card for %s: %v", customer, l)
	}
	tok, _ := l[0]["token"].(string)
	return tok
}
