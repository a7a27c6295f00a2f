package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// stores runs fn on a fresh SQLite store and a fresh PostgreSQL one.
func stores(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

// clock is a settable time for keepers sharing a store.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Now().UTC().Truncate(time.Microsecond).UnixMicro())
	return c
}
func (c *clock) now() time.Time      { return time.UnixMicro(c.t.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.t.Add(d.Microseconds()) }
func keeperAt(st store.Store, c *clock) *Keeper {
	k := New(st)
	k.now = c.now
	return k
}

// patience is how long a test waits for a key another holds before it
// concludes the keeper would go on waiting.
const patience = 300 * time.Millisecond

func begin(t *testing.T, k *Keeper, key string, wait time.Duration) (*Claim, *Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	return k.Begin(ctx, "mer_1", key, []byte("request"))
}

func TestBeginFinishReplay(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		k := New(st)
		c, replay, err := begin(t, k, "k1", time.Second)
		if err != nil || c == nil || replay != nil {
			t.Fatalf("first Begin: %v %v %v", c, replay, err)
		}
		if err := c.Finish(t.Context(), Response{Status: 201, Body: []byte(`{"id":"tok_1"}`)}); err != nil {
			t.Fatal(err)
		}
		c2, replay, err := begin(t, k, "k1", time.Second)
		if err != nil || c2 != nil || replay == nil || replay.Status != 201 || string(replay.Body) != `{"id":"tok_1"}` {
			t.Fatalf("replay: %v %+v %v", c2, replay, err)
		}
		_, _, err = k.Begin(t.Context(), "mer_1", "k1", []byte("another request"))
		if !errors.Is(err, ErrMismatch) {
			t.Fatalf("another request with the key: %v", err)
		}
	})
}

// A key left started by a request that died (its process gone, nothing
// finished or released) blocks duplicates for the lease — unless a server
// that runs alone ends such leases at start; the retry then takes the key
// over at once, keeping the claim's creation time (derived ids stay).
func TestEndLeasesAtStart(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		dead, _, err := begin(t, New(st), "k1", time.Second) // never finished: its process "died"
		if err != nil || dead == nil {
			t.Fatal(err)
		}
		k := New(st) // the next run
		if _, _, err := begin(t, k, "k1", patience); !errors.Is(err, ErrInProgress) {
			t.Fatalf("before EndLeases a held key must make a duplicate wait: %v", err)
		}
		n, err := k.EndLeases(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("EndLeases = %d, %v; want 1", n, err)
		}
		start := time.Now()
		c, _, err := begin(t, k, "k1", 5*time.Second)
		if err != nil || c == nil {
			t.Fatalf("after EndLeases: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("takeover took %v", d)
		}
		if !c.Created.Equal(dead.Created) {
			t.Fatalf("takeover changed the claim's creation: %v → %v", dead.Created, c.Created)
		}
		// A finished key is not touched.
		c.Finish(t.Context(), Response{Status: 200, Body: []byte("{}")})
		if n, err := k.EndLeases(t.Context()); err != nil || n != 0 {
			t.Fatalf("EndLeases after finish = %d, %v", n, err)
		}
	})
}

// Instances sharing a database: a claim whose instance keeps beating is
// waited for; once that instance stops beating for longer than staleAfter
// (or leaves the register), the next duplicate takes the claim over at once,
// long before the lease ends, with the claim's creation time kept.
func TestDeadInstanceClaimTakenOver(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		clk := newClock()
		a, b := keeperAt(st, clk), keeperAt(st, clk)
		const stale = 4 * time.Second
		if err := a.Join(t.Context(), "ins_a", stale); err != nil {
			t.Fatal(err)
		}
		if err := b.Join(t.Context(), "ins_b", stale); err != nil {
			t.Fatal(err)
		}
		held, _, err := begin(t, a, "k1", time.Second)
		if err != nil || held == nil {
			t.Fatal(err)
		}
		// a is alive: b waits.
		if _, _, err := begin(t, b, "k1", patience); !errors.Is(err, ErrInProgress) {
			t.Fatalf("a live instance's claim must be waited for: %v", err)
		}
		// Beats keep it alive past staleAfter.
		for range 3 {
			clk.add(stale / 2)
			if err := a.beat(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := begin(t, b, "k1", patience); !errors.Is(err, ErrInProgress) {
			t.Fatalf("a beating instance's claim must be waited for: %v", err)
		}
		// a dies: no beat for more than staleAfter (still well within the lease).
		clk.add(stale + time.Millisecond)
		c, _, err := begin(t, b, "k1", time.Second)
		if err != nil || c == nil {
			t.Fatalf("a dead instance's claim must be taken over: %v", err)
		}
		if !c.Created.Equal(held.Created) {
			t.Fatalf("takeover changed the claim's creation: %v → %v", held.Created, c.Created)
		}
		var r *store.Idempotency
		st.Read(t.Context(), func(tx store.Tx) error { r, err = tx.GetIdempotency("mer_1", "k1"); return err })
		if err != nil || r.Owner != "ins_b" {
			t.Fatalf("the claim's owner after takeover: %+v %v", r, err)
		}

		// An instance that left the register is dead at once.
		if err := b.beat(t.Context()); err != nil {
			t.Fatal(err)
		}
		held2, _, err := begin(t, b, "k2", time.Second)
		if err != nil || held2 == nil {
			t.Fatal(err)
		}
		if _, _, err := begin(t, a, "k2", patience); !errors.Is(err, ErrInProgress) {
			t.Fatalf("b is alive: %v", err)
		}
		if err := st.Write(t.Context(), func(tx store.Tx) error { return tx.DeleteInstance("ins_b") }); err != nil {
			t.Fatal(err)
		}
		if c, _, err := begin(t, a, "k2", time.Second); err != nil || c == nil {
			t.Fatalf("an unregistered instance's claim must be taken over: %v", err)
		}
	})
}

