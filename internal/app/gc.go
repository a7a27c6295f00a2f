package app

import (
	"os"
	"runtime/debug"
)

// gcPercent is the collector's target when the operator has not set GOGC. A
// request allocates ~20 KB that die with it, while the live heap stays small
// and flat (tens of MB: caches, pools, the read connections), so at Go's
// default of 100 the collector ran several times a second under load and
// took ~10 % of the CPU. At 400 it runs a quarter as often; the heap's peak
// grows to about five times the live heap, still flat under load.
// GOGC and GOMEMLIMIT, when set, are the operator's and are left alone.
const gcPercent = 400

// tuneGC sets the collector's target for a server process.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
