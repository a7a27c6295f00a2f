// Package vault is the only code that sees a card number in clear. It does
// envelope encryption: data keys (DEKs) encrypt card data with AES-256-GCM,
// and the KEK ring (package keys) wraps the DEKs, which the store keeps. Every
// ciphertext names its DEK and every DEK names its KEK version, so rotation
// rewraps DEKs without touching card ciphertexts.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/keys"
)

// Purposes of data keys. A fingerprint key is a stable secret from which the
// merchant's fingerprint HMAC key is derived; it must never change for a
// merchant, or "same card" detection would break after a rotation.
const (
	PurposeCard        = "card"
	PurposeFingerprint = "fingerprint"
)

// ErrDecrypt is returned for any ciphertext that fails authentication: a
// wrong key, a tampered byte, or a ciphertext moved to another record. The
// cases are deliberately indistinguishable.
var ErrDecrypt = errors.New("vault: ciphertext failed authentication")

// DataKey is a DEK as stored: wrapped under one KEK version.
type DataKey struct {
	ID         string
	MerchantID string
	Purpose    string
	KEKVersion uint32
	Wrapped    []byte
	Created    time.Time
}

// Vault seals and opens card data. Unwrapped DEKs are cached in memory because
// unwrapping on every request would double the AES work for nothing.
type Vault struct {
	keys *keys.Provider

	mu    sync.RWMutex
	deks  map[string][]byte  // DEK id → plain key
	fpKey map[macLabel]*macs // fingerprint key id + label → derived HMAC key
}

type macLabel struct{ keyID, label string }

// macs hands out HMAC-SHA256 states under one derived key. Setting one up
// (two SHA-256 blocks of padded key, three allocations) was most of a
// fingerprint's cost, paid on every tokenization; a state is Reset before it
// goes back, so none holds anything derived from a card between uses.
type macs struct {
	key  []byte
	pool sync.Pool // of hash.Hash
}

func (m *macs) sum(data []byte) []byte {
	h, _ := m.pool.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, m.key)
	}
	h.Write(data)
	out := h.Sum(nil)
	h.Reset()
	m.pool.Put(h)
	return out
}

// New returns a vault using the KEKs of p.
func New(p *keys.Provider) *Vault {
	return &Vault{keys: p, deks: map[string][]byte{}, fpKey: map[macLabel]*macs{}}
}

// dekAAD binds a wrapped DEK to its id, merchant and purpose, so a wrapped key
// copied into another merchant's row does not unwrap.
func dekAAD(dk DataKey) []byte {
	return []byte("coffer/dek/v1|" + dk.ID + "|" + dk.MerchantID + "|" + dk.Purpose)
}

// NewDataKey mints a DEK and wraps it under the current KEK.
func (v *Vault) NewDataKey(merchantID, purpose string) (DataKey, error) {
	plain := make([]byte, 32)
	rand.Read(plain)
	dk := DataKey{ID: id.New("dek"), MerchantID: merchantID, Purpose: purpose, Created: time.Now().UTC()}
	ver, kek := v.keys.Ring().Current()
	w, err := seal(kek, plain, dekAAD(dk))
	if err != nil {
		return DataKey{}, err
	}
	dk.KEKVersion, dk.Wrapped = ver, w
	v.mu.Lock()
	v.deks[dk.ID] = plain
	v.mu.Unlock()
	return dk, nil
}

