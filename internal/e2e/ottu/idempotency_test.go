package ottu

// Tracking-Key: Ottu's idempotency key.

import (
	"bytes"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// Regression: Tracking-Key replay depended on the trailing
// slash. The dialect serves /b/pbl/v2/auto-debit and
// /b/pbl/v2/auto-debit/ as one endpoint
// (PROVIDERS.md: the SDK sends some paths without the slash), but the
// idempotency digest covers r.URL.Path, so a retry of the same request
// with the same Tracking-Key under the other spelling answered 409 "used
// with another request" instead of the stored outcome: a client retrying
// after a timeout could not learn whether the card was charged. Guarded:
// both spellings replay the same answer (200, Idempotent-Replayed).
func TestOttuTrackingKeySlashVariants(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnAutoDebit(t, s, sk, "cust_tk", "agr-tk")
	sid := autoDebitCheckout(t, s, sk, "cust_tk", "agr-tk", "tk-2")
	body := map[string]any{"session_id": sid, "token": tok}
	auths := s.Sim.Stats().Authorizations
	r1 := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit/", sk, body, "Tracking-Key", "tk-slash").Want(t, 200)
	r2 := harness.OttuCall(t, s, "POST", "/b/pbl/v2/auto-debit", sk, body, "Tracking-Key", "tk-slash")
	if r2.Status != 200 || !bytes.Equal(r1.Raw, r2.Raw) || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the same Tracking-Key without the trailing slash: %d %s (first: %s)", r2.Status, r2.Raw, r1.Raw)
	}
	if got := s.Sim.Stats().Authorizations; got != auths+1 {
		t.Errorf("authorizations %d → %d, want exactly one", auths, got)
	}
}
