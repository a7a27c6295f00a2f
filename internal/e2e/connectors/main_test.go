// Package connectors tests processor accounts end to end: their API, how
// payments and verifications are routed to them, failover between them,
// and the connectors to real acquirers' APIs (against their test servers on
// loopback).
package connectors

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
