package storetest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func newWebhookEndpoint(merchantID string, created time.Time) *store.WebhookEndpoint {
	return &store.WebhookEndpoint{ID: id.New("we"), MerchantID: merchantID, URL: "https://shop.example/webhooks?src=coffer",
		Events: []string{"payment.succeeded", "payment.failed"}, SecretCT: randBytes(72), PreviousCT: randBytes(72),
		// Microseconds apart from every other time, so a swapped column shows.
		PreviousUntil: created.Add(24*time.Hour + time.Microsecond), Description: "Orders service",
		Created: created, Updated: created.Add(2 * time.Microsecond)}
}

func webhookEndpointID(e *store.WebhookEndpoint) string { return e.ID }

// storedEndpoint is e as a store reads it back: Events never nil.
func storedEndpoint(e *store.WebhookEndpoint) *store.WebhookEndpoint {
	c := *e
	if c.Events == nil {
		c.Events = []string{}
	}
	return &c
}

func testWebhookEndpoints(t *testing.T, open Opener) {
	fx := writeEndpoints(t, open)
	checkEndpoints(t, fx.s, "after insert", fx.full, fx.bare, fx.elsewhere)
	testEndpointRefusedInserts(t, fx)
	testEndpointUpdates(t, fx)
	testEndpointList(t, fx)
}

// endpointsFixture is one endpoint with every field set, one with every
// optional field zero, and another merchant's; the scenarios edit them in
// place and go on from there.
type endpointsFixture struct {
	s                     store.Store
	m, m2                 *store.Merchant
	t0                    time.Time
	full, bare, elsewhere *store.WebhookEndpoint
}

func writeEndpoints(t *testing.T, open Opener) endpointsFixture {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	full := newWebhookEndpoint(m.ID, t0.Add(-time.Hour))
	// Every field that may be zero is: no previous secret (never rotated),
	// no description; and no events, read back as an empty list.
	bare := &store.WebhookEndpoint{ID: id.New("we"), MerchantID: m.ID, URL: "https://shop.example/hook",
		SecretCT: randBytes(72), Created: t0.Add(-30 * time.Minute), Updated: t0.Add(-30 * time.Minute)}
	elsewhere := newWebhookEndpoint(m2.ID, t0.Add(-2*time.Hour))
	elsewhere.Events = []string{"*"}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertWebhookEndpoint(full), tx.InsertWebhookEndpoint(bare), tx.InsertWebhookEndpoint(elsewhere))
	})
	return endpointsFixture{s: s, m: m, m2: m2, t0: t0, full: full, bare: bare, elsewhere: elsewhere}
}

// checkEndpoints reads each of want back and compares it field by field,
// telling nil from empty where the store must keep the difference.
func checkEndpoints(t *testing.T, s store.Store, what string, want ...*store.WebhookEndpoint) {
	t.Helper()
	read(t, s, func(tx store.Tx) error {
		for _, w := range want {
			got, err := tx.GetWebhookEndpoint(w.MerchantID, w.ID)
			if err != nil {
				return fmt.Errorf("%s: GetWebhookEndpoint(%s): %w", what, w.ID, err)
			}
			same(t, what+": GetWebhookEndpoint", got, storedEndpoint(w))
			if (got.PreviousCT == nil) != (w.PreviousCT == nil) || (got.Deleted == nil) != (w.Deleted == nil) ||
				got.PreviousUntil.IsZero() != w.PreviousUntil.IsZero() || got.Events == nil {
				t.Errorf("%s: GetWebhookEndpoint(%s): PreviousCT nil %v, Deleted nil %v, PreviousUntil zero %v, Events nil %v; want %v, %v, %v, false",
					what, w.ID, got.PreviousCT == nil, got.Deleted == nil, got.PreviousUntil.IsZero(), got.Events == nil,
					w.PreviousCT == nil, w.Deleted == nil, w.PreviousUntil.IsZero())
			}
		}
		return nil
	})
}