// unwrap returns the plain DEK. An unknown KEK version makes the vault reload
// its key source once: another process (`coffer keys rotate`) may have added it.
func (v *Vault) unwrap(dk DataKey) ([]byte, error) {
	v.mu.RLock()
	plain, ok := v.deks[dk.ID]
	v.mu.RUnlock()
	if ok {
		return plain, nil
	}
	kek, ok := v.keys.Ring().Key(dk.KEKVersion)
	if !ok {
		if err := v.keys.Reload(); err != nil {
			return nil, fmt.Errorf("vault: KEK version %d unknown and reload failed: %w", dk.KEKVersion, err)
		}
		if kek, ok = v.keys.Ring().Key(dk.KEKVersion); !ok {
			return nil, fmt.Errorf("vault: KEK version %d of data key %s is not in the key ring", dk.KEKVersion, dk.ID)
		}
	}
	plain, err := open(kek, dk.Wrapped, dekAAD(dk))
	if err != nil {
		return nil, fmt.Errorf("vault: unwrapping data key %s: %w", dk.ID, err)
	}
	v.mu.Lock()
	v.deks[dk.ID] = plain
	v.mu.Unlock()
	return plain, nil
}

// Rewrap re-encrypts a DEK under the current KEK. The plain DEK is unchanged,
// so no card ciphertext needs rewriting.
func (v *Vault) Rewrap(dk DataKey) (DataKey, error) {
	plain, err := v.unwrap(dk)
	if err != nil {
		return DataKey{}, err
	}
	ver, kek := v.keys.Ring().Current()
	if ver == dk.KEKVersion {
		return dk, nil
	}
	w, err := seal(kek, plain, dekAAD(dk))
	if err != nil {
		return DataKey{}, err
	}
	dk.KEKVersion, dk.Wrapped = ver, w
	return dk, nil
}

// CurrentKEKVersion is the version new wraps use.
func (v *Vault) CurrentKEKVersion() uint32 {
	ver, _ := v.keys.Ring().Current()
	return ver
}

// ReloadKeys re-reads the KEK source.
func (v *Vault) ReloadKeys() error { return v.keys.Reload() }

// AAD names the row a ciphertext belongs to. Kind distinguishes fields of
// different tables that share a record id space.
func AAD(merchantID, kind, recordID string) []byte {
	return []byte("coffer/v1|" + merchantID + "|" + kind + "|" + recordID)
}

// Ciphertext layout: version byte, DEK id length, DEK id, 12-byte nonce,
// GCM output. Carrying the DEK id lets any reader find the key without a
// side channel, and lets rotation tooling tell which key sealed what.
const formatV1 = 0x01

// Seal encrypts plaintext under dk, bound to aad.
func (v *Vault) Seal(dk DataKey, aad, plaintext []byte) ([]byte, error) {
	plain, err := v.unwrap(dk)
	if err != nil {
		return nil, err
	}
	if len(dk.ID) > 255 {
		return nil, errors.New("vault: data key id too long")
	}
	body, err := seal(plain, plaintext, aad)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 2+len(dk.ID)+len(body))
	out = append(out, formatV1, byte(len(dk.ID)))
	out = append(out, dk.ID...)
	return append(out, body...), nil
}

// KeyID returns the id of the DEK that sealed ct.
func KeyID(ct []byte) (string, error) {
	if len(ct) < 2 || ct[0] != formatV1 || len(ct) < 2+int(ct[1]) {
		return "", errors.New("vault: not a Coffer ciphertext")
	}
	return string(ct[2 : 2+int(ct[1])]), nil
}

// Open decrypts ct, which must have been sealed by dk for the same aad.
func (v *Vault) Open(dk DataKey, aad, ct []byte) ([]byte, error) {
	kid, err := KeyID(ct)
	if err != nil {
		return nil, err
	}
	if kid != dk.ID {
		return nil, fmt.Errorf("vault: ciphertext was sealed by data key %s, not %s", kid, dk.ID)
	}
	plain, err := v.unwrap(dk)
	if err != nil {
		return nil, err
	}
	return open(plain, ct[2+len(kid):], aad)
}

