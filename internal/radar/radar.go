// Package radar is Coffer's card-testing control. A token shows a card's
// BIN and last four digits; anyone who can tokenize can try the numbers
// that fit between them and watch for the one that comes back as "the same
// card" (a fingerprint, or a customer's existing token). With a 6-digit
// BIN a 16-digit card leaves 100,000 Luhn-valid candidates. The same
// pattern — many candidate cards, most of them wrong — is what a fraudster
// testing stolen numbers or guessing a CVC produces. Radar counts the
// signals of that pattern per merchant and refuses new candidates once a
// signal passes its limit, for as long as the signal stays high:
//
//   - suffix burst: many different cards sharing one BIN and last four in a
//     window (the oracle attack itself; a real customer base spreads over
//     10,000 last-four values per BIN);
//   - unverified flood: tokenizations that ask no issuer (verify:false), far
//     above any interactive rate — the cheap way to probe;
//   - decline ratio: most verifications and card payments declined;
//   - CVC guessing: repeated wrong CVCs for one card.
//
// Counts live in this process's memory: they must be cheap on the hot path,
// and they only need to be right about bursts. Several instances each count
// their own share, so the limits add up over instances (documented). The
// state is bounded: old entries are dropped as their window passes and a
// merchant's table of card groups has a fixed cap.
package radar

