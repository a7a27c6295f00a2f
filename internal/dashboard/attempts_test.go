package dashboard

import (
	"testing"
	"time"
)

func TestAttempts(t *testing.T) {
	a := newAttempts(3, time.Minute)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if b, _ := a.Blocked(t0, "email:x", "ip:1"); b {
			t.Fatalf("blocked after %d failures", i)
		}
		a.Fail(t0.Add(time.Duration(i)*time.Second), "email:x", "ip:1")
	}
	if b, until := a.Blocked(t0.Add(5*time.Second), "email:x"); !b || !until.Equal(t0.Add(time.Minute)) {
		t.Errorf("Blocked = %v until %v, want true until %v", b, until, t0.Add(time.Minute))
	}
	if b, _ := a.Blocked(t0.Add(5*time.Second), "email:y", "ip:1"); !b {
		t.Error("the address is not blocked for another e-mail")
	}
	if b, _ := a.Blocked(t0.Add(5*time.Second), "email:y", "ip:2"); b {
		t.Error("another e-mail from another address is blocked")
	}
	if b, _ := a.Blocked(t0.Add(time.Minute), "email:x"); b {
		t.Error("still blocked once the oldest failure left the window")
	}
}
