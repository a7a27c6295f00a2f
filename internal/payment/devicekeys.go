package payment

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Device keys are secondary credentials a merchant creates for its devices
// (a till, a kiosk): a dialect that authenticates by device id (SensePass's
// deviceId) accepts one in place of the secret key. Each can be revoked on
// its own, so a lost device does not cost the merchant its secret key.

// MaxDeviceKeys bounds a merchant's live device keys.
const MaxDeviceKeys = 100

// DeviceKeyView is a device key as the API shows it; Key only when created.
type DeviceKeyView struct {
	ID      string     `json:"id"`
	Object  string     `json:"object"`
	Name    string     `json:"name"`
	Key     string     `json:"key,omitempty"`
	Last4   string     `json:"last4"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked"`
}

func viewDeviceKey(k *store.DeviceKey) DeviceKeyView {
	return DeviceKeyView{ID: k.ID, Object: "device_key", Name: k.Name, Last4: k.Last4, Created: k.Created, Revoked: k.Revoked}
}

// hashDeviceKey is how device keys are stored and looked up: like secret
// keys they have 192 random bits, so a fast hash suffices; the label keeps
// the two kinds of digest apart.
func hashDeviceKey(key string) []byte {
	h := sha256.Sum256([]byte("coffer device key|" + key))
	return h[:]
}

// CreateDeviceKey makes a device key; its value is shown only in the answer.
func (s *Merchants) CreateDeviceKey(ctx context.Context, merchantID, name string) (DeviceKeyView, error) {
	if err := checkFreeText("name", name, 100); err != nil {
		return DeviceKeyView{}, err
	}
	key := id.NewBits("dk_live", 192)
	k := &store.DeviceKey{ID: id.New("dk"), MerchantID: merchantID, Name: name, KeyHash: hashDeviceKey(key),
		Last4: key[len(key)-4:], Created: s.now()}
	err := s.store.Write(ctx, func(tx store.Tx) error {
		// Reading the merchant in the write locks its row where writes run
		// under row locks (PostgreSQL), so two creations are counted one
		// after the other; SQLite's one writer does so by itself.
		if _, err := tx.GetMerchant(merchantID); err != nil {
			return err
		}
		live := 0
		keys, err := tx.ListDeviceKeys(merchantID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.Revoked == nil {
				live++
			}
		}
		if live >= MaxDeviceKeys {
			return invalid("", "limit_reached", "a merchant may have at most %d live device keys; revoke one first", MaxDeviceKeys)
		}
		return tx.InsertDeviceKey(k)
	})
	if err != nil {
		return DeviceKeyView{}, err
	}
	v := viewDeviceKey(k)
	v.Key = key
	return v, nil
}

// ListDeviceKeys lists a merchant's device keys, revoked ones included.
func (s *Merchants) ListDeviceKeys(ctx context.Context, merchantID string) ([]DeviceKeyView, error) {
	keys, err := read(ctx, s.store, func(tx store.Tx) ([]*store.DeviceKey, error) { return tx.ListDeviceKeys(merchantID) })
	if err != nil {
		return nil, err
	}
	out := make([]DeviceKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewDeviceKey(k))
	}
	return out, nil
}

// RevokeDeviceKey stops a device key from working, at once and for good.
func (s *Merchants) RevokeDeviceKey(ctx context.Context, merchantID, keyID string) (DeviceKeyView, error) {
	var k *store.DeviceKey
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		if k, err = tx.GetDeviceKey(merchantID, keyID); err != nil {
			return err
		}
		if k.Revoked != nil {
			return nil // revoking twice is what the caller wanted
		}
		now := s.now()
		k.Revoked = &now
		return tx.RevokeDeviceKey(merchantID, keyID, now)
	})
	if isNotFound(err) {
		return DeviceKeyView{}, notFound("id", "device_key", keyID)
	}
	if err != nil {
		return DeviceKeyView{}, err
	}
	return viewDeviceKey(k), nil
}

// ErrUnknownKey is AuthenticateDevice's answer for a key that is not a live
// device key.
var ErrUnknownKey = errors.New("payment: unknown or revoked device key")

// AuthenticateDevice finds the merchant of a live device key. It is not
// cached: a revocation must take effect at once.
func (s *Merchants) AuthenticateDevice(ctx context.Context, key string) (*store.Merchant, error) {
	var m *store.Merchant
	err := s.store.Read(ctx, func(tx store.Tx) error {
		k, err := tx.GetDeviceKeyByHash(hashDeviceKey(key))
		if err != nil {
			return err
		}
		if k.Revoked != nil {
			return store.ErrNotFound
		}
		m, err = tx.GetMerchant(k.MerchantID)
		return err
	})
	if isNotFound(err) {
		return nil, ErrUnknownKey
	}
	return m, err
}
