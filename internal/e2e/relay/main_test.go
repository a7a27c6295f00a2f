// Package relay_test is the outbound relay end to end (POST /v1/relay): the
// real server, both stores, destinations on loopback that record the exact
// bytes Coffer sends them.
package relay_test

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
