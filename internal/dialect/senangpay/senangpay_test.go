package senangpay

import "testing"

// TestSign checks the hash against PROVIDERS.md's recomputed example.
func TestSign(t *testing.T) {
	const want = "151bf4a479ed166d6b211528d0a0b452625c8fe83656489c82286fcb975889b5"
	if got := Sign("53-784", "543160464805574", "56"); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !hashOK("53-784", want, "543160464805574", "56") || hashOK("53-784", want, "543160464805574", "57") {
		t.Fatal("hashOK")
	}
}
