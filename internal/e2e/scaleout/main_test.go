// Package scaleout tests Coffer run as several `coffer serve` instances on one PostgreSQL
// database, where no instance may keep in its memory what another needs: here, the built-in test
// acquirer's ledger, which lives in the store (issue 18 point 6). A payment authorized through
// one instance is captured, voided, refunded and looked up through any other; killed under
// load, alternately, the instances lose and double nothing at the acquirer.
package scaleout

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
