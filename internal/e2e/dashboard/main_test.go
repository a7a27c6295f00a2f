// Package dashboard tests the merchant dashboard (/dashboard) against the
// real server: sign-in and its limits, CSRF on every form, the headers of
// every page (over HTTP, both backends), and in headless Chromium a user
// finding a payment by order id, refunding part of it and redelivering a
// failed webhook, with screenshots at 1280 and 360 px.
package dashboard

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
