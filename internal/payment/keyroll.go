package payment

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Rolling replaces one of a merchant's three keys (secret, publishable,
// HMAC secret) with a new one. The one replaced keeps working for the
// overlap the merchant asks for, so that its systems can change over
// without an outage; an overlap of 0 stops it at once (a leaked key). The
// new key is what Coffer itself uses from the start: outbound signatures
// (callbacks, webhooks in the dialects' formats) switch at once, while
// inbound checks accept either key until the old one expires.

// Key overlap bounds, in seconds.
const (
	DefaultKeyOverlap = 86400
	MaxKeyOverlap     = 7 * 86400
)

// maxRetiring bounds the retired keys of one type still working: a roll
// beyond it ends the oldest one's overlap now.
const maxRetiring = 5

// RollParams ask for a new key of Type; ExpiresIn (seconds, default a day)
// is how long the one it replaces keeps working.
type RollParams struct {
	Type      string `json:"type"`
	ExpiresIn *int64 `json:"expires_in"`
}

// RolledKey is a roll's answer: the new key, shown only now, and when the
// one it replaced stops working.
type RolledKey struct {
	Object          string    `json:"object"`
	Type            string    `json:"type"`
	SecretKey       string    `json:"secret_key,omitempty"`
	PublishableKey  string    `json:"publishable_key,omitempty"`
	HMACSecret      string    `json:"hmac_secret,omitempty"`
	PreviousExpires time.Time `json:"previous_expires"`
}

// Key returns the new key, whichever type it is.
func (r RolledKey) Key() string { return r.SecretKey + r.PublishableKey + r.HMACSecret }

func keyLast4(key string) string {
	if len(key) < 4 {
		return ""
	}
	return key[len(key)-4:]
}

// errRollRaced: another roll changed the key between the sealing and the write.
var errRollRaced = errors.New("payment: the key changed during the roll")

// CheckRoll refuses the roll RollKey would refuse for its parameters
// alone, before anything is opened (the CLI checks its flags with it).
func CheckRoll(p RollParams) error {
	_, err := p.overlap()
	return err
}

// overlap is the checked ExpiresIn, in seconds.
func (p RollParams) overlap() (int64, error) {
	if p.Type != store.KeySecret && p.Type != store.KeyPublishable && p.Type != store.KeyHMAC {
		return 0, invalid("type", "parameter_invalid", "type must be secret, publishable or hmac")
	}
	overlap := int64(DefaultKeyOverlap)
	if p.ExpiresIn != nil {
		overlap = *p.ExpiresIn
	}
	if overlap < 0 || overlap > MaxKeyOverlap {
		return 0, invalid("expires_in", "parameter_invalid",
			"expires_in must be from 0 (the old key stops at once) to %d seconds (7 days)", MaxKeyOverlap)
	}
	return overlap, nil
}

// RollKey replaces a merchant's key of p.Type.
func (s *Merchants) RollKey(ctx context.Context, merchantID string, p RollParams) (RolledKey, error) {
	overlap, err := p.overlap()
	if err != nil {
		return RolledKey{}, err
	}
	for range 3 { // a concurrent roll of the same key makes this one start again
		r, err := s.rollOnce(ctx, merchantID, p.Type, time.Duration(overlap)*time.Second)
		if !errors.Is(err, errRollRaced) {
			s.forgetMerchant(merchantID)
			return r, err
		}
	}
	return RolledKey{}, store.ErrContention
}

// rollOnce seals outside the transaction (sealing may read data keys), then
// writes if the key is still the one it read.
func (s *Merchants) rollOnce(ctx context.Context, merchantID, typ string, overlap time.Duration) (RolledKey, error) {
	m, err := s.GetMerchant(ctx, merchantID)
	if err != nil {
		return RolledKey{}, err
	}
	now := s.now()
	out := RolledKey{Object: "rolled_key", Type: typ, PreviousExpires: now.Add(overlap)}
	next := *m
	old := &store.APIKey{ID: id.New("key"), MerchantID: m.ID, Kind: typ, Scopes: []string{}, Created: now, Expires: &out.PreviousExpires}
	switch typ {
	case store.KeySecret:
		out.SecretKey = id.NewBits("sk", 192)
		old.KeyHash, old.Last4 = m.SecretKeyHash, m.SecretKeyLast4
		next.SecretKeyHash, next.SecretKeyLast4 = HashSecretKey(out.SecretKey), keyLast4(out.SecretKey)
	case store.KeyPublishable:
		out.PublishableKey = id.NewBits("pk", 128)
		old.KeyHash, old.Last4 = HashSecretKey(m.PublishableKey), keyLast4(m.PublishableKey)
		next.PublishableKey = out.PublishableKey
	case store.KeyHMAC:
		out.HMACSecret = randomHex(32)
		if old.SecretCT, err = s.resealHMAC(ctx, m, old.ID); err != nil {
			return RolledKey{}, err
		}
		if next.HMACSecretCT, err = s.sealer.seal(ctx, m.ID, "merchant.hmac_secret", m.ID, []byte(out.HMACSecret)); err != nil {
			return RolledKey{}, err
		}
	}
	err = s.store.Write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetMerchant(m.ID) // locks the row where writes take row locks
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.SecretKeyHash, m.SecretKeyHash) || cur.PublishableKey != m.PublishableKey ||
			!bytes.Equal(cur.HMACSecretCT, m.HMACSecretCT) {
			return errRollRaced
		}
		if overlap > 0 {
			if err := s.capRetiring(tx, m.ID, typ, now); err != nil {
				return err
			}
			if err := tx.InsertAPIKey(old); err != nil {
				return err
			}
		}
		return tx.SetMerchantKeys(&next)
	})
	if isNotFound(err) {
		return RolledKey{}, notFound("id", "merchant", merchantID)
	}
	if err != nil {
		return RolledKey{}, err
	}
	return out, nil
}

