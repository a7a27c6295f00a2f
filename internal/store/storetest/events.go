package storetest

import (
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

func eventID(e *store.Event) string { return e.ID }

func testEvents(t *testing.T, open Opener) {
	fx := writeEvents(t, open)
	testGetEvent(t, fx)
	testListEventPages(t, fx)
	testListEventsCursor(t, fx)
	testEventsAfter(t, fx)
}

// eventsFixture is two merchants' events on the same objects, written so
// that neither ids nor creation times follow insertion order.
type eventsFixture struct {
	s            store.Store
	m, m2        *store.Merchant
	objA, objC   string
	mine, theirs []*store.Event // by insertion (seq) order
}

func writeEvents(t *testing.T, open Opener) eventsFixture {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	objA, objB, objC := id.New("pay"), id.New("pay"), id.New("tok")
	suffix := hex.EncodeToString(randBytes(8))
	type spec struct{ merchant, typ, object string }
	specs := []spec{
		{m.ID, "payment.processing", objA},
		{m.ID, "payment.processing", objB},
		{m2.ID, "payment.processing", objA}, // another merchant's, same object id
		{m.ID, "payment.succeeded", objA},
		{m.ID, "token.created", objC},
		{m.ID, "payment.failed", objB},
		{m2.ID, "payment.succeeded", objA},
		{m.ID, "payment.refunded", objA},
		{m.ID, "payment.processing", objC},
		{m.ID, "payment.succeeded", objB},
		{m.ID, "token.created", objA},
	}
	// Ids and creation times both run against insertion (seq) order, so
	// only seq can order the lists.
	var mine, theirs []*store.Event
	write(t, s, func(tx store.Tx) error {
		mine, theirs = nil, nil
		for i, sp := range specs {
			e := &store.Event{ID: fmt.Sprintf("evt_%02d%s", 99-i, suffix), MerchantID: sp.merchant, Type: sp.typ,
				ObjectType: "payment", ObjectID: sp.object, Data: []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, sp.object, i)),
				Created: t0.Add(-time.Duration(i) * time.Second)}
			if err := tx.InsertEvent(e); err != nil {
				return err
			}
			if sp.merchant == m.ID {
				mine = append(mine, e)
			} else {
				theirs = append(theirs, e)
			}
		}
		return nil
	})
	// Sequence numbers increase per merchant; they need not be contiguous
	// (PostgreSQL takes them from a sequence to avoid write conflicts).
	for i, e := range mine {
		if e.Seq <= 0 || i > 0 && e.Seq <= mine[i-1].Seq {
			t.Fatalf("event %d of the merchant has seq %d after %v", i, e.Seq, mine[:i])
		}
	}
	return eventsFixture{s: s, m: m, m2: m2, objA: objA, objC: objC, mine: mine, theirs: theirs}
}

