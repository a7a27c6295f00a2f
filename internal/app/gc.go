package app

import (
	"os"
	"runtime/debug"
)

// gcPercent is the collector's target when the operator has not set GOGC. A
// request allocates ~20 KB that die with it, while the live heap stays small
// (tens of MB: caches, pools, the card-testing windows), so at Go's default
// of 100 the collector ran several times a second under load and took ~10 %
// of tokenize's CPU; its work per cycle follows the live heap, its cycles
// the allocation rate over the headroom, so 200 halves it. 400 saved a
// little more CPU but let the heap grow to five times the live heap: 409 MiB
// of RSS after 357k tokenizations, where 200 held 271 MiB.
// GOGC and GOMEMLIMIT, when set, are the operator's and are left alone (an
// empty GOGC is the runtime's default, so it counts as not set).
const gcPercent = 200

// tuneGC sets the collector's target for a server process.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