func testEndpointRefusedInserts(t *testing.T, fx endpointsFixture) {
	s, m, m2, t0, full, elsewhere := fx.s, fx.m, fx.m2, fx.t0, fx.full, fx.elsewhere
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetWebhookEndpoint(m2.ID, full.ID)
		wantErr(t, "GetWebhookEndpoint (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetWebhookEndpoint(m.ID, elsewhere.ID)
		wantErr(t, "GetWebhookEndpoint (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetWebhookEndpoint(m.ID, id.New("we"))
		wantErr(t, "GetWebhookEndpoint(unknown)", err, store.ErrNotFound)
		return nil
	})
	for _, merchantID := range []string{m.ID, m2.ID} {
		dup := newWebhookEndpoint(merchantID, t0)
		dup.ID = full.ID
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertWebhookEndpoint(dup) })
		wantErr(t, "InsertWebhookEndpoint with an existing id", err, store.ErrConflict)
	}
	checkEndpoints(t, s, "after refused inserts", full)
}

func testEndpointUpdates(t *testing.T, fx endpointsFixture) {
	s, m, m2, t0, full, bare, elsewhere := fx.s, fx.m, fx.m2, fx.t0, fx.full, fx.bare, fx.elsewhere
	// UpdateWebhookEndpoint writes each mutable field, one at a time, to a
	// new value and back to its zero value; the others stay as they were.
	oldSecret := full.SecretCT
	for _, c := range []struct {
		what string
		edit func(*store.WebhookEndpoint)
	}{
		{"url", func(e *store.WebhookEndpoint) { e.URL = "https://shop.example/v2/webhooks" }},
		{"events", func(e *store.WebhookEndpoint) { e.Events = []string{"*"} }},
		{"secret", func(e *store.WebhookEndpoint) { e.SecretCT = randBytes(72) }},
		{"previous secret", func(e *store.WebhookEndpoint) { e.PreviousCT = oldSecret }},
		{"previous until", func(e *store.WebhookEndpoint) { e.PreviousUntil = t0.Add(48*time.Hour + 3*time.Microsecond) }},
		{"description", func(e *store.WebhookEndpoint) { e.Description = "Orders service (v2)" }},
		{"updated", func(e *store.WebhookEndpoint) { e.Updated = t0.Add(5 * time.Microsecond) }},
		{"events (none)", func(e *store.WebhookEndpoint) { e.Events = nil }},
		{"previous secret (none)", func(e *store.WebhookEndpoint) { e.PreviousCT = nil }},
		{"previous until (none)", func(e *store.WebhookEndpoint) { e.PreviousUntil = time.Time{} }},
		{"description (none)", func(e *store.WebhookEndpoint) { e.Description = "" }},
	} {
		c.edit(full)
		write(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(full) })
		checkEndpoints(t, s, "UpdateWebhookEndpoint ("+c.what+")", full, bare, elsewhere)
	}
	// A rotation from never rotated, all at once.
	bare.PreviousCT, bare.SecretCT = bare.SecretCT, randBytes(72)
	bare.PreviousUntil, bare.Updated = t0.Add(24*time.Hour), t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(bare) })
	checkEndpoints(t, s, "UpdateWebhookEndpoint (rotation)", full, bare, elsewhere)

	foreign := *full
	foreign.MerchantID, foreign.URL = m2.ID, "https://evil.example/"
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(&foreign) })
	wantErr(t, "UpdateWebhookEndpoint (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(newWebhookEndpoint(m.ID, t0)) })
	wantErr(t, "UpdateWebhookEndpoint(unknown)", err, store.ErrNotFound)
	checkEndpoints(t, s, "after refused updates", full, bare, elsewhere)
}

