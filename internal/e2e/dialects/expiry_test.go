package dialects

// SessionParams.ExpiresAt as a dialect sets it.

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestExpiryAtSameInstant: Pivot's expiryAt in any zone is kept
// as the same instant; outside 1 minute – 24 hours it is refused.
func TestExpiryAtSameInstant(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := harness.PivotToken(t, s, s.Dev.ID, sk)
	jakarta := time.FixedZone("WIB", 7*3600)
	want := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	v := harness.PivotAPISession(t, s, tok, map[string]any{"expiryAt": want.In(jakarta).Format(time.RFC3339)})
	got, err := time.Parse(time.RFC3339, harness.Str(v, "expiryAt"))
	if err != nil || !got.Equal(want) {
		t.Errorf("expiryAt %q, want the instant %s", harness.Str(v, "expiryAt"), want.UTC())
	}
	n := s.Call("GET", "/v1/sessions/"+harness.Str(v, "id"), sk, nil).Want(t, 200)
	if ne, err := time.Parse(time.RFC3339Nano, n.Str("expires_at")); err != nil || !ne.Equal(want) {
		t.Errorf("native expires_at %q, want %s", n.Str("expires_at"), want.UTC())
	}
	for _, bad := range []time.Time{time.Now().Add(30 * time.Second), time.Now().Add(25 * time.Hour), time.Now().Add(-time.Hour)} {
		r := s.Call("POST", "/pivot/v2/payments", tok, map[string]any{"amount": map[string]any{"value": 1000, "currency": "IDR"}, "mode": "API",
			"expiryAt": bad.In(jakarta).Format(time.RFC3339)})
		if r.Status != 400 {
			t.Errorf("expiryAt %s: want 400, got %d %s", bad, r.Status, r.Raw)
		}
	}
}
