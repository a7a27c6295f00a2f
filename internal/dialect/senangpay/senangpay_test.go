package senangpay

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
)

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

// TestLegacyAllowed: the empty password is taken only with the setting on
// and from a peer inside one of its blocks, whatever the address's spelling.
func TestLegacyAllowed(t *testing.T) {
	on := store.Settings{SenangPayLegacyAuth: true, SenangPayLegacyAuthCIDRs: []string{"203.0.113.0/24", "2001:db8::/48"}}
	for _, c := range []struct {
		st     store.Settings
		remote string
		want   bool
	}{
		{on, "203.0.113.9:4242", true},
		{on, "[::ffff:203.0.113.9]:4242", true}, // an IPv4 peer on a dual-stack socket
		{on, "[2001:db8::7]:443", true},
		{on, "[2001:db8::7%eth0]:443", true},
		{on, "203.0.114.1:4242", false},
		{on, "127.0.0.1:4242", false},
		{on, "[2001:db9::7]:443", false},
		{on, "203.0.113.9", false}, // not host:port: refused rather than guessed
		{on, "", false},
		{store.Settings{SenangPayLegacyAuthCIDRs: on.SenangPayLegacyAuthCIDRs}, "203.0.113.9:4242", false}, // setting off
		{store.Settings{SenangPayLegacyAuth: true}, "203.0.113.9:4242", false},                             // no blocks
	} {
		if got := legacyAllowed(c.st, c.remote); got != c.want {
			t.Errorf("legacyAllowed(%v, %q) = %v, want %v", c.st.SenangPayLegacyAuth, c.remote, got, c.want)
		}
	}
}
