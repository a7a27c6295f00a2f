// Package tokens tests the vault end to end: tokenizing cards (one, in
// batches, per customer), the token lifecycle and its encryption at rest,
// device keys and merchant settings, the test-card table, and the controls
// against card testing.
package tokens

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