// testEndpointList: live endpoints only, oldest first, then by id (byte
// order); a deleted one can still be read.
func testEndpointList(t *testing.T, fx endpointsFixture) {
	s, m, m2, t0, full, bare, elsewhere := fx.s, fx.m, fx.m2, fx.t0, fx.full, fx.bare, fx.elsewhere
	suffix := hex.EncodeToString(randBytes(8))
	tie1, tie2 := newWebhookEndpoint(m.ID, t0.Add(-45*time.Minute)), newWebhookEndpoint(m.ID, t0.Add(-45*time.Minute))
	tie1.ID, tie2.ID = "we_B"+suffix, "we_a"+suffix
	newest := newWebhookEndpoint(m.ID, t0.Add(-time.Minute))
	newest.PreviousCT, newest.PreviousUntil = nil, time.Time{}
	gone := t0.Add(-10 * time.Minute)
	deleted := newWebhookEndpoint(m.ID, t0.Add(-50*time.Minute))
	deleted.Deleted = &gone
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertWebhookEndpoint(newest), tx.InsertWebhookEndpoint(tie2), tx.InsertWebhookEndpoint(deleted),
			tx.InsertWebhookEndpoint(tie1))
	})
	listed := func(what, merchantID string, want ...*store.WebhookEndpoint) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.ListWebhookEndpoints(merchantID)
			same(t, what+" (ids)", ids(got, webhookEndpointID), ids(want, webhookEndpointID))
			if err == nil && len(got) == len(want) {
				for i := range got {
					same(t, what+" (record)", got[i], storedEndpoint(want[i]))
				}
			}
			return err
		})
	}
	listed("ListWebhookEndpoints", m.ID, full, tie1, tie2, bare, newest)
	listed("ListWebhookEndpoints (other merchant)", m2.ID, elsewhere)
	listed("ListWebhookEndpoints (unknown merchant)", id.New("mer"))
	checkEndpoints(t, s, "deleted endpoint", deleted)

	// Deleting is an update that sets Deleted: the endpoint leaves the list
	// but can still be read (a delivery under way may name it).
	at := t0.Add(-time.Second)
	tie1.Deleted, tie1.Updated = &at, at
	write(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(tie1) })
	listed("ListWebhookEndpoints (after a delete)", m.ID, full, tie2, bare, newest)
	checkEndpoints(t, s, "after a delete", tie1, tie2, full)
}

// newDelivery is a delivery with every field set to something other than
// its zero value, all its times apart, so a round trip shows any column
// lost or swapped.
func newDelivery(merchantID, eventID, status string, next, locked time.Time) *store.Delivery {
	created := next.Add(-time.Hour)
	return &store.Delivery{ID: id.New("dlv"), MerchantID: merchantID, EventID: eventID, EndpointID: id.New("we"),
		URL: "https://shop.example/webhooks", Format: "sensepass", Status: status, Attempts: 2, NextAttempt: next, LockedUntil: locked,
		LastStatus: 503, Created: created, Updated: created.Add(3 * time.Microsecond)}
}

func deliveryID(d *store.Delivery) string { return d.ID }