func testGetEvent(t *testing.T, fx eventsFixture) {
	s, m, m2, mine, theirs := fx.s, fx.m, fx.m2, fx.mine, fx.theirs
	read(t, s, func(tx store.Tx) error {
		for _, e := range append(slices.Clone(mine), theirs...) {
			got, err := tx.GetEvent(e.MerchantID, e.ID)
			if err != nil {
				return fmt.Errorf("GetEvent(%s): %w", e.ID, err)
			}
			same(t, "GetEvent", got, e)
		}
		_, err := tx.GetEvent(m2.ID, mine[0].ID)
		wantErr(t, "GetEvent (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetEvent(m.ID, theirs[0].ID)
		wantErr(t, "GetEvent (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetEvent(m.ID, id.New("evt"))
		wantErr(t, "GetEvent(unknown)", err, store.ErrNotFound)
		return nil
	})
}

func newestFirst(evs []*store.Event, keep func(*store.Event) bool) []*store.Event {
	var out []*store.Event
	for i := len(evs) - 1; i >= 0; i-- {
		if keep(evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

func listEvents(t *testing.T, s store.Store, merchantID string, f store.EventFilter) ([]*store.Event, bool, error) {
	var page []*store.Event
	var more bool
	err := s.Read(t.Context(), func(tx store.Tx) (err error) { page, more, err = tx.ListEvents(merchantID, f); return })
	return page, more, err
}

// eventPages walks every page of the list and checks it is want, with
// has_more right on each page.
func eventPages(t *testing.T, s store.Store, what, merchantID string, f store.EventFilter, want []*store.Event) {
	t.Helper()
	var got []*store.Event
	f.StartingAfter = ""
	for n := 0; ; n++ {
		page, more, err := listEvents(t, s, merchantID, f)
		if err != nil {
			t.Fatalf("%s: ListEvents(%+v): %v", what, f, err)
		}
		if len(page) > f.Limit {
			t.Fatalf("%s: ListEvents(%+v) returned %d events", what, f, len(page))
		}
		got = append(got, page...)
		if wantMore := len(got) < len(want); more != wantMore {
			t.Errorf("%s: page %d: has_more = %v, want %v", what, n, more, wantMore)
		}
		if !more || len(page) == 0 || n > len(want) {
			break
		}
		f.StartingAfter = page[len(page)-1].ID
	}
	same(t, what+" (ids)", ids(got, eventID), ids(want, eventID))
	same(t, what, got, want)
}

func testListEventPages(t *testing.T, fx eventsFixture) {
	s, m, m2, objA, mine, theirs := fx.s, fx.m, fx.m2, fx.objA, fx.mine, fx.theirs
	pages := func(what, merchantID string, f store.EventFilter, want []*store.Event) {
		t.Helper()
		eventPages(t, s, what, merchantID, f, want)
	}
	all := func(*store.Event) bool { return true }
	for _, limit := range []int{1, 2, 3, 9, 10, 50} {
		pages(fmt.Sprintf("ListEvents, pages of %d", limit), m.ID, store.EventFilter{Limit: limit}, newestFirst(mine, all))
		pages(fmt.Sprintf("ListEvents (type), pages of %d", limit), m.ID,
			store.EventFilter{Limit: limit, Type: "payment.processing"},
			newestFirst(mine, func(e *store.Event) bool { return e.Type == "payment.processing" }))
		pages(fmt.Sprintf("ListEvents (object), pages of %d", limit), m.ID,
			store.EventFilter{Limit: limit, ObjectID: objA},
			newestFirst(mine, func(e *store.Event) bool { return e.ObjectID == objA }))
		pages(fmt.Sprintf("ListEvents (type and object), pages of %d", limit), m.ID,
			store.EventFilter{Limit: limit, Type: "token.created", ObjectID: objA},
			newestFirst(mine, func(e *store.Event) bool { return e.Type == "token.created" && e.ObjectID == objA }))
		pages(fmt.Sprintf("ListEvents (other merchant), pages of %d", limit), m2.ID, store.EventFilter{Limit: limit},
			newestFirst(theirs, all))
	}
	pages("ListEvents (no such type)", m.ID, store.EventFilter{Limit: 10, Type: "payment.captured"}, nil)
	pages("ListEvents (unknown merchant)", id.New("mer"), store.EventFilter{Limit: 10}, nil)
}

func testListEventsCursor(t *testing.T, fx eventsFixture) {
	s, m, m2, mine := fx.s, fx.m, fx.m2, fx.mine
	// The cursor need not match the filter: the page continues below its seq.
	page, more, err := listEvents(t, s, m.ID, store.EventFilter{Limit: 10, Type: "payment.processing", StartingAfter: mine[4].ID})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "ListEvents (type, after an event of another type)", ids(page, eventID), ids([]*store.Event{mine[1], mine[0]}, eventID))
	if more {
		t.Error("ListEvents (type, after an event of another type): has_more = true, want false")
	}
	_, _, err = listEvents(t, s, m.ID, store.EventFilter{Limit: 10, StartingAfter: id.New("evt")})
	wantErr(t, "ListEvents after an unknown event", err, store.ErrNotFound)
	_, _, err = listEvents(t, s, m2.ID, store.EventFilter{Limit: 10, StartingAfter: mine[3].ID})
	wantErr(t, "ListEvents after another merchant's event", err, store.ErrNotFound)
}

// testEventsAfter: one object's events above a seq, oldest first.
func testEventsAfter(t *testing.T, fx eventsFixture) {
	s, m, m2, objA, objC, mine, theirs := fx.s, fx.m, fx.m2, fx.objA, fx.objC, fx.mine, fx.theirs
	after := func(what, merchantID, objectID string, afterSeq int64, limit int, want ...*store.Event) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.EventsAfter(merchantID, objectID, afterSeq, limit)
			same(t, what+" (ids)", ids(got, eventID), ids(want, eventID))
			same(t, what, got, want)
			return err
		})
	}
	onA := []*store.Event{mine[0], mine[2], mine[5], mine[8]} // m's events about objA, by seq
	after("EventsAfter", m.ID, objA, 0, 10, onA...)
	after("EventsAfter (limit)", m.ID, objA, 0, 2, onA[:2]...)
	after("EventsAfter (after the second)", m.ID, objA, onA[1].Seq, 10, onA[2:]...)
	after("EventsAfter (between two)", m.ID, objA, onA[1].Seq+1, 10, onA[2:]...)
	after("EventsAfter (after the second, limit)", m.ID, objA, onA[1].Seq, 1, onA[2])
	after("EventsAfter (after the last)", m.ID, objA, onA[3].Seq, 10)
	after("EventsAfter (other object)", m.ID, objC, 0, 10, mine[3], mine[6])
	after("EventsAfter (other merchant)", m2.ID, objA, 0, 10, theirs...)
	after("EventsAfter (other merchant, after its first)", m2.ID, objA, theirs[0].Seq, 10, theirs[1])
	after("EventsAfter (unknown object)", m.ID, id.New("pay"), 0, 10)
}

func addEvent(t *testing.T, s store.Store, merchantID string) *store.Event {
	t.Helper()
	e := &store.Event{ID: id.New("evt"), MerchantID: merchantID, Type: "payment.succeeded", ObjectType: "payment",
		ObjectID: id.New("pay"), Data: []byte(`{}`), Created: now()}
	write(t, s, func(tx store.Tx) error { return tx.InsertEvent(e) })
	return e
}
