package dialects

// Helpers the cross-dialect tests share.

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// ottuAutoDebit makes an auto_debit checkout for customer under the
// agreement id agr.
func ottuAutoDebit(t testing.TB, s *harness.Server, sk, customer, agr, order, webhook string) harness.Resp {
	t.Helper()
	body := map[string]any{"type": "e_commerce", "amount": "5.000", "currency_code": "KWD", "pg_codes": []string{"ottu_pg_kwd_tkn"},
		"payment_type": "auto_debit", "customer_id": customer, "order_no": order, "agreement": map[string]any{"id": agr, "type": "unscheduled"}}
	if webhook != "" {
		body["webhook_url"] = webhook
	}
	return harness.OttuCheckout(t, s, sk, body)
}

// savedUnderAgreement pays a fresh auto_debit checkout on its hosted
// page (native confirm, as the page does) with pan and returns the token
// it saved under the agreement.
func savedUnderAgreement(t testing.TB, s *harness.Server, sk, customer, agr, pan, cvc string) (tok, sid string) {
	t.Helper()
	c := ottuAutoDebit(t, s, sk, customer, agr, "rcd-save-"+agr, "")
	sid = c.Str("session_id")
	p := harness.OttuPayNative(t, s, sk, sid, pan, cvc, true)
	tok = p.Str("token")
	if p.Str("status") != "succeeded" || !strings.HasPrefix(tok, "tok_") {
		t.Fatalf("saving a card under %s: %s", agr, p.Raw)
	}
	return tok, sid
}

// pivotEnvelope builds a hybrid envelope from its parts (each base64).
func pivotEnvelope(parts map[string]any) string {
	b, _ := json.Marshal(parts)
	return base64.StdEncoding.EncodeToString(b)
}
