// Package payment holds Coffer's domain services: merchants, customers and
// tokens (payments and sessions join later). It orchestrates the vault, the
// processor and the store; it is the only layer the HTTP APIs and dialects call.
package payment

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/radar"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// VerifyAmount is the authorization made and voided to verify a card (senangPay's RM1).
const VerifyAmount = 100

// Service is the domain core.
type Service struct {
	store store.Store
	vault *vault.Vault
	proc  processor.Processor
	auth  processor.Authenticator // nil: the processor offers no 3-D Secure
	log   *slog.Logger

	publicURL    string
	challengeTTL time.Duration
	testMode     bool

	allowPrivateWebhooks bool
	now                  func() time.Time

	mu   sync.RWMutex
	deks map[string]vault.DataKey // data key id → key, and "active/<merchant>/<purpose>" → key

	// radar counts card-testing signals; see cardtesting.go.
	radar *radar.Guard

	authMu    sync.Mutex
	authCache map[string]authEntry // secret key hash → merchant, briefly

	skMu      sync.Mutex
	skCurrent map[string]*sessionKeyEntry // merchant → key for new sessions
	pkMu      sync.Mutex
	skPrivate map[string]*rsa.PrivateKey // merchant/kid → opened private key
}

// authTTL bounds how long a merchant (and its settings) is served from
// memory. Authenticating every request against the database costs about a
// fifth of a tokenization's CPU; another process's settings change (the CLI,
// another instance) is seen within this time, this process's at once.
const authTTL = 3 * time.Second

type authEntry struct {
	m       *store.Merchant
	expires time.Time
}

// storeNow is the clock at the precision the stores keep (microseconds), so
// an object answered at creation equals the same object read back.
func storeNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// New wires a service.
func New(st store.Store, v *vault.Vault, p processor.Processor, log *slog.Logger) *Service {
	s := &Service{store: st, vault: v, proc: p, log: log, now: storeNow, deks: map[string]vault.DataKey{}, authCache: map[string]authEntry{},
		publicURL: "http://127.0.0.1:8080", challengeTTL: DefaultChallengeTTL,
		skCurrent: map[string]*sessionKeyEntry{}, skPrivate: map[string]*rsa.PrivateKey{}}
	s.radar = radar.New(func() time.Time { return s.now() })
	s.auth, _ = p.(processor.Authenticator)
	return s
}

type ctxKey int

const requestIDKey ctxKey = 1

// WithRequestID carries the request id into audit records.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// HashSecretKey is how secret keys are stored and looked up: the key has 192
// random bits, so a fast hash is enough and the lookup compares no secret.
func HashSecretKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// activeKey returns the merchant's current data key for a purpose, cached:
// the set only grows and a merchant's keys are created with the merchant.
func (s *Service) activeKey(ctx context.Context, merchantID, purpose string) (vault.DataKey, error) {
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
func (s *Service) dataKey(ctx context.Context, ct []byte) (vault.DataKey, error) {
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
func (s *Service) seal(ctx context.Context, merchantID, kind, recordID string, plain []byte) ([]byte, error) {
	dk, err := s.activeKey(ctx, merchantID, vault.PurposeCard)
	if err != nil {
		return nil, err
	}
	return s.vault.Seal(dk, vault.AAD(merchantID, kind, recordID), plain)
}

// open decrypts data sealed for one record of a merchant.
func (s *Service) open(ctx context.Context, merchantID, kind, recordID string, ct []byte) ([]byte, error) {
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
func (s *Service) RewrapAll(ctx context.Context) (rewrapped int, err error) {
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
func (s *Service) Digest(ctx context.Context, merchantID, purpose string, data []byte) ([]byte, error) {
	fk, err := s.activeKey(ctx, merchantID, vault.PurposeFingerprint)
	if err != nil {
		return nil, err
	}
	return s.vault.MAC(fk, "digest/"+purpose, data)
}

// isNotFound reports a store miss.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// SealStoredResponse seals a response kept for an Idempotency-Key replay;
// key is the key's digest, binding the ciphertext to its record.
func (s *Service) SealStoredResponse(ctx context.Context, merchantID, key string, body []byte) ([]byte, error) {
	return s.seal(ctx, merchantID, "idempotency", key, body)
}

// OpenStoredResponse opens what SealStoredResponse sealed. Records kept
// before responses were sealed hold plain JSON and are returned as they are.
func (s *Service) OpenStoredResponse(ctx context.Context, merchantID, key string, stored []byte) ([]byte, error) {
	if len(stored) > 0 && (stored[0] == '{' || stored[0] == '[') {
		return stored, nil
	}
	return s.open(ctx, merchantID, "idempotency", key, stored)
}

// read runs one lookup in a read transaction: most reads fetch one record.
func read[T any](ctx context.Context, st store.Store, get func(store.Tx) (T, error)) (T, error) {
	var v T
	err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		v, err = get(tx)
		return err
	})
	return v, err
}
