package payment

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// The breaker opens after breakerFailures calls in a row that did not reach
// the acquirer, stays open for breakerOpen, then lets a trial through; any
// answer (a decline included) closes it.
func TestBreaker(t *testing.T) {
	a := &acquirer{}
	now := time.Unix(1_800_000_000, 0)
	for i := range breakerFailures - 1 {
		a.outcome(false, now)
		if !a.allow(now) {
			t.Fatalf("open after %d failures, want %d", i+1, breakerFailures)
		}
	}
	a.outcome(false, now)
	if a.allow(now) || a.allow(now.Add(breakerOpen-time.Second)) {
		t.Fatal("the circuit is not open after the failures")
	}
	if !a.allow(now.Add(breakerOpen + time.Second)) {
		t.Fatal("no trial call once the open time has passed")
	}
	a.outcome(false, now.Add(breakerOpen+time.Second)) // the trial failed: open again
	if a.allow(now.Add(breakerOpen + 2*time.Second)) {
		t.Fatal("a failed trial does not reopen the circuit")
	}
	a.outcome(true, now.Add(2*breakerOpen+time.Minute))
	if !a.allow(now.Add(2*breakerOpen + time.Minute)) {
		t.Fatal("an answer does not close the circuit")
	}
}

// An account takes the currencies it lists, in any case, or all of them
// when it lists none; only Authorize.net keeps cards.
func TestTakesAndKeeping(t *testing.T) {
	usd := &store.ProcessorAccount{ID: "pa_usd", Type: AccountStripe, Currencies: []string{"USD"}}
	all := &store.ProcessorAccount{ID: "pa_all", Type: AccountAuthorizeNet}
	for _, c := range []struct {
		a    *store.ProcessorAccount
		cur  string
		want bool
	}{{usd, "USD", true}, {usd, "usd", true}, {usd, "MYR", false}, {all, "MYR", true}} {
		if got := takes(c.a, c.cur); got != c.want {
			t.Errorf("%s takes %s: %v, want %v", c.a.ID, c.cur, got, c.want)
		}
	}
	var s Acquirers
	route := []*acquirer{{account: usd}, {account: all}, {}}
	got, err := s.keeping(route)
	if err != nil || len(got) != 1 || got[0].account != all {
		t.Fatalf("keeping: %v %v", got, err)
	}
	if _, err := s.keeping(route[:1]); err == nil {
		t.Fatal("a stored card routed without an authorize_net account")
	}
	if (&acquirer{}).typ() != AccountSimulator || (&acquirer{}).id() != "" {
		t.Fatal("the built-in acquirer is not the simulator with no account")
	}
}
