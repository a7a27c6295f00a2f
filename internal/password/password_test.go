package password

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h := Hash("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q: not argon2id PHC with the parameters", h)
	}
	if h2 := Hash("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: no per-hash salt")
	}
	if ok, err := Verify(h, "correct horse battery"); !ok || err != nil {
		t.Errorf("Verify(right) = %v, %v", ok, err)
	}
	if ok, err := Verify(h, "correct horse batterY"); ok || err != nil {
		t.Errorf("Verify(wrong) = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA",
		strings.Replace(h, "$v=19$", "$v=16$", 1)} {
		if _, err := Verify(bad, "x"); err != ErrMalformed {
			t.Errorf("Verify(%q) err = %v, want ErrMalformed", bad, err)
		}
	}
	if Check("short") == "" || Check(strings.Repeat("x", MaxLength+1)) == "" || Check("long enough!") != "" {
		t.Error("Check bounds")
	}
}
