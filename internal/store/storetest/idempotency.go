package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func testIdempotency(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	r := &store.Idempotency{MerchantID: m.ID, Key: "order-1001", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: t0.Add(time.Minute)}
	r2 := &store.Idempotency{MerchantID: m2.ID, Key: "order-1001", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: t0.Add(time.Minute)}
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertIdempotency(r), tx.InsertIdempotency(r2)) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, r.Key)
		same(t, "GetIdempotency", got, r)
		if err != nil {
			return err
		}
		got, err = tx.GetIdempotency(m2.ID, r.Key)
		same(t, "GetIdempotency (same key, other merchant)", got, r2)
		if err != nil {
			return err
		}
		_, err = tx.GetIdempotency(m.ID, "order-unknown")
		wantErr(t, "GetIdempotency(unknown)", err, store.ErrNotFound)
		_, err = tx.GetIdempotency(id.New("mer"), r.Key)
		wantErr(t, "GetIdempotency (another merchant)", err, store.ErrNotFound)
		return nil
	})
	dup := *r
	dup.RequestHash = randBytes(32)
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertIdempotency(&dup) })
	wantErr(t, "InsertIdempotency (key in use)", err, store.ErrConflict)

	r.State, r.StatusCode, r.Response, r.LockedUntil = store.IdemDone, 201, []byte(`{"id":"tok_x"}`), t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateIdempotency(r) })
	missing := *r
	missing.Key = "order-unknown"
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateIdempotency(&missing) })
	wantErr(t, "UpdateIdempotency(unknown)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, r.Key)
		same(t, "idempotency record after UpdateIdempotency", got, r)
		if err != nil {
			return err
		}
		got, err = tx.GetIdempotency(m2.ID, r.Key)
		same(t, "other merchant's record after UpdateIdempotency", got, r2)
		return err
	})

	write(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency(m.ID, r.Key) })
	write(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency(m.ID, r.Key) }) // deleting nothing is fine
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetIdempotency(m.ID, r.Key)
		wantErr(t, "GetIdempotency (deleted)", err, store.ErrNotFound)
		got, err := tx.GetIdempotency(m2.ID, r.Key)
		same(t, "other merchant's record after DeleteIdempotency", got, r2)
		return err
	})

	var old []*store.Idempotency
	for i := range 3 {
		old = append(old, &store.Idempotency{MerchantID: m.ID, Key: fmt.Sprintf("old-%d", i), RequestHash: randBytes(32),
			State: store.IdemDone, StatusCode: 200, Response: []byte("{}"), Created: t0.Add(-48 * time.Hour), LockedUntil: t0})
	}
	write(t, s, func(tx store.Tx) error {
		for _, o := range old {
			if err := tx.InsertIdempotency(o); err != nil {
				return err
			}
		}
		return nil
	})
	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.DeleteIdempotencyBefore(t0.Add(-24 * time.Hour)); return })
	if n != len(old) {
		t.Errorf("DeleteIdempotencyBefore = %d, want %d", n, len(old))
	}
	read(t, s, func(tx store.Tx) error {
		for _, o := range old {
			_, err := tx.GetIdempotency(m.ID, o.Key)
			wantErr(t, "GetIdempotency (expired)", err, store.ErrNotFound)
		}
		_, err := tx.GetIdempotency(m2.ID, r2.Key)
		return err
	})
}

// What recovery from a crash mid-request keeps: a claim's owner instance,
// the instances' heartbeats, the end of every lease left started, and the
// key of a payment's capture or cancel.
func testCrashRecovery(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	t0 := now()
	held := &store.Idempotency{MerchantID: m.ID, Key: "held", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: t0.Add(time.Minute), Owner: "ins_a"}
	released := &store.Idempotency{MerchantID: m.ID, Key: "released", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: time.Time{}}
	done := &store.Idempotency{MerchantID: m.ID, Key: "done", RequestHash: randBytes(32), State: store.IdemDone,
		StatusCode: 201, Response: []byte("{}"), Created: t0, LockedUntil: t0.Add(time.Minute)}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertIdempotency(held), tx.InsertIdempotency(released), tx.InsertIdempotency(done))
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, "held")
		same(t, "GetIdempotency (owner kept)", got, held)
		return err
	})
	held.Owner = "ins_b"
	write(t, s, func(tx store.Tx) error { return tx.UpdateIdempotency(held) })
	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.EndIdempotencyLeases(); return })
	if n != 1 {
		t.Errorf("EndIdempotencyLeases = %d, want 1 (only the held key)", n)
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, "held")
		if err != nil {
			return err
		}
		if got.Owner != "ins_b" || got.LockedUntil.After(t0) {
			t.Errorf("held key after EndIdempotencyLeases: owner %q, locked until %v", got.Owner, got.LockedUntil)
		}
		got, err = tx.GetIdempotency(m.ID, "done")
		same(t, "a finished key is left alone", got, done)
		return err
	})

	a := &store.Instance{ID: "ins_a", Started: t0, Beat: t0}
	old := &store.Instance{ID: "ins_old", Started: t0.Add(-48 * time.Hour), Beat: t0.Add(-47 * time.Hour)}
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.BeatInstance(a), tx.BeatInstance(old)) })
	a2 := &store.Instance{ID: "ins_a", Started: t0.Add(time.Hour), Beat: t0.Add(3 * time.Second)}
	write(t, s, func(tx store.Tx) error { return tx.BeatInstance(a2) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetInstance("ins_a")
		same(t, "GetInstance after a second beat (start kept)", got, &store.Instance{ID: "ins_a", Started: t0, Beat: a2.Beat})
		_, err2 := tx.GetInstance("ins_unknown")
		wantErr(t, "GetInstance(unknown)", err2, store.ErrNotFound)
		return err
	})
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.DeleteInstancesBefore(t0.Add(-24 * time.Hour)); return })
	if n != 1 {
		t.Errorf("DeleteInstancesBefore = %d, want 1", n)
	}
	write(t, s, func(tx store.Tx) error { return tx.DeleteInstance("ins_a") })
	read(t, s, func(tx store.Tx) error {
		for _, id := range []string{"ins_a", "ins_old"} {
			_, err := tx.GetInstance(id)
			wantErr(t, "GetInstance (deleted)", err, store.ErrNotFound)
		}
		return nil
	})

	p := newPayment(m.ID, t0)
	p.OpKey = "op-1"
	write(t, s, func(tx store.Tx) error { return tx.InsertPayment(p) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, p.ID)
		same(t, "GetPayment (op key)", got, p)
		return err
	})
	p.OpKey, p.PendingOp, p.PendingUntil = "op-2", "capture", t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(p) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, p.ID)
		same(t, "GetPayment after UpdatePayment (op key)", got, p)
		return err
	})
}
