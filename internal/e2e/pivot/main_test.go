// Package pivot tests the Pivot Payment dialect (/pivot) against the real
// server: access tokens, payment sessions in API and REDIRECT mode paid
// with cards encrypted the way Pivot clients do, stored tokens + CVC,
// 3-D Secure, the 4xx envelopes, X-REQUEST-ID replays, the customer's
// stored payment methods and PAYMENT.* callbacks with X-API-Key. Tests
// whose comment starts with "regression:" guard a bug found and fixed,
// stating the behaviour they hold.
package pivot

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
