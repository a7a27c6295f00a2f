package pivot

// Helpers the Pivot tests share beyond the harness's Pivot vocabulary.

import (
	"bytes"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// noCard fails if a card number or CVC is in a response or the logs.
func noCard(t *testing.T, s *harness.Server, what string, raw []byte, pan, cvc string) {
	t.Helper()
	if bytes.Contains(raw, []byte(pan)) || (cvc != "" && harness.ContainsIsolated(raw, cvc)) {
		t.Errorf("%s echoes card data: %s", what, raw)
	}
}

// paid creates an API-mode session (extra merged into the body), pays
// it with a hybrid-encrypted card and returns the confirm's data.
func paid(t *testing.T, s *harness.Server, tok, pan string, extra map[string]any) map[string]any {
	t.Helper()
	v := harness.PivotAPISession(t, s, tok, extra)
	r := harness.PivotConfirm(s, tok, harness.Str(v, "id"), map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON(pan, "123"), true)})
	return harness.PivotOK(t, "confirm", r)
}

// charge is chargeDetails[0] of a session object.
func charge(t *testing.T, d map[string]any) map[string]any {
	t.Helper()
	ch, _ := d["chargeDetails"].([]any)
	if len(ch) == 0 {
		t.Fatalf("no chargeDetails: %v", d)
	}
	c, _ := ch[0].(map[string]any)
	return c
}

// countSessions counts the merchant's sessions in the database.
func countSessions(t *testing.T, s *harness.Server, merchantID string) int {
	t.Helper()
	var n int
	if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT COUNT(*) FROM sessions WHERE merchant_id = ?`), merchantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