// A server that runs alone (no Join) judges a claim by its lease only.
func TestAloneWaitsForLease(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		clk := newClock()
		other := keeperAt(st, clk)
		if err := other.Join(t.Context(), "ins_gone", time.Second); err != nil {
			t.Fatal(err)
		}
		if c, _, err := begin(t, other, "k1", time.Second); err != nil || c == nil {
			t.Fatal(err)
		}
		clk.add(time.Minute) // ins_gone is long stale
		alone := keeperAt(st, clk)
		if _, _, err := begin(t, alone, "k1", patience); !errors.Is(err, ErrInProgress) {
			t.Fatalf("a keeper that did not Join must wait for the lease: %v", err)
		}
		clk.add(Lease)
		if c, _, err := begin(t, alone, "k1", time.Second); err != nil || c == nil {
			t.Fatalf("after the lease: %v", err)
		}
	})
}

// Heartbeat keeps the instance's beat fresh and removes it on stop.
func TestHeartbeat(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		k := New(st)
		if err := k.Join(t.Context(), "ins_hb", time.Second); err != nil {
			t.Fatal(err)
		}
		get := func() (*store.Instance, error) {
			var in *store.Instance
			err := st.Read(t.Context(), func(tx store.Tx) error { var err error; in, err = tx.GetInstance("ins_hb"); return err })
			return in, err
		}
		first, err := get()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan struct{})
		var failures atomic.Int32
		go func() { defer close(stopped); k.Heartbeat(ctx, 5*time.Millisecond, func(error) { failures.Add(1) }) }()
		deadline := time.Now().Add(5 * time.Second)
		for {
			in, err := get()
			if err == nil && in.Beat.After(first.Beat) {
				if !in.Started.Equal(first.Started) {
					t.Errorf("a beat changed the start: %v → %v", first.Started, in.Started)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no beat within 5 s: %+v %v", in, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-stopped
		if _, err := get(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a stopped instance must leave the register: %v", err)
		}
		if n := failures.Load(); n != 0 {
			t.Fatalf("%d beats failed", n)
		}
	})
}

// fakeSealer digests with SHA-256 and stores responses as they are.
type fakeSealer struct{}

func (fakeSealer) Digest(_ context.Context, merchantID, purpose string, data []byte) ([]byte, error) {
	h := sha256.Sum256(append([]byte(merchantID+"|"+purpose+"|"), data...))
	return h[:], nil
}
func (fakeSealer) SealStoredResponse(_ context.Context, _, _ string, b []byte) ([]byte, error) {
	return b, nil
}
func (fakeSealer) OpenStoredResponse(_ context.Context, _, _ string, b []byte) ([]byte, error) {
	return b, nil
}

// A handler that panics frees its key at once: the retry runs instead of
// waiting out the lease.
func TestHTTPPanicReleasesKey(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var failed atomic.Value
	h := HTTP{Keeper: New(st), Sealer: fakeSealer{}, Fail: func(w http.ResponseWriter, r *http.Request, err error) {
		failed.Store(err)
		w.WriteHeader(409)
	}}
	serve := func(next http.HandlerFunc) (rec *httptest.ResponseRecorder, panicked bool) {
		rec = httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/tokens", strings.NewReader(`{"a":1}`))
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		defer func() { panicked = recover() != nil }()
		h.Serve(rec, req.WithContext(ctx), "mer_1", "k1", next)
		return rec, false
	}
	if _, panicked := serve(func(http.ResponseWriter, *http.Request) { panic("boom") }); !panicked {
		t.Fatal("the handler's panic must propagate")
	}
	start := time.Now()
	rec, _ := serve(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201); w.Write([]byte(`{"ok":true}`)) })
	if rec.Code != 201 || !bytes.Equal(rec.Body.Bytes(), []byte(`{"ok":true}`)) || time.Since(start) > time.Second {
		t.Fatalf("retry after a panic: %d %s after %v (failure %v)", rec.Code, rec.Body, time.Since(start), failed.Load())
	}
}
