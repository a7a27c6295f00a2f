// Package metrics tests the Prometheus listener end to end: a server
// started with a metrics address serves /metrics there and only there,
// counts what it did, and never puts an id, a card digit or a secret in a
// label.
package metrics

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
