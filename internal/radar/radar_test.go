package radar

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newGuard() (*Guard, *clock) {
	c := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	return New(c.now), c
}
func cand(fp string, unverified bool) Candidate {
	return Candidate{BIN: "424242", Last4: "4242", Fingerprint: fp, Unverified: unverified}
}

// The oracle attack: distinct candidates sharing BIN and last four. The
// limit holds, the refusal says when to come back, it is reported once per
// episode, and the group opens again when its window passes.
func TestSuffixBurst(t *testing.T) {
	g, c := newGuard()
	l := Limits{}
	// The same card any number of times is one card.
	for range 3 * Defaults.SuffixCards {
		if b := g.Admit("m1", l, cand("fp0", false)); b != nil {
			t.Fatalf("the same card refused: %v", b)
		}
	}
	for i := range Defaults.SuffixCards {
		if b := g.Admit("m1", l, cand(fmt.Sprint("fp", i), false)); b != nil {
			t.Fatalf("candidate %d refused: %v", i, b)
		}
		c.advance(time.Second)
	}
	b := g.Admit("m1", l, cand("fp-next", false))
	if b == nil || b.Rule != RuleSuffixBurst || !b.First || b.BIN != "424242" || b.Last4 != "4242" {
		t.Fatalf("want a first suffix block, got %+v", b)
	}
	if want := time.Hour - time.Duration(Defaults.SuffixCards)*time.Second; b.RetryAfter != want {
		t.Fatalf("retry after %s, want %s", b.RetryAfter, want)
	}
	if b := g.Admit("m1", l, cand("fp-other", false)); b == nil || b.First {
		t.Fatalf("second refusal must not be reported again: %+v", b)
	}
	// A full group refuses the cards it already holds as well: a known
	// card let through would tell the attacker which one is real. Another
	// merchant and another last four are unaffected.
	if b := g.Admit("m1", l, cand("fp3", false)); b == nil {
		t.Fatal("a known card passed a full group")
	}
	if b := g.Admit("m2", l, cand("fp-next", false)); b != nil {
		t.Fatalf("another merchant refused: %v", b)
	}
	if b := g.Admit("m1", l, Candidate{BIN: "424242", Last4: "1111", Fingerprint: "x"}); b != nil {
		t.Fatalf("another card group refused: %v", b)
	}
	c.advance(time.Hour)
	if b := g.Admit("m1", l, cand("fp-next", false)); b != nil {
		t.Fatalf("window passed, still refused: %v", b)
	}
}

// A batch import of distinct cards spreads over many groups and passes.
func TestImportOfDistinctCardsPasses(t *testing.T) {
	g, c := newGuard()
	for i := range 5000 {
		b := g.Admit("m1", Limits{}, Candidate{BIN: fmt.Sprintf("4%05d", i%50), Last4: fmt.Sprintf("%04d", i%9973), Fingerprint: fmt.Sprint(i), Unverified: true})
		if b != nil {
			t.Fatalf("import card %d refused: %+v", i, b)
		}
		c.advance(time.Millisecond)
	}
}

func TestUnverifiedFlood(t *testing.T) {
	g, c := newGuard()
	l := Limits{UnverifiedPerMinute: 60}
	for i := range 60 {
		if b := g.Admit("m1", l, Candidate{BIN: "4", Last4: fmt.Sprint(i), Fingerprint: fmt.Sprint(i), Unverified: true}); b != nil {
			t.Fatalf("within burst, %d refused: %v", i, b)
		}
	}
	b := g.Admit("m1", l, Candidate{BIN: "4", Last4: "x", Fingerprint: "x", Unverified: true})
	if b == nil || b.Rule != RuleUnverified || !b.First || b.RetryAfter <= 0 || b.RetryAfter > time.Second {
		t.Fatalf("want a flood block with ~1 s retry, got %+v", b)
	}
	// Verified tokenizations are not part of the flood.
	if b := g.Admit("m1", l, Candidate{BIN: "4", Last4: "y", Fingerprint: "y"}); b != nil {
		t.Fatalf("verified refused: %v", b)
	}
	c.advance(2 * time.Second)
	if b := g.Admit("m1", l, Candidate{BIN: "4", Last4: "x", Fingerprint: "x", Unverified: true}); b != nil {
		t.Fatalf("refilled, still refused: %v", b)
	}
}