// Fingerprint is HMAC-SHA256 of the PAN under a per-merchant key derived with
// HKDF from the merchant's fingerprint secret. The same card gives the same
// fingerprint for one merchant and unrelated ones across merchants.
func (v *Vault) Fingerprint(fk DataKey, pan string) (string, error) {
	sum, err := v.MAC(fk, "fingerprint", []byte(pan))
	if err != nil {
		return "", err
	}
	// 128 bits are plenty to tell cards apart and keep the public value short.
	return "fp_" + base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// MAC is HMAC-SHA256 of data under a key derived (HKDF) from the merchant's
// fingerprint secret and label. Anything derived from card data that must be
// stored or compared (fingerprints, idempotency request digests) goes through
// a keyed MAC: a plain hash of a PAN can be brute-forced from its small space.
func (v *Vault) MAC(fk DataKey, label string, data []byte) ([]byte, error) {
	if fk.Purpose != PurposeFingerprint {
		return nil, errors.New("vault: not a fingerprint key")
	}
	ck := macLabel{fk.ID, label}
	v.mu.RLock()
	m, ok := v.fpKey[ck]
	v.mu.RUnlock()
	if !ok {
		secret, err := v.unwrap(fk)
		if err != nil {
			return nil, err
		}
		k, err := hkdf.Key(sha256.New, secret, nil, "coffer "+label+" v1|"+fk.MerchantID, 32)
		if err != nil {
			return nil, err
		}
		v.mu.Lock()
		if m, ok = v.fpKey[ck]; !ok {
			m = &macs{key: k}
			v.fpKey[ck] = m
		}
		v.mu.Unlock()
	}
	return m.sum(data), nil
}

// NewToken mints a card token: a 48-bit millisecond time, then 160 random
// bits. The random part alone is the token's strength (far past the 128 bits
// required); the time prefix makes tokens sort by creation, so the token
// index is appended to instead of touched at a random page per insert —
// the single SQLite writer's commits shrink accordingly.
func NewToken() string { return id.NewOrderedBits("tok", 160) }

func seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

func open(key, ct, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(ct) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := gcm.Open(nil, ct[:gcm.NonceSize()], ct[gcm.NonceSize():], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// checkLabel is what a key-check value MACs: a constant, so the value says
// only "this is (or is not) the key", never anything about the key.
const checkLabel = "coffer/kek-check/v1"

// KEKCheckValue is a key-check value of one KEK: HMAC-SHA256 of a constant
// under it. A store keeps it per KEK version, so a wrong key can be told
// before anything is written or served.
func KEKCheckValue(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte(checkLabel))
	return m.Sum(nil)
}

// KeyMismatchError says why a key ring cannot be this store's. Its text
// names versions and data key ids, never key material.
type KeyMismatchError struct{ Reason string }

func (e *KeyMismatchError) Error() string { return e.Reason }

// VerifyRing checks that ring r is the key a store's data is sealed under:
// every version r holds whose check value the store recorded must match it,
// and every data key of sample (one per KEK version in use) must unwrap
// under r. A version the store recorded but r no longer holds is fine as
// long as no data key still uses it (it was retired after a rewrap).
func VerifyRing(r *keys.Ring, checks map[uint32][]byte, sample []DataKey) error {
	for _, ver := range r.Versions() {
		want, ok := checks[ver]
		if !ok {
			continue
		}
		k, _ := r.Key(ver)
		if !hmac.Equal(KEKCheckValue(k), want) {
			return &KeyMismatchError{fmt.Sprintf("KEK version %d does not match the key-check value the store recorded for it", ver)}
		}
	}
	for _, dk := range sample {
		k, ok := r.Key(dk.KEKVersion)
		if !ok {
			return &KeyMismatchError{fmt.Sprintf("data keys are wrapped under KEK version %d, which the key ring does not hold (it holds %v)",
				dk.KEKVersion, r.Versions())}
		}
		if _, err := open(k, dk.Wrapped, dekAAD(dk)); err != nil {
			return &KeyMismatchError{fmt.Sprintf("KEK version %d does not unwrap data key %s", dk.KEKVersion, dk.ID)}
		}
	}
	return nil
}
