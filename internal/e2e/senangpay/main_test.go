// Package senangpay tests the senangPay dialect (/senangpay) end to end:
// its server-to-server calls (pay_cc, validate_token, update_token_status,
// query_order_status, get_payment_token) with their Basic auth and hashes,
// and the 3-D Secure get-token flow over HTTP and in a real browser, with
// its return hop and Tokenization Callback.
package senangpay

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
