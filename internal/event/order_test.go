package event

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// eventOn writes an event about one object (e.event makes a new object
// each time).
func (e *env) eventOn(objectID, typ string) *store.Event {
	e.t.Helper()
	ev := &store.Event{ID: id.NewOrdered("evt"), MerchantID: e.m.ID, Type: typ, ObjectType: "session", ObjectID: objectID,
		Created: time.Now().UTC()}
	ev.Data = fmt.Appendf(nil, `{"id": %q, "object": "session", "status": %q}`, objectID, typ)
	e.write(func(tx store.Tx) error { return tx.InsertEvent(ev) })
	return ev
}

// orderLog records, per event, when each attempt started and when the
// first successful one ended.
type orderLog struct {
	mu    sync.Mutex
	start map[string][]time.Time
	done  map[string]time.Time
}

func newOrderLog() *orderLog {
	return &orderLog{start: map[string][]time.Time{}, done: map[string]time.Time{}}
}

func (o *orderLog) begin(evID string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.start[evID] = append(o.start[evID], time.Now())
	return len(o.start[evID])
}

func (o *orderLog) end(evID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.done[evID]; !ok {
		o.done[evID] = time.Now()
	}
}

// checkOrder fails unless every event of evs (one object's, in event
// order) was first tried only after the one before it had succeeded.
func (o *orderLog) checkOrder(t *testing.T, what string, evs []*store.Event) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := 1; i < len(evs); i++ {
		prev, cur := evs[i-1].ID, evs[i].ID
		done, ok := o.done[prev]
		if !ok || len(o.start[cur]) == 0 {
			t.Errorf("%s: event %d or %d was never delivered", what, i, i+1)
			continue
		}
		if first := o.start[cur][0]; first.Before(done) {
			t.Errorf("%s: event %d was sent %v before event %d was delivered", what, i+1, done.Sub(first), i)
		}
	}
}

// A session's "processing" then "approved": the first delivery fails once
// (or is slow), and the second is not attempted until the first has been
// delivered — even though the endpoint takes two requests at once and the
// second is due all along. Another object's delivery to the same endpoint
// is not held back by it.
func TestDeliveriesOfOneObjectInOrder(t *testing.T) {
	for _, mode := range []string{"first fails once", "first is slow"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			log := newOrderLog()
			obj := id.New("ps")
			var first string
			rc := newReceiver(t)
			rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
				evID := r.Header.Get("webhook-id")
				try := log.begin(evID)
				if evID == first && try == 1 {
					if mode == "first fails once" {
						http.Error(w, "not yet", http.StatusServiceUnavailable)
						return
					}
					time.Sleep(300 * time.Millisecond)
				}
				log.end(evID)
			}
			ep, _ := e.endpoint(rc.srv.URL)
			evs := []*store.Event{e.eventOn(obj, "session.requires_action"), e.eventOn(obj, "session.succeeded")}
			first = evs[0].ID
			var dls []*store.Delivery
			for _, ev := range evs {
				dls = append(dls, e.deliver(ev, ep, ""))
			}
			// A callback of the same two events to a URL of its own is
			// ordered on its own.
			cbLog := newOrderLog()
			cb := newReceiver(t)
			cb.respond = func(n int, w http.ResponseWriter, r *http.Request) {
				evID := r.Header.Get("webhook-id")
				if cbLog.begin(evID) == 1 && evID == first {
					http.Error(w, "not yet", http.StatusBadGateway)
					return
				}
				cbLog.end(evID)
			}
			for _, ev := range evs {
				dls = append(dls, e.deliver(ev, nil, cb.srv.URL+"/cb"))
			}
			// Another session's event, to the same endpoint, meanwhile.
			otherEv := e.eventOn(id.New("ps"), "session.succeeded")
			other := e.deliver(otherEv, ep, "")

			c := e.config()
			c.RetryBase, c.MaxRetryDelay = 200*time.Millisecond, 200*time.Millisecond
			stop := e.run(New(c))
			for _, dl := range dls {
				e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
			}
			e.waitStatus(other.ID, store.DeliverySucceeded, 10*time.Second)
			stop()

			log.checkOrder(t, "webhook endpoint", evs)
			cbLog.checkOrder(t, "callback URL", evs)
			log.mu.Lock()
			otherAt, firstDone := log.start[otherEv.ID], log.done[first]
			log.mu.Unlock()
			if len(otherAt) == 0 || !otherAt[0].Before(firstDone) {
				t.Errorf("another object's delivery waited for this object's first event")
			}
		})
	}
}

