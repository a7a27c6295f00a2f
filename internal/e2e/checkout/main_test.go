// Package checkout tests payment sessions end to end against the real
// server: the native sessions API (create, confirm with an encrypted card,
// saved cards, 3-D Secure, expiry, cancel, client secrets), the session
// callbacks when a paid session's payment later changes, and the hosted
// checkout page driven in a real headless browser (plus a browser smoke
// test that tells a broken browser from a broken page).
//
// To look at the browser tests' screenshots, set COFFER_SCREENSHOT_DIR.
package checkout

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
