package id

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		v := New("cus")
		if !strings.HasPrefix(v, "cus_") || len(v) != 4+26 || seen[v] || !HasPrefix(v, "cus") {
			t.Fatalf("bad or repeated id %q", v)
		}
		seen[v] = true
	}
	if got := NewBits("tok", 160); len(got) != 4+32 {
		t.Fatalf("160 bits: %q", got)
	}
}

// Ordered ids minted in later milliseconds sort later; within a millisecond
// they stay unique.
func TestNewOrdered(t *testing.T) {
	a := NewOrdered("pay")
	time.Sleep(2 * time.Millisecond)
	b := NewOrdered("pay")
	if !(a < b) || !strings.HasPrefix(a, "pay_") || len(a) != 4+36 {
		t.Fatalf("not ordered: %q %q", a, b)
	}
	seen := map[string]bool{}
	for range 1000 {
		v := NewOrdered("evt")
		if seen[v] {
			t.Fatalf("repeated %q", v)
		}
		seen[v] = true
	}
}

// Ids are spelled as they were when the standard alphabets' output was
// lowered: stored ids and the ordering of ordered ones stay as they were.
func TestSpellingUnchanged(t *testing.T) {
	std := base32.StdEncoding.WithPadding(base32.NoPadding)
	hex := base32.HexEncoding.WithPadding(base32.NoPadding)
	for n := range 48 {
		raw := make([]byte, n)
		for range 20 {
			rand.Read(raw)
			if got, want := mint("tok", enc, raw), "tok_"+strings.ToLower(std.EncodeToString(raw)); got != want {
				t.Fatalf("%x: %s, want %s", raw, got, want)
			}
			if got, want := mint("evt", ordered, raw), "evt_"+strings.ToLower(hex.EncodeToString(raw)); got != want {
				t.Fatalf("%x: %s, want %s", raw, got, want)
			}
		}
	}
	if got := NewBits("big", 512); len(got) != 4+103 {
		t.Fatalf("512 bits: %q", got)
	}
	if got := NewOrderedBits("big", 512); len(got) != 4+112 {
		t.Fatalf("ordered, 512 bits: %q", got)
	}
}

func BenchmarkNewOrdered(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewOrdered("evt")
	}
}
