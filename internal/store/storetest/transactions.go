package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Records that name a merchant or customer must name one that exists.
func testForeignKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	ev := addEvent(t, s, m.ID)
	for _, c := range []struct {
		what string
		fn   func(store.Tx) error
	}{
		{"InsertDataKey (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertDataKey(newDataKey(id.New("dek"), id.New("mer"), vault.PurposeCard, now()))
		}},
		{"InsertCustomer (unknown merchant)", func(tx store.Tx) error { return tx.InsertCustomer(newCustomer(id.New("mer"), "")) }},
		{"InsertToken (unknown merchant)", func(tx store.Tx) error { return tx.InsertToken(newToken(id.New("mer"), "", "fp", now())) }},
		{"InsertToken (unknown customer)", func(tx store.Tx) error { return tx.InsertToken(newToken(m.ID, id.New("cus"), "fp", now())) }},
		{"InsertChallenge (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertChallenge(newChallenge(id.New("mer"), store.ChallengePending, now(), randBytes(40)))
		}},
		{"InsertSession (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertSession(newSession(id.New("mer"), store.SessionOpen, now()))
		}},
		{"InsertSessionKey (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertSessionKey(&store.SessionKey{ID: id.New("sk"), MerchantID: id.New("mer"),
				PrivateCT: randBytes(64), Public: randBytes(64), Created: now()})
		}},
		{"InsertWebhookEndpoint (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertWebhookEndpoint(newWebhookEndpoint(id.New("mer"), now()))
		}},
		{"InsertDelivery (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertDelivery(newDelivery(id.New("mer"), ev.ID, store.DeliveryPending, now(), now()))
		}},
		{"InsertDelivery (unknown event)", func(tx store.Tx) error {
			return tx.InsertDelivery(newDelivery(m.ID, id.New("evt"), store.DeliveryPending, now(), now()))
		}},
		{"InsertDeliveryAttempt (unknown delivery)", func(tx store.Tx) error {
			return tx.InsertDeliveryAttempt(&store.DeliveryAttempt{ID: id.New("dla"), DeliveryID: id.New("dlv"), Attempt: 1, At: now()})
		}},
	} {
		if err := s.Write(t.Context(), c.fn); err == nil {
			t.Errorf("%s: succeeded, want an error", c.what)
		}
	}
}

func testAtomicity(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := newMerchant()
	c := newCustomer(m.ID, "ref")
	tok := newToken(m.ID, c.ID, "fp", now())
	dk := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, now())
	idem := &store.Idempotency{MerchantID: m.ID, Key: "k", RequestHash: randBytes(32), State: store.IdemStarted, Created: now(), LockedUntil: now()}
	aud := &store.Audit{ID: id.New("aud"), MerchantID: m.ID, Action: "a", ObjectID: tok.ID, Purpose: "p", RequestID: "r", Created: now()}
	err := s.Write(t.Context(), func(tx store.Tx) error {
		if err := errors.Join(tx.InsertMerchant(m), tx.InsertDataKey(dk), tx.InsertCustomer(c), tx.InsertToken(tok),
			tx.InsertIdempotency(idem), tx.InsertAudit(aud)); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return fmt.Errorf("after writing: %w", errBoom)
	})
	wantErr(t, "Write whose fn fails", err, errBoom)
	read(t, s, func(tx store.Tx) error {
		if n, err := tx.CountMerchants(); err != nil || n != 0 {
			t.Errorf("CountMerchants after a failed Write = %d, %v; want 0", n, err)
		}
		_, err := tx.GetMerchant(m.ID)
		wantErr(t, "GetMerchant", err, store.ErrNotFound)
		_, err = tx.GetDataKey(dk.ID)
		wantErr(t, "GetDataKey", err, store.ErrNotFound)
		_, err = tx.GetCustomer(m.ID, c.ID)
		wantErr(t, "GetCustomer", err, store.ErrNotFound)
		_, err = tx.GetToken(m.ID, tok.ID)
		wantErr(t, "GetToken", err, store.ErrNotFound)
		_, err = tx.GetIdempotency(m.ID, "k")
		wantErr(t, "GetIdempotency", err, store.ErrNotFound)
		if as, err := tx.ListAudit(m.ID, tok.ID); err != nil || len(as) != 0 {
			t.Errorf("ListAudit after a failed Write = %d, %v; want none", len(as), err)
		}
		return nil
	})

	// A conflict that fn returns undoes fn's earlier writes too.
	write(t, s, func(tx store.Tx) error { return tx.InsertMerchant(m) })
	taken := addCustomer(t, s, m.ID, "taken")
	first := newCustomer(m.ID, "first")
	err = s.Write(t.Context(), func(tx store.Tx) error {
		if err := tx.InsertCustomer(first); err != nil {
			return fmt.Errorf("first insert: %v", err) // not %w: must not look like the conflict
		}
		return tx.InsertCustomer(newCustomer(m.ID, taken.Reference))
	})
	wantErr(t, "Write returning a conflict", err, store.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetCustomer(m.ID, first.ID)
		wantErr(t, "customer inserted before the conflict", err, store.ErrNotFound)
		return nil
	})
}

