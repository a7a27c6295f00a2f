package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func testProcessorAccounts(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	stripe := &store.ProcessorAccount{ID: id.New("pa"), MerchantID: m.ID, Type: "stripe", Name: "Stripe EU", Mode: "test",
		Currencies: []string{"EUR", "USD"}, Priority: 2, BaseURL: "http://127.0.0.1:12111", CredentialsCT: randBytes(48), Created: t0}
	sim := &store.ProcessorAccount{ID: id.New("pa"), MerchantID: m.ID, Type: "simulator", Mode: "test", Currencies: []string{},
		Priority: 1, CredentialsCT: randBytes(32), Created: t0.Add(time.Microsecond)}
	later := &store.ProcessorAccount{ID: id.New("pa"), MerchantID: m.ID, Type: "authorize_net", Mode: "live", Currencies: []string{"USD"},
		Priority: 2, CredentialsCT: randBytes(32), Created: t0.Add(time.Second)}
	other := &store.ProcessorAccount{ID: id.New("pa"), MerchantID: m2.ID, Type: "stripe", Mode: "live", Currencies: []string{},
		CredentialsCT: randBytes(32), Created: t0}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertProcessorAccount(later), tx.InsertProcessorAccount(stripe), tx.InsertProcessorAccount(sim),
			tx.InsertProcessorAccount(other))
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetProcessorAccount(m.ID, stripe.ID)
		if err != nil {
			return err
		}
		same(t, "GetProcessorAccount", got, stripe)
		_, err = tx.GetProcessorAccount(m2.ID, stripe.ID)
		wantErr(t, "GetProcessorAccount(other merchant)", err, store.ErrNotFound)
		list, err := tx.ListProcessorAccounts(m.ID)
		if err != nil {
			return err
		}
		// By priority, then age: the order routing tries them in.
		if len(list) != 3 || list[0].ID != sim.ID || list[1].ID != stripe.ID || list[2].ID != later.ID {
			t.Errorf("ListProcessorAccounts: %d accounts, want sim, stripe, later", len(list))
		}
		return nil
	})
	at := t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.DeleteProcessorAccount(m.ID, stripe.ID, at) })
	err := s.Write(context.Background(), func(tx store.Tx) error { return tx.DeleteProcessorAccount(m.ID, stripe.ID, at) })
	wantErr(t, "DeleteProcessorAccount twice", err, store.ErrNotFound)
	err = s.Write(context.Background(), func(tx store.Tx) error { return tx.DeleteProcessorAccount(m2.ID, sim.ID, at) })
	wantErr(t, "DeleteProcessorAccount(other merchant)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		list, err := tx.ListProcessorAccounts(m.ID)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != sim.ID || list[1].ID != later.ID {
			t.Errorf("ListProcessorAccounts after a delete: %d accounts", len(list))
		}
		// A deleted account is still found: its payments settle through it.
		got, err := tx.GetProcessorAccount(m.ID, stripe.ID)
		if err != nil {
			return err
		}
		if got.Deleted == nil || !got.Deleted.Equal(at) {
			t.Errorf("deleted account: Deleted %v, want %v", got.Deleted, at)
		}
		return nil
	})
}
