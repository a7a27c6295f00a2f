package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/keys"
)

func newVault(t *testing.T) (*Vault, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := keys.CreateFile(path); err != nil {
		t.Fatal(err)
	}
	p, err := keys.FileProvider(path)
	if err != nil {
		t.Fatal(err)
	}
	return New(p), path
}

func TestSealOpenBoundToRecord(t *testing.T) {
	v, _ := newVault(t)
	dk, err := v.NewDataKey("mer_a", PurposeCard)
	if err != nil {
		t.Fatal(err)
	}
	pan := []byte("4242424242424242")
	ct, err := v.Seal(dk, AAD("mer_a", "token", "tok_1"), pan)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, pan) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if kid, _ := KeyID(ct); kid != dk.ID {
		t.Fatal("ciphertext must name its data key")
	}
	got, err := v.Open(dk, AAD("mer_a", "token", "tok_1"), ct)
	if err != nil || !bytes.Equal(got, pan) {
		t.Fatalf("open: %v", err)
	}
	// The same ciphertext moved to another record, merchant or field fails.
	for _, aad := range [][]byte{AAD("mer_a", "token", "tok_2"), AAD("mer_b", "token", "tok_1"), AAD("mer_a", "other", "tok_1")} {
		if _, err := v.Open(dk, aad, ct); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("moved ciphertext opened under %q: %v", aad, err)
		}
	}
	// Any flipped byte fails.
	for i := 2 + len(dk.ID); i < len(ct); i += 7 {
		bad := bytes.Clone(ct)
		bad[i] ^= 1
		if _, err := v.Open(dk, AAD("mer_a", "token", "tok_1"), bad); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
}

func TestWrappedKeyBoundToMerchant(t *testing.T) {
	v, _ := newVault(t)
	dk, _ := v.NewDataKey("mer_a", PurposeCard)
	fresh := New(v.keys) // no cache: must unwrap from the stored form
	stolen := dk
	stolen.MerchantID = "mer_b"
	if _, err := fresh.Seal(stolen, AAD("mer_b", "token", "x"), []byte("x")); err == nil {
		t.Fatal("a wrapped key copied to another merchant must not unwrap")
	}
	if _, err := fresh.Seal(dk, AAD("mer_a", "token", "x"), []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestRewrapKeepsDataReadable(t *testing.T) {
	v, path := newVault(t)
	dk, _ := v.NewDataKey("mer_a", PurposeCard)
	ct, _ := v.Seal(dk, AAD("mer_a", "token", "t"), []byte("secret"))
	if _, err := keys.RotateFile(path); err != nil {
		t.Fatal(err)
	}
	if err := v.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	nk, err := v.Rewrap(dk)
	if err != nil || nk.KEKVersion != 2 || bytes.Equal(nk.Wrapped, dk.Wrapped) {
		t.Fatalf("rewrap: %+v %v", nk, err)
	}
	// A process that never saw the DEK opens old data via the rewrapped key...
	p2, _ := keys.FileProvider(path)
	v2 := New(p2)
	if got, err := v2.Open(nk, AAD("mer_a", "token", "t"), ct); err != nil || string(got) != "secret" {
		t.Fatalf("after rewrap: %v", err)
	}
	// ...and via the old wrap, since version 1 is still in the ring.
	v3 := New(p2)
	if got, err := v3.Open(dk, AAD("mer_a", "token", "t"), ct); err != nil || string(got) != "secret" {
		t.Fatalf("old version must stay readable: %v", err)
	}
}

func TestUnknownVersionReloads(t *testing.T) {
	v, path := newVault(t)
	// Another process rotates and rewraps; this vault has not reloaded.
	p2, _ := keys.FileProvider(path)
	other := New(p2)
	dk, _ := other.NewDataKey("mer_a", PurposeCard)
	ct, _ := other.Seal(dk, AAD("mer_a", "k", "r"), []byte("x"))
	keys.RotateFile(path)
	other.ReloadKeys()
	nk, _ := other.Rewrap(dk)
	if got, err := v.Open(nk, AAD("mer_a", "k", "r"), ct); err != nil || string(got) != "x" {
		t.Fatalf("a vault must reload keys when it meets an unknown KEK version: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	v, _ := newVault(t)
	fa, _ := v.NewDataKey("mer_a", PurposeFingerprint)
	fb, _ := v.NewDataKey("mer_b", PurposeFingerprint)
	a1, _ := v.Fingerprint(fa, "4242424242424242")
	a2, _ := v.Fingerprint(fa, "4242424242424242")
	a3, _ := v.Fingerprint(fa, "5555555555554444")
	b1, _ := v.Fingerprint(fb, "4242424242424242")
	if a1 != a2 || a1 == a3 || a1 == b1 || !strings.HasPrefix(a1, "fp_") || strings.Contains(a1, "4242") {
		t.Fatalf("fingerprints: %s %s %s %s", a1, a2, a3, b1)
	}
	card, _ := v.NewDataKey("mer_a", PurposeCard)
	if _, err := v.Fingerprint(card, "4242424242424242"); err == nil {
		t.Fatal("a card key must not be used for fingerprints")
	}
}

// Tokens: 48 bits of time, then 160 random bits (26 bytes, 42 base32 characters).
func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if !strings.HasPrefix(tok, "tok_") || len(tok) != 4+42 || seen[tok] {
			t.Fatalf("bad or repeated token %q", tok)
		}
		seen[tok] = true
	}
	a := NewToken()
	time.Sleep(2 * time.Millisecond)
	if b := NewToken(); !(a < b) {
		t.Fatalf("tokens must sort by creation: %q %q", a, b)
	}
}

// MAC reuses HMAC states: every answer, in any order and from concurrent
// callers, must equal a fresh HMAC-SHA256 under the derived key.
func TestMACStatesReused(t *testing.T) {
	v, _ := newVault(t)
	fk, _ := v.NewDataKey("mer_a", PurposeFingerprint)
	secret, err := v.unwrap(fk)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hkdf.Key(sha256.New, secret, nil, "coffer fingerprint v1|mer_a", 32)
	want := func(data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				data := fmt.Sprintf("4%015d", g*1000+i%7)
				got, err := v.MAC(fk, "fingerprint", []byte(data))
				if err != nil || !bytes.Equal(got, want(data)) {
					t.Errorf("MAC(%s) = %x, %v; want %x", data, got, err, want(data))
					return
				}
			}
		})
	}
	wg.Wait()
}