// After store.ErrConflict inside fn, fn may go on (for example to fetch the
// record it collided with); what it writes before and after persists.
func testConflictLeavesTxUsable(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	taken := addCustomer(t, s, m.ID, "taken")
	before, loser, after := newCustomer(m.ID, "before"), newCustomer(m.ID, taken.Reference), newCustomer(m.ID, "after")
	var found *store.Customer
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertCustomer(before); err != nil {
			return err
		}
		if err := tx.InsertCustomer(loser); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("InsertCustomer with a reference in use: err = %v, want store.ErrConflict", err)
		}
		var err error
		if found, err = tx.GetCustomerByReference(m.ID, taken.Reference); err != nil {
			return fmt.Errorf("GetCustomerByReference after a conflict: %w", err)
		}
		return tx.InsertCustomer(after)
	})
	same(t, "customer found after the conflict", found, taken)
	read(t, s, func(tx store.Tx) error {
		for _, c := range []*store.Customer{before, after} {
			if _, err := tx.GetCustomer(m.ID, c.ID); err != nil {
				t.Errorf("customer %q written around the conflict: %v", c.Reference, err)
			}
		}
		_, err := tx.GetCustomer(m.ID, loser.ID)
		wantErr(t, "customer whose insert conflicted", err, store.ErrNotFound)
		return nil
	})
}

// Concurrent Writes are isolated: each fails or succeeds on its own, whether or
// not a backend commits them together.
func testConcurrentWrites(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 200
	cs := make([]*store.Customer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cs[i] = newCustomer(m.ID, fmt.Sprintf("ref-%03d", i))
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				if err := tx.InsertCustomer(cs[i]); err != nil {
					return err
				}
				if i%10 == 0 {
					return errBoom
				}
				return nil
			})
		})
	}
	wg.Wait()
	exist := 0
	read(t, s, func(tx store.Tx) error {
		for i, c := range cs {
			_, err := tx.GetCustomer(m.ID, c.ID)
			switch {
			case i%10 == 0:
				wantErr(t, fmt.Sprintf("Write %d", i), errs[i], errBoom)
				wantErr(t, fmt.Sprintf("customer of failed Write %d", i), err, store.ErrNotFound)
			case errs[i] != nil:
				t.Errorf("Write %d: %v", i, errs[i])
			case err != nil:
				t.Errorf("customer of successful Write %d: %v", i, err)
			}
			if err == nil {
				exist++
			}
		}
		return nil
	})
	if exist != n-n/10 {
		t.Errorf("%d customers exist, want %d", exist, n-n/10)
	}
}

// A panic in fn fails that Write alone; the store carries on.
func testPanic(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 20
	cs := make([]*store.Customer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cs[i] = newCustomer(m.ID, fmt.Sprintf("ref-%02d", i))
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				if err := tx.InsertCustomer(cs[i]); err != nil {
					return err
				}
				if i == 7 {
					panic("storetest: deliberate panic")
				}
				return nil
			})
		})
	}
	wg.Wait()
	read(t, s, func(tx store.Tx) error {
		for i, c := range cs {
			_, err := tx.GetCustomer(m.ID, c.ID)
			if i == 7 {
				if errs[i] == nil {
					t.Error("panicking Write returned nil")
				}
				wantErr(t, "customer of the panicking Write", err, store.ErrNotFound)
				continue
			}
			if errs[i] != nil || err != nil {
				t.Errorf("Write %d beside a panicking one: %v; customer: %v", i, errs[i], err)
			}
		}
		return nil
	})
	addCustomer(t, s, m.ID, "after-panic")
}