func testDeliveries(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	ev, ev2, evElsewhere := addEvent(t, s, m.ID), addEvent(t, s, m.ID), addEvent(t, s, m2.ID)
	t0 := now()
	endpoint := newWebhookEndpoint(m.ID, t0)
	write(t, s, func(tx store.Tx) error { return tx.InsertWebhookEndpoint(endpoint) })

	full := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(time.Minute), t0.Add(90*time.Second))
	full.EndpointID = endpoint.ID
	// A session's callback: no endpoint; nothing tried yet, no lease.
	callback := &store.Delivery{ID: id.New("dlv"), MerchantID: m.ID, EventID: ev.ID, URL: "https://shop.example/callback",
		Status: store.DeliveryPending, NextAttempt: t0, Created: t0.Add(-time.Minute), Updated: t0.Add(-time.Minute)}
	elsewhere := newDelivery(m2.ID, evElsewhere.ID, store.DeliverySucceeded, t0.Add(-time.Minute), t0)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDelivery(full), tx.InsertDelivery(callback), tx.InsertDelivery(elsewhere))
	})

	check := func(what string, want ...*store.Delivery) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			for _, w := range want {
				got, err := tx.GetDelivery(w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetDelivery(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetDelivery", got, w)
			}
			return nil
		})
	}
	check("after insert", full, callback, elsewhere)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetDelivery(id.New("dlv"))
		wantErr(t, "GetDelivery(unknown)", err, store.ErrNotFound)
		return nil
	})
	for _, merchantID := range []string{m.ID, m2.ID} {
		eventID := ev.ID
		if merchantID == m2.ID {
			eventID = evElsewhere.ID
		}
		dup := newDelivery(merchantID, eventID, store.DeliveryPending, t0, t0)
		dup.ID = full.ID
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertDelivery(dup) })
		wantErr(t, "InsertDelivery with an existing id", err, store.ErrConflict)
	}
	check("after refused inserts", full)

	// UpdateDelivery writes each mutable field, one at a time, to a new
	// value and back to its zero value; the others stay as they were.
	for _, c := range []struct {
		what string
		edit func(*store.Delivery)
	}{
		{"status", func(d *store.Delivery) { d.Status = store.DeliverySucceeded }},
		{"attempts", func(d *store.Delivery) { d.Attempts = 7 }},
		{"next attempt", func(d *store.Delivery) { d.NextAttempt = t0.Add(time.Hour + 5*time.Microsecond) }},
		{"locked until", func(d *store.Delivery) { d.LockedUntil = t0.Add(30*time.Second + 7*time.Microsecond) }},
		{"last status", func(d *store.Delivery) { d.LastStatus = 200 }},
		{"updated", func(d *store.Delivery) { d.Updated = t0.Add(9 * time.Microsecond) }},
		{"status (failed)", func(d *store.Delivery) { d.Status = store.DeliveryFailed }},
		{"attempts (none)", func(d *store.Delivery) { d.Attempts = 0 }},
		{"next attempt (none)", func(d *store.Delivery) { d.NextAttempt = time.Time{} }},
		{"locked until (none)", func(d *store.Delivery) { d.LockedUntil = time.Time{} }},
		{"last status (none)", func(d *store.Delivery) { d.LastStatus = 0 }},
	} {
		c.edit(full)
		write(t, s, func(tx store.Tx) error { return tx.UpdateDelivery(full) })
		check("UpdateDelivery ("+c.what+")", full, callback, elsewhere)
	}
	err := s.Write(t.Context(), func(tx store.Tx) error {
		return tx.UpdateDelivery(newDelivery(m.ID, ev.ID, store.DeliveryFailed, t0, t0))
	})
	wantErr(t, "UpdateDelivery(unknown)", err, store.ErrNotFound)
	check("after a refused update", full, callback, elsewhere)

	// ListDeliveries: an event's deliveries, oldest first, then by id (byte
	// order); inserted out of order so only the query can sort them.
	suffix := hex.EncodeToString(randBytes(8))
	tie1 := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-30*time.Minute), t0)
	tie2 := newDelivery(m.ID, ev.ID, store.DeliveryFailed, t0.Add(-30*time.Minute), t0)
	tie1.ID, tie2.ID = "dlv_B"+suffix, "dlv_a"+suffix
	oldest := newDelivery(m.ID, ev.ID, store.DeliverySucceeded, t0.Add(-2*time.Hour), t0)
	other := newDelivery(m.ID, ev2.ID, store.DeliveryPending, t0.Add(-3*time.Hour), t0)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDelivery(tie2), tx.InsertDelivery(other), tx.InsertDelivery(tie1), tx.InsertDelivery(oldest))
	})
	listed := func(what, merchantID, eventID string, want ...*store.Delivery) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.ListDeliveries(merchantID, eventID)
			same(t, what+" (ids)", ids(got, deliveryID), ids(want, deliveryID))
			same(t, what, got, want)
			return err
		})
	}
	// Created: oldest 3h ago, the ties 90 minutes ago, full 59 minutes ago,
	// callback a minute ago.
	listed("ListDeliveries", m.ID, ev.ID, oldest, tie1, tie2, full, callback)
	listed("ListDeliveries (other event)", m.ID, ev2.ID, other)
	listed("ListDeliveries (other merchant)", m2.ID, evElsewhere.ID, elsewhere)
	listed("ListDeliveries (another merchant's event)", m2.ID, ev.ID)
	listed("ListDeliveries (another merchant's event)", m.ID, evElsewhere.ID)
	listed("ListDeliveries (unknown event)", m.ID, id.New("evt"))
}