// resealHMAC seals the merchant's current HMAC secret again for the
// retired-key record recordID: each ciphertext is bound to its own row.
func (s *Merchants) resealHMAC(ctx context.Context, m *store.Merchant, recordID string) ([]byte, error) {
	plain, err := s.sealer.open(ctx, m.ID, "merchant.hmac_secret", m.ID, m.HMACSecretCT)
	if err != nil {
		return nil, err
	}
	return s.sealer.seal(ctx, m.ID, "api_key.hmac_secret", recordID, plain)
}

// capRetiring ends the overlap of the oldest retired keys of typ so that,
// with the one being retired, at most maxRetiring keep working.
func (s *Merchants) capRetiring(tx store.Tx, merchantID, typ string, now time.Time) error {
	live, err := tx.ListRetiringKeys(merchantID, now)
	if err != nil {
		return err
	}
	var same []*store.APIKey
	for _, k := range live {
		if k.Kind == typ {
			same = append(same, k)
		}
	}
	for i := 0; i < len(same)-(maxRetiring-1); i++ {
		if err := tx.ExpireAPIKey(merchantID, same[i].ID, now); err != nil {
			return err
		}
	}
	return nil
}

// HMACSecrets are the HMAC secrets an inbound check accepts: the current
// one first, then any a roll retired that still work. Dialects sign with
// HMACSecret (the current one) only.
func (s *Merchants) HMACSecrets(ctx context.Context, m *store.Merchant) ([]string, error) {
	cur, err := s.HMACSecret(ctx, m)
	if err != nil {
		return nil, err
	}
	keys, err := read(ctx, s.store, func(tx store.Tx) ([]*store.APIKey, error) { return tx.ListRetiringKeys(m.ID, time.Now()) })
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	for _, k := range keys {
		if k.Kind != store.KeyHMAC {
			continue
		}
		b, err := s.sealer.open(ctx, m.ID, "api_key.hmac_secret", k.ID, k.SecretCT)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// publishableOK reports whether pk is the merchant's publishable key, or
// one a roll retired that still works; its use is noted.
func (s *Merchants) publishableOK(ctx context.Context, m *store.Merchant, pk string) (bool, error) {
	h := HashSecretKey(pk)
	if subtle.ConstantTimeCompare([]byte(pk), []byte(m.PublishableKey)) != 1 {
		k, err := read(ctx, s.store, func(tx store.Tx) (*store.APIKey, error) { return tx.GetAPIKeyByHash(h) })
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if k.Kind != store.KeyPublishable || k.MerchantID != m.ID || !k.Live(time.Now()) {
			return false, nil
		}
	}
	s.uses.touch(string(h), m.ID, time.Now())
	return true, nil
}

// MerchantKeys lists the merchant's secret and publishable keys that work
// now — the current ones and any a roll retired, with their expiry — and
// retired HMAC secrets still accepted; each with its last recorded use,
// never the key.
func (s *Merchants) MerchantKeys(ctx context.Context, m *store.Merchant) ([]KeyView, error) {
	pkHash := HashSecretKey(m.PublishableKey)
	var out []KeyView
	err := s.store.Read(ctx, func(tx store.Tx) error {
		out = out[:0]
		skUsed, err := tx.KeyLastUsed(m.ID, m.SecretKeyHash)
		if err != nil {
			return err
		}
		pkUsed, err := tx.KeyLastUsed(m.ID, pkHash)
		if err != nil {
			return err
		}
		out = append(out,
			KeyView{Object: "api_key", Type: store.KeySecret, Redacted: redact(store.KeySecret, m.SecretKeyLast4), LastUsed: skUsed},
			KeyView{Object: "api_key", Type: store.KeyPublishable, Redacted: redact(store.KeyPublishable, keyLast4(m.PublishableKey)), LastUsed: pkUsed})
		retiring, err := tx.ListRetiringKeys(m.ID, time.Now())
		if err != nil {
			return err
		}
		for _, k := range retiring {
			out = append(out, viewAPIKey(k))
		}
		return nil
	})
	return out, err
}

// MerchantSummary is a merchant as the operator's list shows it: its keys
// only as prefix and last four.
type MerchantSummary struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Created        time.Time `json:"created"`
	SecretKey      string    `json:"secret_key"`
	PublishableKey string    `json:"publishable_key"`
}

// ListMerchants lists every merchant, in id order.
func (s *Merchants) ListMerchants(ctx context.Context) ([]MerchantSummary, error) {
	var out []MerchantSummary
	after := ""
	for {
		page, err := read(ctx, s.store, func(tx store.Tx) ([]*store.Merchant, error) { return tx.ListMerchants(after, 500) })
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			out = append(out, MerchantSummary{ID: m.ID, Name: m.Name, Created: m.Created,
				SecretKey: redact(store.KeySecret, m.SecretKeyLast4), PublishableKey: redact(store.KeyPublishable, keyLast4(m.PublishableKey))})
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}
