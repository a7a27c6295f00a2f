package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func testAPIKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	rk := &store.APIKey{ID: id.New("key"), MerchantID: m.ID, Kind: store.KeyRestricted, Name: "reporting", KeyHash: randBytes(32),
		Last4: "wxyz", Scopes: []string{"payments:read", "tokens:read"}, Created: t0}
	rk2 := &store.APIKey{ID: id.New("key"), MerchantID: m.ID, Kind: store.KeyRestricted, KeyHash: randBytes(32), Last4: "abcd",
		Scopes: []string{}, Created: t0.Add(time.Second)}
	exp := t0.Add(time.Hour)
	oldSK := &store.APIKey{ID: id.New("key"), MerchantID: m.ID, Kind: store.KeySecret, KeyHash: randBytes(32), Last4: "q1w2",
		Scopes: []string{}, Created: t0, Expires: &exp}
	// Retired HMAC secrets have no digest: two of them must fit the UNIQUE column.
	oldHMAC := &store.APIKey{ID: id.New("key"), MerchantID: m.ID, Kind: store.KeyHMAC, SecretCT: randBytes(60), Scopes: []string{},
		Created: t0.Add(time.Microsecond), Expires: &exp}
	past := t0.Add(-time.Minute)
	gone := &store.APIKey{ID: id.New("key"), MerchantID: m.ID, Kind: store.KeyHMAC, SecretCT: randBytes(60), Scopes: []string{},
		Created: t0.Add(-time.Hour), Expires: &past}
	other := &store.APIKey{ID: id.New("key"), MerchantID: m2.ID, Kind: store.KeyRestricted, KeyHash: randBytes(32), Last4: "zzzz",
		Scopes: []string{"events:read"}, Created: t0}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertAPIKey(rk), tx.InsertAPIKey(rk2), tx.InsertAPIKey(oldSK), tx.InsertAPIKey(oldHMAC),
			tx.InsertAPIKey(gone), tx.InsertAPIKey(other))
	})
	err := s.Write(t.Context(), func(tx store.Tx) error {
		return tx.InsertAPIKey(&store.APIKey{ID: id.New("key"), MerchantID: m2.ID, Kind: store.KeyRestricted, KeyHash: rk.KeyHash, Created: t0})
	})
	wantErr(t, "InsertAPIKey with a digest already stored", err, store.ErrConflict)

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAPIKeyByHash(rk.KeyHash)
		if err != nil {
			return err
		}
		same(t, "GetAPIKeyByHash", got, rk)
		if got, err = tx.GetAPIKey(m.ID, oldHMAC.ID); err != nil {
			return err
		}
		same(t, "GetAPIKey(hmac)", got, oldHMAC)
		_, err = tx.GetAPIKey(m2.ID, rk.ID)
		wantErr(t, "GetAPIKey(other merchant)", err, store.ErrNotFound)
		_, err = tx.GetAPIKeyByHash(randBytes(32))
		wantErr(t, "GetAPIKeyByHash(unknown)", err, store.ErrNotFound)

		// One kind, newest first, in pages.
		page1, more, err := tx.ListAPIKeys(m.ID, store.APIKeyFilter{Kind: store.KeyRestricted, Limit: 1})
		if err != nil {
			return err
		}
		if len(page1) != 1 || page1[0].ID != rk2.ID || !more {
			t.Errorf("ListAPIKeys page 1: %v more=%v, want rk2 and more", ids(page1, keyID), more)
		}
		page2, more, err := tx.ListAPIKeys(m.ID, store.APIKeyFilter{Kind: store.KeyRestricted, Limit: 1, StartingAfter: rk2.ID})
		if err != nil {
			return err
		}
		if len(page2) != 1 || page2[0].ID != rk.ID || more {
			t.Errorf("ListAPIKeys page 2: %v more=%v, want rk only", ids(page2, keyID), more)
		}
		// Retired keys still working, oldest first; restricted ones are not retired.
		live, err := tx.ListRetiringKeys(m.ID, t0)
		if err != nil {
			return err
		}
		if got := ids(live, keyID); !slices.Equal(got, []string{oldSK.ID, oldHMAC.ID}) {
			t.Errorf("ListRetiringKeys = %v, want the old secret key then the old HMAC secret", got)
		}
		if live, err = tx.ListRetiringKeys(m.ID, exp); err != nil || len(live) != 0 {
			t.Errorf("ListRetiringKeys at their expiry = %d keys (%v), want none", len(live), err)
		}
		return nil
	})

	// Revocation: once, by its merchant only.
	at := t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.RevokeAPIKey(m.ID, rk.ID, at) })
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.RevokeAPIKey(m.ID, rk.ID, at) })
	wantErr(t, "RevokeAPIKey twice", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.RevokeAPIKey(m2.ID, rk2.ID, at) })
	wantErr(t, "RevokeAPIKey(other merchant)", err, store.ErrNotFound)

	// Expiry moves forward only: a later time leaves it.
	soon := t0.Add(10 * time.Minute)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.ExpireAPIKey(m.ID, oldSK.ID, soon), tx.ExpireAPIKey(m.ID, oldHMAC.ID, exp.Add(time.Hour)))
	})
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.ExpireAPIKey(m2.ID, oldSK.ID, soon) })
	wantErr(t, "ExpireAPIKey(other merchant)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAPIKey(m.ID, rk.ID)
		if err != nil {
			return err
		}
		if got.Revoked == nil || !got.Revoked.Equal(at) || got.Live(at) {
			t.Errorf("revoked key: Revoked %v, live %v", got.Revoked, got.Live(at))
		}
		if got, err = tx.GetAPIKey(m.ID, oldSK.ID); err != nil {
			return err
		}
		if !got.Expires.Equal(soon) || !got.Live(soon.Add(-time.Microsecond)) || got.Live(soon) {
			t.Errorf("ExpireAPIKey: Expires %v, want %v", got.Expires, soon)
		}
		if got, err = tx.GetAPIKey(m.ID, oldHMAC.ID); err != nil {
			return err
		}
		if !got.Expires.Equal(exp) {
			t.Errorf("ExpireAPIKey to a later time moved the expiry to %v", got.Expires)
		}
		return nil
	})
	testKeyUses(t, s, m, m2, rk2, t0)
	testSetMerchantKeys(t, s, m, m2)
}

