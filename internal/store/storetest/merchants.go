package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func newMerchant() *store.Merchant {
	return &store.Merchant{ID: id.New("mer"), Name: "Kedai Kopi", SecretKeyHash: randBytes(32),
		SecretKeyLast4: "k3y4", PublishableKey: id.New("pk_test"), HMACSecretCT: randBytes(60),
		Settings: store.Settings{DefaultCurrency: "MYR"}, Created: now()}
}

func addMerchant(t *testing.T, s store.Store) *store.Merchant {
	t.Helper()
	m := newMerchant()
	write(t, s, func(tx store.Tx) error { return tx.InsertMerchant(m) })
	return m
}

func testMerchants(t *testing.T, open Opener) {
	s := fresh(t, open)
	var n int
	read(t, s, func(tx store.Tx) (err error) { n, err = tx.CountMerchants(); return })
	if n != 0 {
		t.Fatalf("CountMerchants on a new database = %d, want 0", n)
	}

	m := addMerchant(t, s)
	m2 := addMerchant(t, s)
	var got, bySecret, byPK *store.Merchant
	read(t, s, func(tx store.Tx) (err error) {
		if got, err = tx.GetMerchant(m.ID); err != nil {
			return err
		}
		if bySecret, err = tx.GetMerchantBySecretHash(m.SecretKeyHash); err != nil {
			return err
		}
		if byPK, err = tx.GetMerchantByPublishableKey(m.PublishableKey); err != nil {
			return err
		}
		n, err = tx.CountMerchants()
		return err
	})
	same(t, "GetMerchant", got, m)
	same(t, "GetMerchantBySecretHash", bySecret, m)
	same(t, "GetMerchantByPublishableKey", byPK, m)
	if n != 2 {
		t.Errorf("CountMerchants = %d, want 2", n)
	}
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetMerchant(id.New("mer"))
		wantErr(t, "GetMerchant(unknown)", err, store.ErrNotFound)
		_, err = tx.GetMerchantBySecretHash(randBytes(32))
		wantErr(t, "GetMerchantBySecretHash(unknown)", err, store.ErrNotFound)
		_, err = tx.GetMerchantByPublishableKey("pk_unknown")
		wantErr(t, "GetMerchantByPublishableKey(unknown)", err, store.ErrNotFound)
		return nil
	})

	settings := store.Settings{DefaultCurrency: "SGD", RequireCVCForSavedCards: true, TokenizationRequires3DS: true,
		TokenizationReturnURL: "https://shop.example/return", TokenizationCallbackURL: "https://shop.example/cb",
		FrameAncestors: []string{"https://shop.example", "https://pay.shop.example"}}
	write(t, s, func(tx store.Tx) error { return tx.UpdateMerchantSettings(m.ID, settings) })
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateMerchantSettings(id.New("mer"), settings) })
	wantErr(t, "UpdateMerchantSettings(unknown)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetMerchant(m.ID); return })
	m.Settings = settings
	same(t, "merchant after UpdateMerchantSettings", got, m)
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetMerchant(m2.ID); return })
	same(t, "other merchant after UpdateMerchantSettings", got, m2)

	for _, c := range []struct {
		what string
		edit func(*store.Merchant)
	}{
		{"same id", func(d *store.Merchant) { d.ID = m.ID }},
		{"same secret key hash", func(d *store.Merchant) { d.SecretKeyHash = bytes.Clone(m.SecretKeyHash) }},
		{"same publishable key", func(d *store.Merchant) { d.PublishableKey = m.PublishableKey }},
	} {
		d := newMerchant()
		c.edit(d)
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertMerchant(d) })
		wantErr(t, "InsertMerchant with "+c.what, err, store.ErrConflict)
	}
	read(t, s, func(tx store.Tx) (err error) { n, err = tx.CountMerchants(); return })
	if n != 2 {
		t.Errorf("CountMerchants after refused inserts = %d, want 2", n)
	}
}

func testDeviceKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	first := &store.DeviceKey{ID: id.New("dk"), MerchantID: m.ID, Name: "till 1", KeyHash: randBytes(32), Last4: "a1b2", Created: t0}
	second := &store.DeviceKey{ID: id.New("dk"), MerchantID: m.ID, KeyHash: randBytes(32), Last4: "c3d4", Created: t0.Add(time.Microsecond)}
	other := &store.DeviceKey{ID: id.New("dk"), MerchantID: m2.ID, Name: "kiosk", KeyHash: randBytes(32), Last4: "e5f6", Created: t0}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDeviceKey(second), tx.InsertDeviceKey(first), tx.InsertDeviceKey(other))
	})
	// The same digest twice is refused: a key must name one device.
	err := s.Write(context.Background(), func(tx store.Tx) error {
		return tx.InsertDeviceKey(&store.DeviceKey{ID: id.New("dk"), MerchantID: m2.ID, KeyHash: first.KeyHash, Created: t0})
	})
	if err == nil {
		t.Error("InsertDeviceKey with a digest already stored: no error")
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetDeviceKeyByHash(first.KeyHash)
		if err != nil {
			return err
		}
		same(t, "GetDeviceKeyByHash", got, first)
		got, err = tx.GetDeviceKey(m.ID, second.ID)
		if err != nil {
			return err
		}
		same(t, "GetDeviceKey", got, second)
		_, err = tx.GetDeviceKey(m2.ID, first.ID)
		wantErr(t, "GetDeviceKey(other merchant)", err, store.ErrNotFound)
		_, err = tx.GetDeviceKeyByHash(randBytes(32))
		wantErr(t, "GetDeviceKeyByHash(unknown)", err, store.ErrNotFound)
		list, err := tx.ListDeviceKeys(m.ID)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID {
			t.Errorf("ListDeviceKeys: %d keys, want first then second", len(list))
		}
		return nil
	})
	at := t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.RevokeDeviceKey(m.ID, first.ID, at) })
	err = s.Write(context.Background(), func(tx store.Tx) error { return tx.RevokeDeviceKey(m.ID, first.ID, at) })
	wantErr(t, "RevokeDeviceKey twice", err, store.ErrNotFound)
	err = s.Write(context.Background(), func(tx store.Tx) error { return tx.RevokeDeviceKey(m2.ID, second.ID, at) })
	wantErr(t, "RevokeDeviceKey(other merchant)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetDeviceKeyByHash(first.KeyHash)
		if err != nil {
			return err
		}
		if got.Revoked == nil || !got.Revoked.Equal(at) {
			t.Errorf("revoked key: Revoked %v, want %v", got.Revoked, at)
		}
		return nil
	})
}