// The dispatcher finds, across merchants, deliveries pending, due and not
// leased, oldest next attempt first (then by id).
func testDueDeliveries(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	ev, ev2 := addEvent(t, s, m.ID), addEvent(t, s, m2.ID)
	t0 := now()
	var never time.Time
	var (
		neverLeased   = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-3*time.Minute), never)
		leaseLapsed   = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-2*time.Minute), t0.Add(-time.Minute))
		otherMerchant = newDelivery(m2.ID, ev2.ID, store.DeliveryPending, t0.Add(-90*time.Second), never)
		// Two at the same time, ids in byte order (upper case first,
		// whatever the database's locale): the id breaks the tie.
		tie1 = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-time.Minute), never)
		tie2 = newDelivery(m2.ID, ev2.ID, store.DeliveryPending, t0.Add(-time.Minute), t0.Add(-time.Hour))
		// Due and lease ending exactly now: due.
		atNow = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0, t0)

		notYet    = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(time.Minute), never)
		leased    = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-5*time.Minute), t0.Add(30*time.Second))
		succeeded = newDelivery(m.ID, ev.ID, store.DeliverySucceeded, t0.Add(-4*time.Minute), never)
		failed    = newDelivery(m2.ID, ev2.ID, store.DeliveryFailed, t0.Add(-6*time.Minute), never)
	)
	suffix := hex.EncodeToString(randBytes(8))
	tie1.ID, tie2.ID = "dlv_B"+suffix, "dlv_a"+suffix
	// Inserted out of order, so only the query's ORDER BY can sort them.
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, d := range []*store.Delivery{succeeded, tie2, notYet, leaseLapsed, failed, otherMerchant, atNow,
			leased, tie1, neverLeased} {
			errs = append(errs, tx.InsertDelivery(d))
		}
		return errors.Join(errs...)
	})

	due := func(what string, at time.Time, limit int, want ...*store.Delivery) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.DueDeliveries(at, limit)
			same(t, what+" (ids)", ids(got, deliveryID), ids(want, deliveryID))
			same(t, what, got, want)
			return err
		})
	}
	due("DueDeliveries", t0, 10, neverLeased, leaseLapsed, otherMerchant, tie1, tie2, atNow)
	due("DueDeliveries (limit)", t0, 2, neverLeased, leaseLapsed)
	due("DueDeliveries (limit within a tie)", t0, 4, neverLeased, leaseLapsed, otherMerchant, tie1)
	// Two minutes earlier leaseLapsed is due but still leased.
	due("DueDeliveries (earlier)", t0.Add(-2*time.Minute), 10, neverLeased)
	due("DueDeliveries (later)", t0.Add(time.Minute), 10,
		leased, neverLeased, leaseLapsed, otherMerchant, tie1, tie2, atNow, notYet)
	due("DueDeliveries (nothing due yet)", t0.Add(-10*time.Minute), 10)

	// A dispatcher leases what it takes; what it finishes is no longer due;
	// a retry is due again when its next attempt comes.
	neverLeased.LockedUntil, neverLeased.Updated = t0.Add(time.Minute), t0
	leaseLapsed.Status, leaseLapsed.Attempts, leaseLapsed.LastStatus, leaseLapsed.Updated = store.DeliverySucceeded, 3, 204, t0
	otherMerchant.Status, otherMerchant.Updated = store.DeliveryFailed, t0
	tie1.NextAttempt, tie1.Updated = t0.Add(-4*time.Minute), t0
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.UpdateDelivery(neverLeased), tx.UpdateDelivery(leaseLapsed), tx.UpdateDelivery(otherMerchant),
			tx.UpdateDelivery(tie1))
	})
	due("DueDeliveries (after updates)", t0, 10, tie1, tie2, atNow)
	// A failed delivery sent again (by hand) is pending again.
	failed.Status, failed.NextAttempt, failed.Updated = store.DeliveryPending, t0.Add(-30*time.Second), t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateDelivery(failed) })
	due("DueDeliveries (resent)", t0, 10, tie1, tie2, failed, atNow)
}

