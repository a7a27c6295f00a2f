package ratelimit

import (
	"hash/maphash"
	"strconv"
	"testing"
	"time"
)

// TestBucket: a key gets its burst at once, then rate a second; Retry-After
// says when the next token comes; keys do not share buckets.
func TestBucket(t *testing.T) {
	l := New(2, 4)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 4 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a", t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past the burst: ok=%v wait=%v, want refused for 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Fatal("another key was refused")
	}
	if ok, _ := l.Allow("a", t0.Add(499*time.Millisecond)); ok {
		t.Fatal("a token came early")
	}
	if ok, _ := l.Allow("a", t0.Add(1000*time.Millisecond)); !ok {
		t.Fatal("no token after a refill")
	}
	// A long rest fills the bucket to the burst, no more.
	t1 := t0.Add(time.Hour)
	n := 0
	for range 10 {
		if ok, _ := l.Allow("a", t1); ok {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("after a rest %d requests passed, want the burst of 4", n)
	}
}

// TestNilAllows: no limit configured lets everything through.
func TestNilAllows(t *testing.T) {
	l := New(0, 0)
	if ok, _ := l.Allow("x", time.Now()); !ok || l != nil {
		t.Fatal("a zero rate limits")
	}
}

// TestIdleBucketsDropped: buckets of keys gone quiet are forgotten, so
// memory follows the keys active lately, not every key ever seen.
func TestIdleBucketsDropped(t *testing.T) {
	l := New(10, 20)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 1000 {
		l.Allow("key"+strconv.Itoa(i), t0)
	}
	if l.Len() != 1000 {
		t.Fatalf("%d buckets, want 1000", l.Len())
	}
	later := t0.Add(3 * time.Second) // past the 2 s fill time
	// A shard sweeps when a new key arrives in it: send new keys until every
	// shard has had one (with 512 random keys, one shard in ~50 runs had none,
	// kept its old buckets, and failed this test).
	var hit [shards]bool
	fresh := 0
	for i := 0; fresh < shards && i < 100_000; i++ {
		k := "new" + strconv.Itoa(i)
		l.Allow(k, later)
		if sh := maphash.String(l.seed, k) % shards; !hit[sh] {
			hit[sh], fresh = true, fresh+1
		}
		if fresh == shards {
			if n := l.Len(); n != i+1 {
				t.Fatalf("%d buckets after the old keys went idle, want only the %d new ones", n, i+1)
			}
		}
	}
	if fresh < shards {
		t.Fatalf("new keys reached %d of %d shards", fresh, shards)
	}
	// A flood of new keys at one instant stays bounded.
	l.perShard = 16
	for i := range shards * l.perShard * 4 {
		l.Allow("flood"+strconv.Itoa(i), later)
	}
	if n := l.Len(); n > shards*l.perShard {
		t.Fatalf("%d buckets, above the bound %d", n, shards*l.perShard)
	}
}