func TestDeclineRatio(t *testing.T) {
	g, c := newGuard()
	l := Limits{}
	var trip *Block
	for i := range Defaults.DeclineMin {
		trip = g.Outcome("m1", l, fmt.Sprint(i), "400000", "0002", i%5 != 0, false) // 80% declined
		if i < Defaults.DeclineMin-1 && trip != nil {
			t.Fatalf("tripped early at %d", i)
		}
		c.advance(time.Second)
	}
	if trip == nil || trip.Rule != RuleDeclineRatio || !trip.First {
		t.Fatalf("want a decline-ratio trip, got %+v", trip)
	}
	if b := g.Admit("m1", l, cand("new", false)); b == nil || b.Rule != RuleDeclineRatio {
		t.Fatalf("want new cards refused during the cooldown, got %+v", b)
	}
	c.advance(Defaults.DeclineCooldown)
	if b := g.Admit("m1", l, cand("new", false)); b != nil {
		t.Fatalf("cooldown over, still refused: %v", b)
	}
	// Mostly approvals never trip it.
	g2, c2 := newGuard()
	for i := range 200 {
		if b := g2.Outcome("m1", l, fmt.Sprint(i), "4", "1", i%3 == 0, false); b != nil {
			t.Fatalf("33%% declines tripped: %+v", b)
		}
		c2.advance(time.Second)
	}
}

func TestCVCGuessing(t *testing.T) {
	g, c := newGuard()
	l := Limits{}
	for i := range Defaults.CVCFailures {
		if b := g.CheckCVC("m1", l, "card", "424242", "4242"); b != nil {
			t.Fatalf("guess %d refused: %v", i, b)
		}
		trip := g.Outcome("m1", l, "card", "424242", "4242", true, true)
		if (i == Defaults.CVCFailures-1) != (trip != nil && trip.Rule == RuleCVCGuessing) {
			t.Fatalf("guess %d: trip %+v", i, trip)
		}
	}
	if b := g.CheckCVC("m1", l, "card", "424242", "4242"); b == nil || b.Rule != RuleCVCGuessing {
		t.Fatalf("want CVC checks refused, got %+v", b)
	}
	if b := g.CheckCVC("m1", l, "other", "424242", "4242"); b != nil {
		t.Fatalf("another card refused: %v", b)
	}
	c.advance(time.Hour)
	if b := g.CheckCVC("m1", l, "card", "424242", "4242"); b != nil {
		t.Fatalf("window passed, still refused: %v", b)
	}
}

// Memory follows the last window: expired groups are dropped.
func TestPrune(t *testing.T) {
	g, c := newGuard()
	for i := range 1000 {
		g.Admit("m1", Limits{}, Candidate{BIN: "4", Last4: fmt.Sprint(i), Fingerprint: fmt.Sprint(i)})
	}
	c.advance(2 * time.Hour)
	g.Admit("m1", Limits{}, Candidate{BIN: "4", Last4: "new", Fingerprint: "new"})
	if n := len(g.merchants["m1"].groups); n != 1 {
		t.Fatalf("%d groups kept after the window", n)
	}
}

// TestHeldEntriesHoldNoPointers: a busy merchant's guard keeps one entry per
// card seen in the last hour (and one per wrong CVC); with no pointer in them
// the collector marks their arrays without reading them. A time.Time has
// one (its location).
func TestHeldEntriesHoldNoPointers(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.String, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return true
		case reflect.Struct:
			for i := range ty.NumField() {
				if walk(ty.Field(i).Type) {
					return true
				}
			}
		case reflect.Array:
			return walk(ty.Elem())
		}
		return false
	}
	st := reflect.TypeFor[merchantState]()
	for _, field := range []string{"groups", "cvc"} {
		f, _ := st.FieldByName(field)
		if elem := f.Type.Elem().Elem(); walk(elem) {
			t.Errorf("merchantState.%s holds %s, which has a pointer", field, elem)
		}
	}
}
