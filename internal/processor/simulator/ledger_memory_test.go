package simulator_test

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/processor/simulator/ledgertest"
)

// TestMemoryLedger runs the Ledger checks over books in memory: every server and every restart
// is another simulator over the same books.
func TestMemoryLedger(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Ledgers {
		l := simulator.NewMemoryLedger()
		same := func() simulator.Ledger { return l }
		return ledgertest.Ledgers{First: l, Another: same, Restart: same}
	})
}