// DueDeliveries marks a delivery Held while another pending delivery to
// the same target (endpoint; for a callback, URL and format) carries an
// earlier event about the same object — HeldUntil being that one's retry
// time when it waits for one — so that one object's deliveries go in event
// order. Other objects, other targets and other merchants are independent,
// and the mark goes once the earlier delivery is no longer pending.
func testDueDeliveriesInObjectOrder(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	event := func(merchantID, objectID string) *store.Event {
		e := &store.Event{ID: id.New("evt"), MerchantID: merchantID, Type: "session.updated", ObjectType: "session",
			ObjectID: objectID, Data: []byte(`{}`), Created: now()}
		write(t, s, func(tx store.Tx) error { return tx.InsertEvent(e) })
		return e
	}
	obj, other := id.New("ps"), id.New("ps")
	e1, e2, e3 := event(m.ID, obj), event(m.ID, obj), event(m.ID, obj) // seq order
	eOther := event(m.ID, other)
	eElsewhere := event(m2.ID, obj) // the same object id under another merchant
	t0 := now()
	var never time.Time
	at := func(ev *store.Event, endpointID, url, format string, next, locked time.Time) *store.Delivery {
		d := newDelivery(ev.MerchantID, ev.ID, store.DeliveryPending, next, locked)
		d.EndpointID, d.URL, d.Format = endpointID, url, format
		return d
	}
	epA, epB := id.New("we"), id.New("we")
	const cb, cb2 = "https://shop.example/callback", "https://shop.example/other"
	retry := t0.Add(time.Minute)
	var (
		// Endpoint A: e1 waits for its retry, so e2 and e3 are held until then.
		we1 = at(e1, epA, "https://shop.example/webhooks", "", retry, never)
		we2 = at(e2, epA, "https://shop.example/webhooks", "", t0.Add(-2*time.Minute), never)
		// The endpoint's URL changed between events: still the same target.
		we3 = at(e3, epA, "https://shop.example/new", "", t0.Add(-3*time.Minute), never)
		// Endpoint B has e2 only: nothing of it comes earlier.
		weOther = at(e2, epB, "https://shop.example/webhooks", "", t0.Add(-time.Minute), never)
		// The session's callback: e1 under way (leased), so e2's is held
		// with no retry time; e2's callback in another format or to
		// another URL is another target.
		cb1  = at(e1, "", cb, "sensepass", t0.Add(-5*time.Minute), t0.Add(time.Minute))
		cb2a = at(e2, "", cb, "sensepass", t0.Add(-4*time.Minute), never)
		cb2b = at(e2, "", cb, "sensepass_get", t0.Add(-4*time.Minute), never)
		cb2c = at(e2, "", cb2, "sensepass", t0.Add(-4*time.Minute), never)
		// Another object, another merchant: independent of e1's.
		cbObj       = at(eOther, "", cb, "sensepass", t0.Add(-30*time.Second), never)
		cbElsewhere = at(eElsewhere, "", cb, "sensepass", t0.Add(-20*time.Second), never)
	)
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, d := range []*store.Delivery{cb2a, we3, cb1, weOther, we2, cb2b, cbObj, we1, cb2c, cbElsewhere} {
			errs = append(errs, tx.InsertDelivery(d))
		}
		return errors.Join(errs...)
	})
	// due checks which deliveries are due, and how each is held: "" free,
	// "held" with no retry time, or the retry time it is held until.
	due := func(what string, at time.Time, want map[*store.Delivery]string) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.DueDeliveries(at, 100)
			g, w := map[string]string{}, map[string]string{}
			for _, d := range got {
				switch {
				case !d.Held && d.HeldUntil.IsZero():
					g[d.ID] = ""
				case d.Held && d.HeldUntil.IsZero():
					g[d.ID] = "held"
				default:
					g[d.ID] = d.HeldUntil.UTC().Format(time.RFC3339Nano)
				}
			}
			for d, h := range want {
				w[d.ID] = h
			}
			same(t, what, g, w)
			return err
		})
	}
	until := retry.UTC().Format(time.RFC3339Nano)
	due("in object order", t0, map[*store.Delivery]string{we2: until, we3: until, cb2a: "held", cb2b: "", cb2c: "",
		weOther: "", cbObj: "", cbElsewhere: ""})
	// When e1's retry comes (and its callback's lease lapses) they are due
	// and free; what comes after them is held, with no retry time to wait
	// for.
	due("in object order (e1 due)", t0.Add(2*time.Minute), map[*store.Delivery]string{we1: "", we2: "held", we3: "held",
		cb1: "", cb2a: "held", cb2b: "", cb2c: "", weOther: "", cbObj: "", cbElsewhere: ""})

	// e1's webhook succeeds: e2's is free and e3's held by it (due now).
	// e1's callback fails for good: e2's is free.
	we1.Status, we1.Updated = store.DeliverySucceeded, t0
	cb1.Status, cb1.Updated = store.DeliveryFailed, t0
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.UpdateDelivery(we1), tx.UpdateDelivery(cb1)) })
	due("after e1", t0, map[*store.Delivery]string{we2: "", we3: "held", cb2a: "", cb2b: "", cb2c: "",
		weOther: "", cbObj: "", cbElsewhere: ""})
	// e2's webhook is skipped by its format: e3's is free.
	we2.Status, we2.Updated = store.DeliverySkipped, t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateDelivery(we2) })
	due("after e2", t0, map[*store.Delivery]string{we3: "", cb2a: "", cb2b: "", cb2c: "", weOther: "", cbObj: "", cbElsewhere: ""})
}

