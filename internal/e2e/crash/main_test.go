// Package crash tests what a crash leaves behind: requests whose server died
// between acting and answering are resumed by a retry with the same
// Idempotency-Key or settled at the next start, leases of dead instances are
// taken over, and the real binary, killed with SIGKILL under load, loses and
// doubles nothing.
package crash

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
