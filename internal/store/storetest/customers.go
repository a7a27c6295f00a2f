package storetest

import (
	"errors"
	"testing"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func newCustomer(merchantID, reference string) *store.Customer {
	return &store.Customer{ID: id.New("cus"), MerchantID: merchantID, Reference: reference, Name: "Siti",
		Email: "siti@example.com", Phone: "+60123456789", Metadata: map[string]string{"tier": "gold"}, Created: now()}
}

func addCustomer(t *testing.T, s store.Store, merchantID, reference string) *store.Customer {
	t.Helper()
	c := newCustomer(merchantID, reference)
	write(t, s, func(tx store.Tx) error { return tx.InsertCustomer(c) })
	return c
}

func testCustomers(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	c := addCustomer(t, s, m.ID, "ref-1")
	bare := &store.Customer{ID: id.New("cus"), MerchantID: m.ID, Created: now()} // no reference, no metadata
	bare2 := &store.Customer{ID: id.New("cus"), MerchantID: m.ID, Created: now()}
	elsewhere := newCustomer(m2.ID, "ref-1") // references are per merchant
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertCustomer(bare), tx.InsertCustomer(bare2), tx.InsertCustomer(elsewhere))
	})

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetCustomer(m.ID, c.ID)
		same(t, "GetCustomer", got, c)
		if err != nil {
			return err
		}
		got, err = tx.GetCustomerByReference(m.ID, "ref-1")
		same(t, "GetCustomerByReference", got, c)
		if err != nil {
			return err
		}
		got, err = tx.GetCustomerByReference(m2.ID, "ref-1")
		same(t, "GetCustomerByReference (other merchant, same reference)", got, elsewhere)
		if err != nil {
			return err
		}
		got, err = tx.GetCustomer(m.ID, bare.ID)
		if err != nil {
			return err
		}
		if got.Reference != "" || got.Metadata == nil || len(got.Metadata) != 0 {
			t.Errorf("customer without reference or metadata read back as reference %q, metadata %#v; want \"\" and an empty, non-nil map", got.Reference, got.Metadata)
		}
		_, err = tx.GetCustomer(m2.ID, c.ID)
		wantErr(t, "GetCustomer (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetCustomer(m.ID, id.New("cus"))
		wantErr(t, "GetCustomer(unknown)", err, store.ErrNotFound)
		_, err = tx.GetCustomerByReference(m.ID, "ref-unknown")
		wantErr(t, "GetCustomerByReference(unknown)", err, store.ErrNotFound)
		_, err = tx.GetCustomerByReference(m.ID, "")
		wantErr(t, "GetCustomerByReference(\"\")", err, store.ErrNotFound)
		return nil
	})

	dup := newCustomer(m.ID, "ref-1")
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertCustomer(dup) })
	wantErr(t, "InsertCustomer with a reference in use", err, store.ErrConflict)
	dupID := newCustomer(m.ID, "ref-2")
	dupID.ID = c.ID
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertCustomer(dupID) })
	wantErr(t, "InsertCustomer with an existing id", err, store.ErrConflict)

	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.MarkCustomerDeleted(m2.ID, c.ID, now()) })
	wantErr(t, "MarkCustomerDeleted (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.MarkCustomerDeleted(m.ID, id.New("cus"), now()) })
	wantErr(t, "MarkCustomerDeleted(unknown)", err, store.ErrNotFound)
	write(t, s, func(tx store.Tx) error { return tx.MarkCustomerDeleted(m.ID, c.ID, now()) })
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.MarkCustomerDeleted(m.ID, c.ID, now()) })
	wantErr(t, "MarkCustomerDeleted twice", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetCustomer(m.ID, c.ID)
		wantErr(t, "GetCustomer (deleted)", err, store.ErrNotFound)
		_, err = tx.GetCustomerByReference(m.ID, "ref-1")
		wantErr(t, "GetCustomerByReference (deleted)", err, store.ErrNotFound)
		got, err := tx.GetCustomerByReference(m2.ID, "ref-1")
		same(t, "other merchant's customer with the same reference after the delete", got, elsewhere)
		return err
	})

	// A deleted customer's reference is free again.
	again := addCustomer(t, s, m.ID, "ref-1")
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetCustomerByReference(m.ID, "ref-1")
		same(t, "GetCustomerByReference (reference re-used)", got, again)
		return err
	})
}
