package harness

import (
	"testing"
	"time"
)

// WaitUntil polls ok every 20 ms until it holds, failing the test after d.
// Tests wait on what the server shows (its API, its log, a receiver), never
// for a fixed time.
func WaitUntil(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
