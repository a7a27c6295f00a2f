package payment

import (
	"context"
	"crypto/rsa"
	"fmt"
	"sync"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Sealer is the one sealing component every domain service shares: it owns
// the merchants' data keys (and their cache), seals and opens records,
// computes fingerprints and keyed digests, and keeps the session keys
// (current key per merchant, opened private keys) that browsers encrypt
// cards to. Nothing else in the package touches a data key.
type Sealer struct {
	*deps

	mu   sync.RWMutex
	deks map[string]vault.DataKey // data key id → key, and "active/<merchant>/<purpose>" → key

	skMu      sync.Mutex
	skCurrent map[string]*sessionKeyEntry // merchant → key for new sessions
	pkMu      sync.Mutex
	skPrivate map[string]*rsa.PrivateKey // merchant/kid → opened private key
}

// activeKey returns the merchant's current data key for a purpose, cached:
// the set only grows and a merchant's keys are created with the merchant.
func (s *Sealer) activeKey(ctx context.Context, merchantID, purpose string) (vault.DataKey, error) {
	ck := "active/" + merchantID + "/" + purpose
	s.mu.RLock()
	dk, ok := s.deks[ck]
	s.mu.RUnlock()
	if ok {
		return dk, nil
	}
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		dk, err = tx.ActiveDataKey(merchantID, purpose)
		return err
	})
	if err != nil {
		return vault.DataKey{}, fmt.Errorf("payment: %s key of %s: %w", purpose, merchantID, err)
	}
	s.mu.Lock()
	s.deks[ck], s.deks[dk.ID] = dk, dk
	s.mu.Unlock()
	return dk, nil
}

// dataKey finds the key that sealed a ciphertext.
func (s *Sealer) dataKey(ctx context.Context, ct []byte) (vault.DataKey, error) {
	kid, err := vault.KeyID(ct)
	if err != nil {
		return vault.DataKey{}, err
	}
	s.mu.RLock()
	dk, ok := s.deks[kid]
	s.mu.RUnlock()
	if ok {
		return dk, nil
	}
	err = s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		dk, err = tx.GetDataKey(kid)
		return err
	})
	if err != nil {
		return vault.DataKey{}, err
	}
	s.mu.Lock()
	s.deks[kid] = dk
	s.mu.Unlock()
	return dk, nil
}

// seal encrypts data for one record of a merchant.
func (s *Sealer) seal(ctx context.Context, merchantID, kind, recordID string, plain []byte) ([]byte, error) {
	dk, err := s.activeKey(ctx, merchantID, vault.PurposeCard)
	if err != nil {
		return nil, err
	}
	return s.vault.Seal(dk, vault.AAD(merchantID, kind, recordID), plain)
}

// open decrypts data sealed for one record of a merchant.
func (s *Sealer) open(ctx context.Context, merchantID, kind, recordID string, ct []byte) ([]byte, error) {
	dk, err := s.dataKey(ctx, ct)
	if err != nil {
		return nil, err
	}
	if dk.MerchantID != merchantID {
		return nil, vault.ErrDecrypt
	}
	return s.vault.Open(dk, vault.AAD(merchantID, kind, recordID), ct)
}

// RewrapAll rewraps every data key under the current KEK, page by page, each
// page in its own durable transaction. It is safe while servers run: the plain
// keys do not change, and a server that meets a KEK version it does not know
// reloads its key source.
func (s *Sealer) RewrapAll(ctx context.Context) (rewrapped int, err error) {
	after := ""
	cur := s.vault.CurrentKEKVersion()
	for {
		var page []vault.DataKey
		if err := s.store.Read(ctx, func(tx store.Tx) error {
			page, err = tx.ListDataKeys(after, 200)
			return err
		}); err != nil {
			return rewrapped, err
		}
		if len(page) == 0 {
			return rewrapped, nil
		}
		var redo []vault.DataKey
		for _, dk := range page {
			if dk.KEKVersion == cur {
				continue
			}
			nk, err := s.vault.Rewrap(dk)
			if err != nil {
				return rewrapped, err
			}
			redo = append(redo, nk)
		}
		if err := s.store.Write(ctx, func(tx store.Tx) error {
			for _, dk := range redo {
				if err := tx.UpdateDataKeyWrap(dk.ID, dk.KEKVersion, dk.Wrapped); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return rewrapped, err
		}
		rewrapped += len(redo)
		after = page[len(page)-1].ID
	}
}

// Digest is a keyed, per-merchant digest of client-supplied data that must be
// stored or compared (idempotency keys and request bodies): a plain hash is
// not enough because such data may carry card numbers. purpose separates uses.
func (s *Sealer) Digest(ctx context.Context, merchantID, purpose string, data []byte) ([]byte, error) {
	fk, err := s.activeKey(ctx, merchantID, vault.PurposeFingerprint)
	if err != nil {
		return nil, err
	}
	return s.vault.MAC(fk, "digest/"+purpose, data)
}

// SealStoredResponse seals a response kept for an Idempotency-Key replay;
// key is the key's digest, binding the ciphertext to its record.
func (s *Sealer) SealStoredResponse(ctx context.Context, merchantID, key string, body []byte) ([]byte, error) {
	return s.seal(ctx, merchantID, "idempotency", key, body)
}

// OpenStoredResponse opens what SealStoredResponse sealed. Records kept
// before responses were sealed hold plain JSON and are returned as they are.
func (s *Sealer) OpenStoredResponse(ctx context.Context, merchantID, key string, stored []byte) ([]byte, error) {
	if len(stored) > 0 && (stored[0] == '{' || stored[0] == '[') {
		return stored, nil
	}
	return s.open(ctx, merchantID, "idempotency", key, stored)
}

// fingerprint is the merchant's fingerprint of a card number.
func (s *Sealer) fingerprint(ctx context.Context, merchantID, pan string) (string, error) {
	fk, err := s.activeKey(ctx, merchantID, vault.PurposeFingerprint)
	if err != nil {
		return "", err
	}
	return s.vault.Fingerprint(fk, pan)
}