import (
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// Rules, as events and audit records name them.
const (
	RuleSuffixBurst    = "card_suffix_burst"
	RuleUnverified     = "unverified_flood"
	RuleDeclineRatio   = "decline_ratio"
	RuleCVCGuessing    = "cvc_guessing"
	maxGroupsPerMerch  = 200_000
	declineBucketCount = 10
)

// Limits are one merchant's thresholds; a zero field takes its default.
type Limits struct {
	// SuffixCards different cards with one BIN and last four are accepted
	// per SuffixWindow; the next one is refused until the oldest ages out.
	SuffixCards  int           `json:"suffix_cards"`
	SuffixWindow time.Duration `json:"-"`
	// UnverifiedPerMinute tokenizations without verification per minute,
	// with a burst of the same size.
	UnverifiedPerMinute int `json:"unverified_per_minute"`
	// Once DeclineMin verifications fell in DeclineWindow and at least
	// DeclineRatio of them were declined, new cards are refused for
	// DeclineCooldown.
	DeclineMin      int           `json:"decline_min"`
	DeclineRatio    float64       `json:"decline_ratio"`
	DeclineWindow   time.Duration `json:"-"`
	DeclineCooldown time.Duration `json:"-"`
	// CVCFailures wrong CVCs per card per CVCWindow; then that card's CVC
	// is not checked again until the window passes.
	CVCFailures int           `json:"cvc_failures"`
	CVCWindow   time.Duration `json:"-"`
}

// Defaults are documented in README ("Card-testing control").
var Defaults = Limits{
	SuffixCards: 16, SuffixWindow: time.Hour,
	UnverifiedPerMinute: 6000,
	DeclineMin:          20, DeclineRatio: 0.6, DeclineWindow: 10 * time.Minute, DeclineCooldown: 5 * time.Minute,
	CVCFailures: 5, CVCWindow: time.Hour,
}

// WithDefaults fills every zero field from Defaults.
func (l Limits) WithDefaults() Limits {
	d := Defaults
	return Limits{
		SuffixCards: or(l.SuffixCards, d.SuffixCards), SuffixWindow: or(l.SuffixWindow, d.SuffixWindow),
		UnverifiedPerMinute: or(l.UnverifiedPerMinute, d.UnverifiedPerMinute),
		DeclineMin:          or(l.DeclineMin, d.DeclineMin), DeclineRatio: or(l.DeclineRatio, d.DeclineRatio),
		DeclineWindow: or(l.DeclineWindow, d.DeclineWindow), DeclineCooldown: or(l.DeclineCooldown, d.DeclineCooldown),
		CVCFailures: or(l.CVCFailures, d.CVCFailures), CVCWindow: or(l.CVCWindow, d.CVCWindow),
	}
}

// or is v when it is set (positive), else the default.
func or[T int | float64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Candidate is a card about to be tokenized, verified or charged.
type Candidate struct {
	BIN, Last4  string
	Fingerprint string // the merchant's fingerprint of the number
	// Unverified: stored without asking the issuer (verify:false).
	Unverified bool
}

// Block is a refusal. It carries no card data beyond BIN and last four.
type Block struct {
	Rule       string
	RetryAfter time.Duration
	// First is true for the first refusal of an episode (per merchant and
	// rule, and per card group for the suffix rule): the one to report.
	First bool
	// Count is what passed the limit (cards, tokenizations, declines).
	Count  int
	Limit  int
	Window time.Duration
	BIN    string // suffix and CVC rules
	Last4  string
}

func (b *Block) Error() string {
	return fmt.Sprintf("radar: %s (retry after %s)", b.Rule, b.RetryAfter)
}

// Guard holds the counts of every merchant. Safe for concurrent use.
type Guard struct {
	now  func() time.Time
	base time.Time // times held are durations since base (clock)

	mu        sync.Mutex
	merchants map[string]*merchantState
}

// New returns a guard; now is the clock (nil: time.Now).
func New(now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{now: now, base: now(), merchants: map[string]*merchantState{}}
}

// clock is now as the guard holds times: the duration since base. A
// time.Time carries a pointer (its location), so slices of them are memory
// the collector must scan; a busy merchant's guard holds one entry per card
// seen in the last hour, and these are plain numbers instead.
func (g *Guard) clock(now time.Time) time.Duration { return now.Sub(g.base) }

type seen struct {
	fp uint64
	at time.Duration // clock
}

type merchantState struct {
	groups    map[uint64][]seen // hash(BIN+last4) → distinct cards seen, oldest first
	reported  map[uint64]time.Time
	lastPrune time.Time

	tokens     float64 // unverified-tokenization bucket
	refilled   time.Time
	floodUntil time.Time // the flood episode reported until then

	buckets      [declineBucketCount]declineBucket
	blockedUntil time.Time // decline-ratio cooldown

	cvc map[uint64][]time.Duration // card → wrong CVC times (clock), oldest first
}

type declineBucket struct {
	start              time.Time
	attempts, declines int
}

func (g *Guard) state(merchant string, now time.Time, l Limits) *merchantState {
	st := g.merchants[merchant]
	if st == nil {
		st = &merchantState{groups: map[uint64][]seen{}, reported: map[uint64]time.Time{}, cvc: map[uint64][]time.Duration{},
			tokens: float64(l.UnverifiedPerMinute), refilled: now, lastPrune: now}
		g.merchants[merchant] = st
	}
	return st
}

func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// Admit decides whether a candidate card may go on. A refused candidate
// is not counted (a retry after Retry-After finds the same room).
func (g *Guard) Admit(merchant string, l Limits, c Candidate) *Block {
	l = l.WithDefaults()
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(merchant, now, l)
	t := g.clock(now)
	st.prune(now, t, l)

	if now.Before(st.blockedUntil) {
		return &Block{Rule: RuleDeclineRatio, RetryAfter: st.blockedUntil.Sub(now), Limit: l.DeclineMin, Window: l.DeclineWindow}
	}

	gk := hash(c.BIN, c.Last4)
	fp := hash(c.Fingerprint)
	group := live(st.groups[gk], t, l.SuffixWindow)
	known := false
	for _, e := range group {
		if e.fp == fp {
			known = true
			break
		}
	}
	// A full group refuses every card, known ones too: letting the card
	// already on file through while its neighbours get 429 would answer
	// the very question the attacker asks.
	if len(group) >= l.SuffixCards {
		st.groups[gk] = group
		b := &Block{Rule: RuleSuffixBurst, RetryAfter: group[0].at + l.SuffixWindow - t, Count: len(group) + 1,
			Limit: l.SuffixCards, Window: l.SuffixWindow, BIN: c.BIN, Last4: c.Last4}
		if until, ok := st.reported[gk]; !ok || now.After(until) {
			b.First = true
			st.reported[gk] = now.Add(l.SuffixWindow)
		}
		return b
	}

	if c.Unverified {
		rate := float64(l.UnverifiedPerMinute) / 60
		st.tokens = min(float64(l.UnverifiedPerMinute), st.tokens+now.Sub(st.refilled).Seconds()*rate)
		st.refilled = now
		if st.tokens < 1 {
			b := &Block{Rule: RuleUnverified, RetryAfter: time.Duration((1 - st.tokens) / rate * float64(time.Second)),
				Limit: l.UnverifiedPerMinute, Window: time.Minute}
			if now.After(st.floodUntil) {
				b.First = true
			}
			st.floodUntil = now.Add(time.Minute)
			return b
		}
		st.tokens--
	}

	if known {
		// The same card again is one card: it keeps its first time.
		st.groups[gk] = group
		return nil
	}
	if len(st.groups) >= maxGroupsPerMerch && st.groups[gk] == nil {
		st.evictSingles(now, t, l)
	}
	st.groups[gk] = append(group, seen{fp: fp, at: t})
	return nil
}

// CheckCVC decides whether a stored card's CVC may be checked again.
func (g *Guard) CheckCVC(merchant string, l Limits, fingerprint, bin, last4 string) *Block {
	l = l.WithDefaults()
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(merchant, now, l)
	if now.Before(st.blockedUntil) {
		return &Block{Rule: RuleDeclineRatio, RetryAfter: st.blockedUntil.Sub(now), Limit: l.DeclineMin, Window: l.DeclineWindow}
	}
	k := hash(fingerprint)
	t := g.clock(now)
	fails := liveTimes(st.cvc[k], t, l.CVCWindow)
	st.cvc[k] = fails
	if len(fails) >= l.CVCFailures {
		b := &Block{Rule: RuleCVCGuessing, RetryAfter: fails[0] + l.CVCWindow - t, Count: len(fails), Limit: l.CVCFailures,
			Window: l.CVCWindow, BIN: bin, Last4: last4}
		// Reported when the limit is reached (Outcome), not on every refusal.
		return b
	}
	return nil
}

// Outcome records what the issuer said about an admitted card. It returns
// a Block to report when this outcome is the one that trips a rule (the
// request itself has already been answered by the issuer).
func (g *Guard) Outcome(merchant string, l Limits, fingerprint, bin, last4 string, declined, wrongCVC bool) *Block {
	l = l.WithDefaults()
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(merchant, now, l)
	var trip *Block
	if wrongCVC {
		k := hash(fingerprint)
		t := g.clock(now)
		fails := append(liveTimes(st.cvc[k], t, l.CVCWindow), t)
		st.cvc[k] = fails
		if len(fails) == l.CVCFailures {
			trip = &Block{Rule: RuleCVCGuessing, RetryAfter: l.CVCWindow, First: true, Count: len(fails), Limit: l.CVCFailures,
				Window: l.CVCWindow, BIN: bin, Last4: last4}
		}
	}
	width := l.DeclineWindow / declineBucketCount
	b := &st.buckets[int(now.UnixNano()/int64(width))%declineBucketCount]
	if now.Sub(b.start) >= width {
		*b = declineBucket{start: now.Truncate(width)}
	}
	b.attempts++
	if declined {
		b.declines++
	}
	attempts, declines := 0, 0
	for _, x := range st.buckets {
		if now.Sub(x.start) < l.DeclineWindow {
			attempts += x.attempts
			declines += x.declines
		}
	}
	if attempts >= l.DeclineMin && float64(declines) >= l.DeclineRatio*float64(attempts) && !now.Before(st.blockedUntil) {
		st.blockedUntil = now.Add(l.DeclineCooldown)
		// A fresh start after the cooldown: the declines that tripped it
		// must not trip it again at once.
		st.buckets = [declineBucketCount]declineBucket{}
		if trip == nil {
			trip = &Block{Rule: RuleDeclineRatio, RetryAfter: l.DeclineCooldown, First: true, Count: declines, Limit: l.DeclineMin,
				Window: l.DeclineWindow}
		}
	}
	return trip
}

func live(group []seen, now, window time.Duration) []seen {
	i := 0
	for i < len(group) && now-group[i].at >= window {
		i++
	}
	if i == 0 {
		return group
	}
	return append(group[:0:0], group[i:]...)
}

func liveTimes(ts []time.Duration, now, window time.Duration) []time.Duration {
	i := 0
	for i < len(ts) && now-ts[i] >= window {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0:0], ts[i:]...)
}

// prune drops expired entries, at most once per tenth of the window, so
// memory follows the traffic of the last window only.
func (st *merchantState) prune(now time.Time, t time.Duration, l Limits) {
	if now.Sub(st.lastPrune) < l.SuffixWindow/10 {
		return
	}
	st.lastPrune = now
	for k, g := range st.groups {
		if g = live(g, t, l.SuffixWindow); len(g) == 0 {
			delete(st.groups, k)
		} else {
			st.groups[k] = g
		}
	}
	for k, until := range st.reported {
		if now.After(until) {
			delete(st.reported, k)
		}
	}
	for k, ts := range st.cvc {
		if ts = liveTimes(ts, t, l.CVCWindow); len(ts) == 0 {
			delete(st.cvc, k)
		} else {
			st.cvc[k] = ts
		}
	}
}

// evictSingles makes room when a merchant's table is full: groups holding
// one card carry no signal yet, so they go first.
func (st *merchantState) evictSingles(now time.Time, t time.Duration, l Limits) {
	st.lastPrune = time.Time{}
	st.prune(now, t, l)
	for k, g := range st.groups {
		if len(st.groups) < maxGroupsPerMerch*9/10 {
			return
		}
		if len(g) == 1 {
			delete(st.groups, k)
		}
	}
}
