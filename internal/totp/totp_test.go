package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcKey is the SHA-1 seed of RFC 6238 appendix B (and RFC 4226 appendix D).
var rfcKey = []byte("12345678901234567890")

// TestRFC6238Vectors: the SHA-1 rows of RFC 6238 appendix B, 8 digits as
// printed there, and their last 6 digits as Code gives them.
func TestRFC6238Vectors(t *testing.T) {
	for _, v := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		if got := HOTP(rfcKey, uint64(Step(at)), 8); got != v.want {
			t.Errorf("T=%d: 8-digit code %s, want %s", v.unix, got, v.want)
		}
		if got := Code(rfcKey, at); got != v.want[2:] {
			t.Errorf("T=%d: code %s, want %s", v.unix, got, v.want[2:])
		}
		if step, ok := Verify(rfcKey, v.want[2:], at); !ok || step != Step(at) {
			t.Errorf("T=%d: Verify = %d, %v; want step %d", v.unix, step, ok, Step(at))
		}
	}
}

// TestRFC4226Vectors: HOTP's own vectors (appendix D), counters 0 to 9.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := HOTP(rfcKey, uint64(i), 6); got != w {
			t.Errorf("counter %d: %s, want %s", i, got, w)
		}
	}
}

// TestWindow: a code is taken one step either side of its own, not two;
// malformed codes never.
func TestWindow(t *testing.T) {
	at := time.Unix(1234567890, 0)
	code := Code(rfcKey, at)
	for d, want := range map[int64]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		step, ok := Verify(rfcKey, code, at.Add(time.Duration(d*Period)*time.Second))
		if ok != want || ok && step != Step(at) {
			t.Errorf("%d steps away: Verify = %d, %v; want %v", d, step, ok, want)
		}
	}
	spaced := code[:3] + " " + code[3:]
	if _, ok := Verify(rfcKey, spaced, at); !ok {
		t.Errorf("%q (as apps show it) refused", spaced)
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", "-12345", "１２３４５６", code + "0"} {
		if _, ok := Verify(rfcKey, bad, at); ok {
			t.Errorf("malformed code %q taken", bad)
		}
	}
}

// TestSecret: secrets are 20 random bytes as 32 base32 characters, differ
// each time, and read back however they were copied.
func TestSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if len(a) != 32 || a == b || strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Fatalf("secrets %q, %q", a, b)
	}
	key, err := DecodeSecret(a)
	if err != nil || len(key) != SecretSize {
		t.Fatalf("DecodeSecret(%q) = %d bytes, %v", a, len(key), err)
	}
	grouped := strings.ToLower(a[:4] + " " + a[4:16] + "-" + a[16:])
	if k2, err := DecodeSecret(grouped); err != nil || string(k2) != string(key) {
		t.Errorf("DecodeSecret(%q) = %x, %v; want %x", grouped, k2, err, key)
	}
	for _, bad := range []string{"", "ABCDEFGH", "not base32!", "AAAAAAAAAAAAAAA1"} {
		if _, err := DecodeSecret(bad); err == nil {
			t.Errorf("DecodeSecret(%q) took it", bad)
		}
	}
}

// TestURI: the otpauth URI carries the secret, issuer and parameters apps need.
func TestURI(t *testing.T) {
	s := NewSecret()
	raw := URI("Coffer", "ops+1@example.com", s)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Coffer:ops+1@example.com" || q.Get("secret") != s ||
		q.Get("issuer") != "Coffer" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("URI %s", raw)
	}
}

// FuzzVerify: for any key and time, the code of each step within the
// window verifies as a step whose code it is, and a code differing in one
// digit from every code of the window is refused.
func FuzzVerify(f *testing.F) {
	f.Add(rfcKey, int64(59))
	f.Add([]byte{}, int64(0))
	f.Add([]byte("k"), int64(1<<40))
	f.Fuzz(func(t *testing.T, key []byte, unix int64) {
		if unix < Period || unix > 1<<40 {
			return
		}
		at := time.Unix(unix, 0)
		now := Step(at)
		codes := map[string]bool{}
		for s := now - Window; s <= now+Window; s++ {
			c := CodeAt(key, s)
			codes[c] = true
			step, ok := Verify(key, c, at)
			if !ok || step < now-Window || step > now+Window || CodeAt(key, step) != c {
				t.Fatalf("code %s of step %d at step %d: Verify = %d, %v", c, s, now, step, ok)
			}
		}
		c := []byte(Code(key, at))
		for i := range c {
			c[i] = '0' + (c[i]-'0'+1)%10
		}
		if _, ok := Verify(key, string(c), at); ok != codes[string(c)] {
			t.Fatalf("altered code %s: Verify ok=%v, but it is a code of the window: %v", c, ok, codes[string(c)])
		}
	})
}