// A dead endpoint holds back the later deliveries of the objects whose
// earlier delivery it refuses, not those of other objects: the trade-off
// of ordering, bounded by the retry window.
func TestStuckDeliveryHoldsOnlyItsObject(t *testing.T) {
	e := newEnv(t)
	stuckObj := id.New("ps")
	var mu sync.Mutex
	got := map[string]int{}
	stuck := e.eventOn(stuckObj, "session.requires_action")
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		if r.Header.Get("webhook-id") == stuck.ID {
			http.Error(w, "down for this one", http.StatusInternalServerError)
		}
	}
	ep, _ := e.endpoint(rc.srv.URL)
	e.deliver(stuck, ep, "")
	later := e.deliver(e.eventOn(stuckObj, "session.succeeded"), ep, "")
	var others []*store.Delivery
	for range 5 {
		others = append(others, e.deliver(e.eventOn(id.New("ps"), "session.succeeded"), ep, ""))
	}
	stop := e.run(New(e.config()))
	for _, dl := range others {
		e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
	}
	waitFor(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return got[stuck.ID] >= 3 },
		func() string { return "the stuck delivery was not retried" })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if n := got[later.EventID]; n != 0 {
		t.Errorf("the stuck object's later event was sent %d times while its earlier one was still pending", n)
	}
	if dl := e.delivery(later.ID); dl.Status != store.DeliveryPending || dl.Attempts != 0 {
		t.Errorf("the held delivery: %+v", dl)
	}
}

// Two dispatchers on one database (two server instances): every object's
// deliveries still arrive in event order, each exactly once, while the
// endpoint fails some first attempts.
func TestTwoDispatchersKeepObjectOrder(t *testing.T) {
	e := newEnv(t)
	log := newOrderLog()
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		evID := r.Header.Get("webhook-id")
		if log.begin(evID) == 1 && n%3 == 0 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(time.Duration(n%4) * time.Millisecond)
		mu.Lock()
		seen[evID]++
		mu.Unlock()
		log.end(evID)
	}
	ep, _ := e.endpoint(rc.srv.URL)
	const objects, perObject = 6, 5
	var all [][]*store.Event
	var dls []*store.Delivery
	for range objects {
		obj := id.New("ps")
		var evs []*store.Event
		for i := range perObject {
			ev := e.eventOn(obj, fmt.Sprintf("session.step%d", i))
			evs = append(evs, ev)
			dls = append(dls, e.deliver(ev, ep, ""))
		}
		all = append(all, evs)
	}
	c1, c2 := e.config(), e.config()
	c2.Store = e.open()
	c1.Poll, c2.Poll = time.Millisecond, time.Millisecond
	c1.PerURL, c2.PerURL = 4, 4
	e.run(New(c1))
	e.run(New(c2))
	for _, dl := range dls {
		e.waitStatus(dl.ID, store.DeliverySucceeded, 30*time.Second)
	}
	for i, evs := range all {
		log.checkOrder(t, fmt.Sprintf("object %d", i), evs)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, dl := range dls {
		if seen[dl.EventID] != 1 {
			t.Errorf("event %s delivered %d times", dl.EventID, seen[dl.EventID])
		}
	}
}

// A held delivery whose predecessor waits for a retry is leased aside until
// that retry — it cannot go sooner — so it is not read and judged again at
// every poll, nor does it take room in the pages meanwhile.
func TestHeldDeliveryWaitsForTheRetry(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }
	ep, _ := e.endpoint(rc.srv.URL)
	obj := id.New("ps")
	first := e.deliver(e.eventOn(obj, "session.requires_action"), ep, "")
	second := e.deliver(e.eventOn(obj, "session.succeeded"), ep, "")
	c := e.config()
	c.RetryBase, c.MaxRetryDelay = time.Minute, time.Minute
	d := New(c)
	stop := e.run(d)
	var f, s *store.Delivery
	waitFor(t, 10*time.Second, func() bool {
		f, s = e.delivery(first.ID), e.delivery(second.ID)
		return f.Attempts == 1 && s.LockedUntil.Equal(f.NextAttempt)
	}, func() string {
		return fmt.Sprintf("first %+v, second %+v: want the second leased until the first's retry", f, s)
	})
	stop()
	if s.Attempts != 0 || rc.count() != 1 || d.Stats().Held == 0 {
		t.Errorf("second %+v, %d requests, stats %+v", s, rc.count(), d.Stats())
	}
	e.read(func(tx store.Tx) error {
		due, err := tx.DueDeliveries(time.Now(), 10)
		if len(due) != 0 {
			t.Errorf("%d deliveries still due while the first waits for its retry", len(due))
		}
		return err
	})
}
