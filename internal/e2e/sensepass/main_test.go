// Package sensepass tests the SensePass dialect (/sensepass/api) end to
// end: its transactions (init, tokenize, pay, token-validation, status,
// cancel) against the seed's examples, its error shape and credentials,
// its signed callbacks, its live socket, and its hosted page in a real
// browser.
package sensepass

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
