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

// A server runs the collector at gcPercent unless the operator set GOGC (an
// empty GOGC is the runtime's default, so not a choice).
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(currentGCPercent())
	for _, tc := range []struct {
		name string
		env  func(t *testing.T)
		want int
	}{
		{"unset", func(t *testing.T) { unsetenv(t, "GOGC") }, gcPercent},
		{"empty", func(t *testing.T) { t.Setenv("GOGC", "") }, gcPercent},
		{"operator's", func(t *testing.T) { t.Setenv("GOGC", "150"); debug.SetGCPercent(150) }, 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			tc.env(t)
			tuneGC()
			if got := currentGCPercent(); got != tc.want {
				t.Fatalf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}

// unsetenv removes key for the test (t.Setenv first, so it is restored after).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
