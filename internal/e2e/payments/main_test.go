// Package payments tests payments end to end against a running server:
// their lifecycle and state machine, the test cards, bad input, refunds,
// concurrency on one payment, Idempotency-Keys (replays, races, restarts),
// reconciliation of what the acquirer did, and two PostgreSQL instances
// sharing one database.
package payments

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
