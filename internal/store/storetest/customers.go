package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

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

// testListCustomers: newest first, paged, found by e-mail (any case) or
// reference, never another merchant's or a deleted one.
func testListCustomers(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	base := now().Add(-time.Hour)
	var cs []*store.Customer
	for i, e := range []string{"a@example.com", "B@Example.com", "c@example.com", "gone@example.com"} {
		c := &store.Customer{ID: id.New("cus"), MerchantID: m.ID, Reference: fmt.Sprintf("r%d", i), Email: e,
			Metadata: map[string]string{}, Created: base.Add(time.Duration(i) * time.Minute)}
		cs = append(cs, c)
	}
	theirs := &store.Customer{ID: id.New("cus"), MerchantID: m2.ID, Email: "b@example.com", Metadata: map[string]string{}, Created: base}
	write(t, s, func(tx store.Tx) error {
		errs := []error{tx.InsertCustomer(theirs)}
		for _, c := range cs {
			errs = append(errs, tx.InsertCustomer(c))
		}
		return errors.Join(append(errs, tx.MarkCustomerDeleted(m.ID, cs[3].ID, now()))...)
	})
	ids := func(l []*store.Customer) (out []string) {
		for _, c := range l {
			out = append(out, c.ID)
		}
		return out
	}
	read(t, s, func(tx store.Tx) error {
		l, more, err := tx.ListCustomers(m.ID, store.CustomerFilter{Limit: 2})
		if err != nil {
			return err
		}
		if got, want := ids(l), []string{cs[2].ID, cs[1].ID}; !more || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("first page %v (more %v), want %v and more", got, more, want)
		}
		l, more, err = tx.ListCustomers(m.ID, store.CustomerFilter{Limit: 2, StartingAfter: cs[1].ID})
		if err != nil {
			return err
		}
		if got := ids(l); more || fmt.Sprint(got) != fmt.Sprint([]string{cs[0].ID}) {
			t.Errorf("second page %v (more %v), want [%s] and no more (the deleted one is not listed)", got, more, cs[0].ID)
		}
		l, _, err = tx.ListCustomers(m.ID, store.CustomerFilter{Email: "b@EXAMPLE.com", Limit: 10})
		if err != nil {
			return err
		}
		if got := ids(l); fmt.Sprint(got) != fmt.Sprint([]string{cs[1].ID}) {
			t.Errorf("by e-mail %v, want only %s (not another merchant's)", got, cs[1].ID)
		}
		l, _, err = tx.ListCustomers(m.ID, store.CustomerFilter{Email: "r0", Reference: "r0", Limit: 10})
		if err != nil {
			return err
		}
		if got := ids(l); fmt.Sprint(got) != fmt.Sprint([]string{cs[0].ID}) {
			t.Errorf("by reference %v, want %s", got, cs[0].ID)
		}
		l, _, err = tx.ListCustomers(m.ID, store.CustomerFilter{Email: "gone@example.com", Limit: 10})
		if err == nil && len(l) != 0 {
			t.Errorf("a deleted customer is listed: %v", ids(l))
		}
		return err
	})
}