func keyID(k *store.APIKey) string { return k.ID }

// testKeyUses: a use is recorded per digest, never moved back, and read
// back only by the key's merchant, on the key itself too.
func testKeyUses(t *testing.T, s store.Store, m, m2 *store.Merchant, rk *store.APIKey, t0 time.Time) {
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	write(t, s, func(tx store.Tx) error {
		return tx.RecordKeyUses([]store.KeyUse{{Hash: rk.KeyHash, MerchantID: m.ID, At: t2}, {Hash: m.SecretKeyHash, MerchantID: m.ID, At: t1}})
	})
	write(t, s, func(tx store.Tx) error {
		return tx.RecordKeyUses([]store.KeyUse{{Hash: rk.KeyHash, MerchantID: m.ID, At: t1}, {Hash: m.SecretKeyHash, MerchantID: m.ID, At: t2}})
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetAPIKey(m.ID, rk.ID)
		if err != nil {
			return err
		}
		if got.LastUsed == nil || !got.LastUsed.Equal(t2) {
			t.Errorf("restricted key's LastUsed = %v, want %v (an older use must not move it back)", got.LastUsed, t2)
		}
		at, err := tx.KeyLastUsed(m.ID, m.SecretKeyHash)
		if err != nil {
			return err
		}
		if at == nil || !at.Equal(t2) {
			t.Errorf("KeyLastUsed(secret key) = %v, want %v", at, t2)
		}
		if at, err = tx.KeyLastUsed(m2.ID, m.SecretKeyHash); err != nil || at != nil {
			t.Errorf("KeyLastUsed(other merchant) = %v, %v; want nil", at, err)
		}
		if at, err = tx.KeyLastUsed(m.ID, randBytes(32)); err != nil || at != nil {
			t.Errorf("KeyLastUsed(never used) = %v, %v; want nil", at, err)
		}
		return nil
	})
}

// testSetMerchantKeys: a roll replaces the current keys; the old secret
// key's digest no longer finds the merchant; merchants list in id order.
func testSetMerchantKeys(t *testing.T, s store.Store, m, m2 *store.Merchant) {
	rolled := *m
	rolled.SecretKeyHash, rolled.SecretKeyLast4 = randBytes(32), "n3w4"
	rolled.PublishableKey, rolled.HMACSecretCT = id.New("pk_test"), randBytes(60)
	write(t, s, func(tx store.Tx) error { return tx.SetMerchantKeys(&rolled) })
	ghost := rolled
	ghost.ID = id.New("mer")
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.SetMerchantKeys(&ghost) })
	wantErr(t, "SetMerchantKeys(unknown)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetMerchantBySecretHash(rolled.SecretKeyHash)
		if err != nil {
			return err
		}
		same(t, "merchant after SetMerchantKeys", got, &rolled)
		_, err = tx.GetMerchantBySecretHash(m.SecretKeyHash)
		wantErr(t, "GetMerchantBySecretHash(old key)", err, store.ErrNotFound)
		all, err := tx.ListMerchants("", 10)
		if err != nil {
			return err
		}
		want := []string{m.ID, m2.ID}
		slices.SortFunc(want, strings.Compare)
		if got := ids(all, func(x *store.Merchant) string { return x.ID }); !slices.Equal(got, want) {
			t.Errorf("ListMerchants = %v, want %v", got, want)
		}
		rest, err := tx.ListMerchants(want[0], 10)
		if err != nil {
			return err
		}
		if len(rest) != 1 || rest[0].ID != want[1] {
			t.Errorf("ListMerchants after %s = %d merchants, want %s", want[0], len(rest), want[1])
		}
		return nil
	})
}
