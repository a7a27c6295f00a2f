package id

import (
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
