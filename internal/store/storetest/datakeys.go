package storetest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

func newDataKey(dkID, merchantID, purpose string, created time.Time) vault.DataKey {
	return vault.DataKey{ID: dkID, MerchantID: merchantID, Purpose: purpose, KEKVersion: 1, Wrapped: randBytes(60), Created: created}
}

func testDataKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	card1 := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, t0.Add(-time.Hour))
	card2 := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, t0)
	card2.KEKVersion = 1<<32 - 1 // the whole uint32 range must survive
	fp := newDataKey(id.New("dek"), m.ID, vault.PurposeFingerprint, t0.Add(-2*time.Hour))
	other := newDataKey(id.New("dek"), m2.ID, vault.PurposeCard, t0.Add(time.Hour))
	all := []vault.DataKey{card1, card2, fp, other}
	write(t, s, func(tx store.Tx) error {
		for _, dk := range all {
			if err := tx.InsertDataKey(dk); err != nil {
				return err
			}
		}
		return nil
	})

	read(t, s, func(tx store.Tx) error {
		for _, dk := range all {
			got, err := tx.GetDataKey(dk.ID)
			if err != nil {
				return fmt.Errorf("GetDataKey(%s): %w", dk.ID, err)
			}
			same(t, "GetDataKey", got, dk)
		}
		_, err := tx.GetDataKey(id.New("dek"))
		wantErr(t, "GetDataKey(unknown)", err, store.ErrNotFound)

		got, err := tx.ActiveDataKey(m.ID, vault.PurposeCard)
		if err != nil {
			return fmt.Errorf("ActiveDataKey(card): %w", err)
		}
		same(t, "ActiveDataKey(card) is the newest", got, card2)
		got, err = tx.ActiveDataKey(m.ID, vault.PurposeFingerprint)
		if err != nil {
			return fmt.Errorf("ActiveDataKey(fingerprint): %w", err)
		}
		same(t, "ActiveDataKey(fingerprint)", got, fp)
		_, err = tx.ActiveDataKey(m.ID, "no-such-purpose")
		wantErr(t, "ActiveDataKey(unknown purpose)", err, store.ErrNotFound)
		_, err = tx.ActiveDataKey(id.New("mer"), vault.PurposeCard)
		wantErr(t, "ActiveDataKey(unknown merchant)", err, store.ErrNotFound)
		return nil
	})

	wrapped := randBytes(61)
	write(t, s, func(tx store.Tx) error { return tx.UpdateDataKeyWrap(card1.ID, 7, wrapped) })
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateDataKeyWrap(id.New("dek"), 7, wrapped) })
	wantErr(t, "UpdateDataKeyWrap(unknown)", err, store.ErrNotFound)
	card1.KEKVersion, card1.Wrapped = 7, wrapped
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetDataKey(card1.ID)
		same(t, "data key after UpdateDataKeyWrap", got, card1)
		if err != nil {
			return err
		}
		got, err = tx.GetDataKey(card2.ID)
		same(t, "other data key after UpdateDataKeyWrap", got, card2)
		return err
	})

	dup := newDataKey(card1.ID, m.ID, vault.PurposeCard, t0)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertDataKey(dup) })
	wantErr(t, "InsertDataKey with an existing id", err, store.ErrConflict)

	// ListDataKeys walks every merchant's keys in id order, a page at a time.
	for i := range 5 {
		dk := newDataKey(id.New("dek"), m2.ID, vault.PurposeCard, t0.Add(time.Duration(i)*time.Second))
		write(t, s, func(tx store.Tx) error { return tx.InsertDataKey(dk) })
		all = append(all, dk)
	}
	all[0] = card1
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	for _, limit := range []int{1, 3, 4, 9, 100} {
		var got []vault.DataKey
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("ListDataKeys(limit %d) does not end", limit)
			}
			var page []vault.DataKey
			read(t, s, func(tx store.Tx) (err error) { page, err = tx.ListDataKeys(after, limit); return })
			if len(page) > limit {
				t.Fatalf("ListDataKeys(%q, %d) returned %d keys", after, limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].ID
		}
		same(t, fmt.Sprintf("ListDataKeys pages of %d", limit), got, all)
	}
}

// Identifiers sort byte-wise on every backend (as Go's < on strings does),
// whatever the database's locale: ListDataKeys and ListTokens page by id.
func testDataKeysByteOrder(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	var want []string
	for _, prefix := range []string{"dek_", "DEK_", "dEK-", "Dek_", "dek-", "dek.", "dek_A", "dek_a", "dek_B", "dek_b", "dek__", "dek_~"} {
		dk := newDataKey(prefix+hex.EncodeToString(randBytes(4)), m.ID, vault.PurposeCard, now())
		write(t, s, func(tx store.Tx) error { return tx.InsertDataKey(dk) })
		want = append(want, dk.ID)
	}
	sort.Strings(want)
	var got []vault.DataKey
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListDataKeys("", 100); return })
	same(t, "ListDataKeys order", ids(got, func(dk vault.DataKey) string { return dk.ID }), want)
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListDataKeys(want[5], 100); return })
	same(t, "ListDataKeys after the 6th", ids(got, func(dk vault.DataKey) string { return dk.ID }), want[6:])
}

func testKEKChecks(t *testing.T, open Opener) {
	s := fresh(t, open)
	read(t, s, func(tx store.Tx) error {
		checks, err := tx.KEKChecks()
		sample, err2 := tx.KEKSample()
		if len(checks) != 0 || len(sample) != 0 {
			t.Errorf("a new store has checks %v, sample %v", checks, sample)
		}
		return errors.Join(err, err2)
	})
	v1, v2 := randBytes(32), randBytes(32)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertKEKCheck(1, v1, now()), tx.InsertKEKCheck(1<<32-1, v2, now()))
	})
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertKEKCheck(1, randBytes(32), now()) })
	wantErr(t, "InsertKEKCheck of a version that has one", err, store.ErrConflict)

	m := addMerchant(t, s)
	t0 := now()
	var keys []vault.DataKey
	for i, ver := range []uint32{2, 1, 2, 3, 1} {
		dk := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, t0.Add(time.Duration(i)*time.Second))
		dk.KEKVersion = ver
		keys = append(keys, dk)
	}
	write(t, s, func(tx store.Tx) error {
		for _, dk := range keys {
			if err := tx.InsertDataKey(dk); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		checks, err := tx.KEKChecks()
		if err != nil {
			return err
		}
		same(t, "KEKChecks", checks, map[uint32][]byte{1: v1, 1<<32 - 1: v2})
		sample, err := tx.KEKSample()
		if err != nil {
			return err
		}
		got := map[uint32]string{}
		for _, dk := range sample {
			if _, dup := got[dk.KEKVersion]; dup {
				t.Errorf("KEKSample: version %d twice", dk.KEKVersion)
			}
			got[dk.KEKVersion] = dk.ID
		}
		want := map[uint32]string{}
		for _, dk := range keys {
			if cur, ok := want[dk.KEKVersion]; !ok || dk.ID < cur {
				want[dk.KEKVersion] = dk.ID
			}
		}
		same(t, "KEKSample: the lowest data key id of each version", got, want)
		return nil
	})
}
