// Package ratelimit is a token bucket per key, in process memory: each key
// may make Rate requests a second on average and Burst at once.
//
// It is built for the request path: the buckets are spread over shards,
// each with its own small lock, so concurrent requests of different keys
// rarely meet; and memory stays bounded, because a bucket that has filled
// up again is the same as no bucket and is dropped.
package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

const shards = 64

// maxPerShard bounds one shard's buckets: beyond it, full buckets are
// dropped at once and, if that is not enough, the shard starts afresh
// (its keys get a full burst, which errs on the side of serving).
const maxPerShard = 4096

// Limiter is a set of token buckets, one per key. The zero value is not
// usable; a nil *Limiter allows everything.
type Limiter struct {
	rate     float64 // tokens per second
	burst    float64
	perShard int // maxPerShard; tests lower it
	seed     maphash.Seed
	sh       [shards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// New returns a limiter of rate requests a second per key with bursts of
// burst; nil when rate is not positive (no limit).
func New(rate, burst float64) *Limiter {
	if rate <= 0 {
		return nil
	}
	burst = max(burst, 1)
	l := &Limiter{rate: rate, burst: burst, perShard: maxPerShard, seed: maphash.MakeSeed()}
	for i := range l.sh {
		l.sh[i].buckets = map[string]*bucket{}
	}
	return l
}

// Allow takes a token from key's bucket at now. When there is none it
// returns false and how long until there is one.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	s := &l.sh[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		l.sweep(s, now)
		b = &bucket{tokens: l.burst, at: now}
		s.buckets[key] = b
	}
	if d := now.Sub(b.at).Seconds(); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d*l.rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// fillTime is how long an empty bucket takes to fill: a bucket untouched
// for that long is full, and can be forgotten.
func (l *Limiter) fillTime() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// sweep drops the shard's full buckets, at most once per fill time unless
// the shard is at its bound; called with the shard locked, when a new key
// arrives (so an idle limiter does no work).
func (l *Limiter) sweep(s *shard, now time.Time) {
	full := len(s.buckets) >= l.perShard
	if !full && now.Sub(s.swept) < l.fillTime() {
		return
	}
	s.swept = now
	idle := l.fillTime()
	for k, b := range s.buckets {
		if now.Sub(b.at) >= idle {
			delete(s.buckets, k)
		}
	}
	if len(s.buckets) >= l.perShard {
		clear(s.buckets)
	}
}

// Len is how many buckets are held (for tests of the memory bound).
func (l *Limiter) Len() int {
	n := 0
	for i := range l.sh {
		l.sh[i].mu.Lock()
		n += len(l.sh[i].buckets)
		l.sh[i].mu.Unlock()
	}
	return n
}
