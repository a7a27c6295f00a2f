// Package keys tests a merchant's API keys end to end against a running
// server: rolling the secret key, the publishable key and the HMAC secret
// (refused at once, or kept for an overlap that ends on time; the HMAC
// overlap seen through a dialect), restricted keys and their scopes, each
// key's last use, the per-key rate limit, and that no key reaches the log.
package keys

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
