package app

import (
	"os"
	"runtime/debug"
	"testing"
)

func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// A server runs the collector at gcPercent unless the operator set GOGC.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(currentGCPercent())
	t.Run("default", func(t *testing.T) {
		debug.SetGCPercent(100)
		unsetenv(t, "GOGC")
		tuneGC()
		if got := currentGCPercent(); got != gcPercent {
			t.Fatalf("GC percent %d, want %d", got, gcPercent)
		}
	})
	t.Run("empty GOGC", func(t *testing.T) {
		debug.SetGCPercent(100)
		t.Setenv("GOGC", "")
		tuneGC()
		if got := currentGCPercent(); got != gcPercent {
			t.Fatalf("GC percent %d, want %d", got, gcPercent)
		}
	})
	t.Run("operator's GOGC", func(t *testing.T) {
		debug.SetGCPercent(150)
		t.Setenv("GOGC", "150")
		tuneGC()
		if got := currentGCPercent(); got != 150 {
			t.Fatalf("GC percent %d, want the operator's 150", got)
		}
	})
}

// unsetenv removes key for the test (t.Setenv first, so it is restored after).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
