package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/keys"
)

func ringOf(t *testing.T, current uint32, ks map[uint32][]byte) *keys.Ring {
	t.Helper()
	r, err := keys.NewRing(ks, current)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randKey() []byte {
	k := make([]byte, keys.KeySize)
	rand.Read(k)
	return k
}

// TestVerifyRing: a ring fits a store when its versions match the recorded
// check values and unwrap one data key of every version in use; a wrong key,
// a missing version, or a ring whose check values match but whose key does
// not unwrap the data is refused with a reason that names no key material.
func TestVerifyRing(t *testing.T) {
	k1, k2, wrong := randKey(), randKey(), randKey()
	good := ringOf(t, 1, map[uint32][]byte{1: k1})
	p, err := keys.NewProvider("test", func() (*keys.Ring, error) { return good, nil })
	if err != nil {
		t.Fatal(err)
	}
	dk1, err := New(p).NewDataKey("mer_a", PurposeCard)
	if err != nil {
		t.Fatal(err)
	}
	rotated := ringOf(t, 2, map[uint32][]byte{1: k1, 2: k2})
	rp, _ := keys.NewProvider("test", func() (*keys.Ring, error) { return rotated, nil })
	dk2, err := New(rp).NewDataKey("mer_a", PurposeFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[uint32][]byte{1: KEKCheckValue(k1), 2: KEKCheckValue(k2)}
	if bytes.Equal(KEKCheckValue(k1), KEKCheckValue(k2)) || bytes.Contains(KEKCheckValue(k1), k1) {
		t.Fatal("check values must differ per key and not contain it")
	}

	for _, c := range []struct {
		name   string
		ring   *keys.Ring
		checks map[uint32][]byte
		sample []DataKey
		says   string // "" = fits
	}{
		{"the store's key, checks and data", good, map[uint32][]byte{1: checks[1]}, []DataKey{dk1}, ""},
		{"a new store", ringOf(t, 1, map[uint32][]byte{1: wrong}), nil, nil, ""},
		{"both versions", rotated, checks, []DataKey{dk1, dk2}, ""},
		{"version 1 retired after a rewrap", ringOf(t, 2, map[uint32][]byte{2: k2}), checks, []DataKey{dk2}, ""},
		{"a wrong key, with a check value", ringOf(t, 1, map[uint32][]byte{1: wrong}), checks, []DataKey{dk1}, "does not match the key-check value"},
		{"a wrong key, checks only", ringOf(t, 1, map[uint32][]byte{1: wrong}), checks, nil, "does not match the key-check value"},
		{"a wrong key, data only (a store from before check values)", ringOf(t, 1, map[uint32][]byte{1: wrong}), nil, []DataKey{dk1}, "does not unwrap data key"},
		{"a wrong version 2", ringOf(t, 2, map[uint32][]byte{1: k1, 2: wrong}), checks, []DataKey{dk1, dk2}, "KEK version 2 does not match"},
		{"version 1 retired too early", ringOf(t, 2, map[uint32][]byte{2: k2}), checks, []DataKey{dk1, dk2}, "wrapped under KEK version 1, which the key ring does not hold"},
	} {
		err := VerifyRing(c.ring, c.checks, c.sample)
		var km *KeyMismatchError
		switch {
		case c.says == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.says != "" && (!errors.As(err, &km) || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%s: %v, want a KeyMismatchError saying %q", c.name, err, c.says)
		}
	}
}

// TestReloadChecksRing: a reloaded ring that fails the provider's check is
// not used; the ring in use stays.
func TestReloadChecksRing(t *testing.T) {
	k1 := randKey()
	next := ringOf(t, 1, map[uint32][]byte{1: k1})
	p, err := keys.NewProvider("test", func() (*keys.Ring, error) { return next, nil })
	if err != nil {
		t.Fatal(err)
	}
	checks := map[uint32][]byte{1: KEKCheckValue(k1)}
	p.SetCheck(func(r *keys.Ring) error { return VerifyRing(r, checks, nil) })
	next = ringOf(t, 1, map[uint32][]byte{1: randKey()})
	if err := p.Reload(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("reload of a wrong key: %v", err)
	}
	if k, _ := p.Ring().Key(1); !bytes.Equal(k, k1) {
		t.Fatal("a refused reload replaced the ring")
	}
	k2 := randKey()
	next = ringOf(t, 2, map[uint32][]byte{1: k1, 2: k2})
	if err := p.Reload(); err != nil {
		t.Fatalf("reload adding a version: %v", err)
	}
	if v, _ := p.Ring().Current(); v != 2 {
		t.Fatalf("current version %d after reload", v)
	}
}
