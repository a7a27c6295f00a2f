// Package dialects tests what the provider dialects (Pivot, Ottu,
// SensePass, senangPay) share through one core, and how they meet there:
// payment.CardCipher / decryptCard, idempotency.HTTP under
// Idempotency-Key, X-REQUEST-ID and Tracking-Key, MerchantInitiated, token
// metadata "session", SessionParams.ExpiresAt and SessionView.CallbackFormat.
// Tests whose comment starts with "Bug:" guard one found and fixed; the
// others hold properties every dialect must keep.
package dialects

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