func testDeliveryAttempts(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	ev := addEvent(t, s, m.ID)
	t0 := now()
	d := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0, t0)
	d2 := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0, t0)
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertDelivery(d), tx.InsertDelivery(d2)) })

	// Ids run against attempt order, so only the attempt number orders them.
	suffix := hex.EncodeToString(randBytes(8))
	mk := func(deliveryID string, n int, status int, errText string) *store.DeliveryAttempt {
		return &store.DeliveryAttempt{ID: fmt.Sprintf("dla_%02d%s", 99-n, suffix) + deliveryID[len(deliveryID)-4:],
			DeliveryID: deliveryID, Attempt: n, At: t0.Add(time.Duration(n)*time.Minute + time.Duration(n)*time.Microsecond),
			StatusCode: status, LatencyMS: int64(n) * 1_000_003, Error: errText}
	}
	var (
		timeout   = mk(d.ID, 1, 0, "timeout after 10s")
		declined  = mk(d.ID, 2, 503, "status 503")
		succeeded = mk(d.ID, 3, 200, "")
		other     = mk(d2.ID, 1, 500, "status 500")
	)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDeliveryAttempt(succeeded), tx.InsertDeliveryAttempt(other), tx.InsertDeliveryAttempt(timeout),
			tx.InsertDeliveryAttempt(declined))
	})
	attempts := func(what, deliveryID string, want ...*store.DeliveryAttempt) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.ListDeliveryAttempts(deliveryID)
			same(t, what+" (ids)", ids(got, func(a *store.DeliveryAttempt) string { return a.ID }),
				ids(want, func(a *store.DeliveryAttempt) string { return a.ID }))
			same(t, what, got, want)
			return err
		})
	}
	attempts("ListDeliveryAttempts", d.ID, timeout, declined, succeeded)
	attempts("ListDeliveryAttempts (other delivery)", d2.ID, other)
	attempts("ListDeliveryAttempts (unknown delivery)", id.New("dlv"))

	dup := mk(d2.ID, 2, 200, "")
	dup.ID = timeout.ID
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertDeliveryAttempt(dup) })
	wantErr(t, "InsertDeliveryAttempt with an existing id", err, store.ErrConflict)
	attempts("ListDeliveryAttempts (after a refused insert)", d2.ID, other)
}
