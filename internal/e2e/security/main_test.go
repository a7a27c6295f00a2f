// Package security tests end to end what must never happen: card numbers,
// CVCs or secrets at rest, in logs or echoed in answers; one merchant
// reaching another's objects; bad input stored or passed on; and the
// limits on guessing (3-D Secure codes) and on what a merchant may set up.
package security

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
