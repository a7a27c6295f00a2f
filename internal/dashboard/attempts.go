package dashboard

import (
	"sync"
	"time"
)

// Sign-in limits: after MaxFailures failed sign-ins within FailureWindow,
// for one e-mail or from one address, sign-in is refused (429) until the
// oldest failure leaves the window — online guessing gets about 20 tries an
// hour per account, and one address cannot spray many accounts either.
const (
	MaxFailures   = 5
	FailureWindow = 15 * time.Minute
	// maxKeys bounds the memory the counters take: an attacker inventing
	// e-mails must not grow the map without end.
	maxKeys = 100_000
)

// attempts counts recent failed sign-ins per key ("email:…", "ip:…"). It
// is per process: several instances each allow the limit, a bound that
// still holds.
type attempts struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

func newAttempts(max int, window time.Duration) *attempts {
	return &attempts{max: max, window: window, fails: map[string][]time.Time{}}
}

// recent drops the failures of key older than the window and returns the rest.
func (a *attempts) recent(key string, now time.Time) []time.Time {
	l := a.fails[key]
	i := 0
	for i < len(l) && now.Sub(l[i]) >= a.window {
		i++
	}
	l = l[i:]
	if len(l) == 0 {
		delete(a.fails, key)
		return nil
	}
	a.fails[key] = l
	return l
}

// Blocked reports whether any of keys has used up its failures, and until when.
func (a *attempts) Blocked(now time.Time, keys ...string) (bool, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		if l := a.recent(k, now); len(l) >= a.max {
			return true, l[0].Add(a.window)
		}
	}
	return false, time.Time{}
}

// Fail counts one failure against each of keys.
func (a *attempts) Fail(now time.Time, keys ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.fails) >= maxKeys {
		for k := range a.fails {
			a.recent(k, now)
		}
		if len(a.fails) >= maxKeys {
			clear(a.fails) // under a flood of invented keys: forget rather than grow
		}
	}
	for _, k := range keys {
		l := a.recent(k, now)
		if len(l) >= a.max {
			l = l[1:] // keep the newest max: enough to judge, bounded
		}
		a.fails[k] = append(l, now)
	}
}