// Concurrent read-modify-write of one record loses nothing: Writes of one
// record run one after another (SQLite's one writer; PostgreSQL's row lock
// taken by the read).
func testSerializable(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 8
	var wg sync.WaitGroup
	var runs atomic.Int64
	errs := make([]error, n)
	var want []string
	for i := range n {
		origin := fmt.Sprintf("https://shop-%d.example", i)
		want = append(want, origin)
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				runs.Add(1)
				got, err := tx.GetMerchant(m.ID)
				if err != nil {
					return err
				}
				st := got.Settings
				st.FrameAncestors = append(st.FrameAncestors, origin)
				return tx.UpdateMerchantSettings(m.ID, st)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Write %d: %v", i, err)
		}
	}
	var got *store.Merchant
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetMerchant(m.ID); return })
	have := slices.Clone(got.Settings.FrameAncestors)
	sort.Strings(have)
	same(t, "every concurrent read-modify-write kept", have, want)
	t.Logf("%d Writes ran fn %d times", n, runs.Load())
}

// Look-up-then-insert inside one Write (how an idempotency key is claimed)
// is race-free: of concurrent Writes claiming one key, exactly one inserts
// and the others see its row, none fails with a conflict.
func testCheckThenInsert(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 8
	var wg sync.WaitGroup
	claimed := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				claimed[i] = false // fn may run again: no state from an earlier attempt
				_, err := tx.GetIdempotency(m.ID, "claim")
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				claimed[i] = true
				return tx.InsertIdempotency(&store.Idempotency{MerchantID: m.ID, Key: "claim", RequestHash: randBytes(32),
					State: store.IdemStarted, Created: now(), LockedUntil: now().Add(time.Minute)})
			})
		})
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Write %d: %v", i, errs[i])
		}
		if claimed[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d Writes claimed the key, want exactly 1", winners)
	}
}

func testReadOnly(t *testing.T, open Opener) {
	s := fresh(t, open)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	m := newMerchant()
	if err := s.Read(t.Context(), func(tx store.Tx) error { return tx.InsertMerchant(m) }); err == nil {
		t.Error("InsertMerchant inside Read succeeded")
	}
	err := s.Read(t.Context(), func(tx store.Tx) error { return errBoom })
	wantErr(t, "Read whose fn fails", err, errBoom)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetMerchant(m.ID)
		wantErr(t, "merchant inserted inside Read", err, store.ErrNotFound)
		return nil
	})
	// What a Write commits, the next Read sees.
	m = addMerchant(t, s)
	read(t, s, func(tx store.Tx) error { _, err := tx.GetMerchant(m.ID); return err })
}

// A Write whose context has already ended does not run.
func testCanceledContext(t *testing.T, open Opener) {
	s := fresh(t, open)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var ran atomic.Bool
	m := newMerchant()
	err := s.Write(ctx, func(tx store.Tx) error { ran.Store(true); return tx.InsertMerchant(m) })
	wantErr(t, "Write with a canceled context", err, context.Canceled)
	if ran.Load() {
		t.Error("fn ran although the context had ended")
	}
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetMerchant(m.ID)
		wantErr(t, "merchant of the canceled Write", err, store.ErrNotFound)
		return nil
	})
}

// What a Write commits survives Close and Open.
func testDurability(t *testing.T, open Opener) {
	name := newName()
	s := open(t, name)
	m := addMerchant(t, s)
	c := addCustomer(t, s, m.ID, "ref")
	tok := addToken(t, s, newToken(m.ID, c.ID, "fp", now()))
	dk := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, now())
	write(t, s, func(tx store.Tx) error { return tx.InsertDataKey(dk) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, name)
	read(t, s, func(tx store.Tx) error {
		gm, err := tx.GetMerchant(m.ID)
		if err != nil {
			return fmt.Errorf("merchant after reopening: %w", err)
		}
		same(t, "merchant after reopening", gm, m)
		gc, err := tx.GetCustomer(m.ID, c.ID)
		if err != nil {
			return fmt.Errorf("customer after reopening: %w", err)
		}
		same(t, "customer after reopening", gc, c)
		gt, err := tx.GetToken(m.ID, tok.ID)
		if err != nil {
			return fmt.Errorf("token after reopening: %w", err)
		}
		same(t, "token after reopening", gt, tok)
		gd, err := tx.GetDataKey(dk.ID)
		same(t, "data key after reopening", gd, dk)
		return err
	})
	// The reopened store writes too (its migrations found the schema in place).
	c2 := addCustomer(t, s, m.ID, "ref-2")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, name)
	read(t, s, func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, c2.ID); return err })
}

func testClose(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertMerchant(newMerchant()) }); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := s.Read(t.Context(), func(tx store.Tx) error { _, err := tx.GetMerchant(m.ID); return err }); err == nil {
		t.Error("Read after Close succeeded")
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
}
