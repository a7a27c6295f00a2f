// Package threeds tests 3-D Secure end to end: challenges of tokens and
// payments over HTTP and in a real browser, the challenge page, the merchant's
// 3-D Secure modes and rule, expiry, and what becomes of the sealed card data
// through deletions, crashes and the sweeper.
package threeds

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
