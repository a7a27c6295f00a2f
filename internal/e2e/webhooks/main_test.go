// Package webhooks tests events and their delivery end to end: webhook
// endpoints and their address rules, signing and secret rotation, retries
// and fairness between receivers, isolation between merchants, a session's
// callback_url, and the session's live stream.
package webhooks

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
