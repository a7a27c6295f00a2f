// Package fields tests the drop-in card fields (coffer.js) end to end: a
// merchant's page served from another loopback origin loads
// /v1/coffer.js, mounts the Coffer-served field frames, and a real headless
// Chromium types a card into them and pays sessions (with and without
// 3-D Secure), while the merchant page's own script tries, and fails, to
// read the card. The HTTP tests check the script's and the frames' headers
// and refusals without a browser.
//
// To look at the screenshots, set COFFER_SCREENSHOT_DIR.
package fields

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
