// Package idempotency makes a keyed request run at most once: the first
// request with a key claims it durably, concurrent duplicates wait for it,
// and later ones replay its stored response exactly. The claim lives in the
// database, so it holds across restarts and across server instances.
package idempotency

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// Lease is how long a claim blocks duplicates before it is presumed dead (its
// server crashed mid-request). It exceeds the server's write timeout, so a
// live request never loses its claim.
const Lease = 90 * time.Second

// Retention is how long finished keys are kept (API.md promises ≥ 24 h).
const Retention = 48 * time.Hour

// ErrMismatch: the key was used with a different request.
var ErrMismatch = errors.New("idempotency: key reused with a different request")

// ErrInProgress: the first request with this key is still running and did
// not finish within the caller's patience.
var ErrInProgress = errors.New("idempotency: a request with this key is in progress")

// Response is a stored response.
type Response struct {
	Status int
	Body   []byte
}

// Keeper coordinates keyed requests.
type Keeper struct {
	st  store.Store
	now func() time.Time

	// instance names this server among those sharing the database (set by
	// Join); "" when it runs alone. A claim records its instance, and a
	// claim whose instance has not beaten for staleAfter is taken over.
	instance   string
	started    time.Time
	staleAfter time.Duration

	mu      sync.Mutex
	running map[string]chan struct{} // claims held by this process, closed when finished
}

// New returns a keeper over st.
func New(st store.Store) *Keeper {
	return &Keeper{st: st, now: func() time.Time { return time.Now().UTC() }, running: map[string]chan struct{}{}}
}

// Claim is a held key; the caller must Finish or Release it.
type Claim struct {
	k        *Keeper
	merchant string
	key      string
	done     chan struct{}
	// Created is when the key was first claimed. A claim taken over from a
	// crashed holder keeps it; a key used again after it expired gets a new one.
	Created time.Time
}

// Begin either claims the key (returning a Claim), or returns the stored
// response of the request that used it first. It waits while another
// request holds the key, until ctx ends.
func (k *Keeper) Begin(ctx context.Context, merchantID, key string, requestHash []byte) (*Claim, *Response, error) {
	delay := 5 * time.Millisecond
	for {
		var claimed bool
		var replay *Response
		var created time.Time
		err := k.st.Write(ctx, func(tx store.Tx) error {
			claimed, replay = false, nil              // fn may be retried by the backend: no state from a failed attempt
			now := k.now().Truncate(time.Microsecond) // the stores keep microseconds
			r, err := tx.GetIdempotency(merchantID, key)
			if errors.Is(err, store.ErrNotFound) {
				claimed, created = true, now
				return tx.InsertIdempotency(&store.Idempotency{MerchantID: merchantID, Key: key, RequestHash: requestHash,
					State: store.IdemStarted, Created: now, LockedUntil: now.Add(Lease), Owner: k.instance})
			}
			if err != nil {
				return err
			}
			if !bytes.Equal(r.RequestHash, requestHash) {
				return ErrMismatch
			}
			if r.State == store.IdemDone {
				replay = &Response{Status: r.StatusCode, Body: r.Response}
				return nil
			}
			if r.LockedUntil.After(now) {
				if dead, err := k.ownerDead(tx, r.Owner, now); err != nil || !dead {
					return err // held by a live request: wait
				}
			}
			claimed, created = true, r.Created // the holder died: take over
			r.LockedUntil, r.Owner = now.Add(Lease), k.instance
			return tx.UpdateIdempotency(r)
		})
		switch {
		case errors.Is(err, store.ErrConflict):
			// Another instance inserted the claim between our read and
			// insert: it holds the key now, so wait like any duplicate.
		case err != nil && ctx.Err() != nil:
			// The caller's patience ran out while the database was slow to
			// answer: to the caller that is the same as waiting for a holder
			// (retry shortly), not a failure of the store.
			return nil, nil, ErrInProgress
		case err != nil:
			return nil, nil, err
		case replay != nil:
			return nil, replay, nil
		case claimed:
			c := &Claim{k: k, merchant: merchantID, key: key, done: make(chan struct{}), Created: created}
			k.mu.Lock()
			k.running[merchantID+"\x00"+key] = c.done
			k.mu.Unlock()
			return c, nil, nil
		}
		// Wait for the holder: promptly if it runs in this process, by
		// polling with backoff if it runs elsewhere.
		k.mu.Lock()
		ch := k.running[merchantID+"\x00"+key]
		k.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-ch: // nil when not ours: blocks, and the timer decides
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ErrInProgress
		}
		t.Stop()
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func (c *Claim) release() {
	c.k.mu.Lock()
	delete(c.k.running, c.merchant+"\x00"+c.key)
	c.k.mu.Unlock()
	close(c.done)
}

// Finish stores the response durably; only then may it be sent.
func (c *Claim) Finish(ctx context.Context, resp Response) error {
	defer c.release()
	return c.k.st.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		r, err := tx.GetIdempotency(c.merchant, c.key)
		if err != nil {
			return err
		}
		r.State, r.StatusCode, r.Response = store.IdemDone, resp.Status, resp.Body
		return tx.UpdateIdempotency(r)
	})
}

// Release gives the key up without storing a response (for server errors,
// which must stay retryable). The record stays, with its lease ended, so the
// retry takes it over with the same creation time: ids derived from the
// claim (a payment's) are the same, and an interrupted payment resumes
// instead of being charged again.
func (c *Claim) Release(ctx context.Context) error {
	defer c.release()
	return c.k.st.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		r, err := tx.GetIdempotency(c.merchant, c.key)
		if err != nil {
			return err
		}
		r.LockedUntil = time.Time{}
		return tx.UpdateIdempotency(r)
	})
}

// Sweep deletes keys older than Retention.
func (k *Keeper) Sweep(ctx context.Context) (int, error) {
	var n int
	err := k.st.Write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteIdempotencyBefore(k.now().Add(-Retention))
		return err
	})
	return n, err
}

// ownerDead reports whether the instance holding a claim has stopped
// beating (or is gone from the register). Only instances that Join judge
// others; a claim of this instance, or of a server that runs alone, is
// judged by its lease.
func (k *Keeper) ownerDead(tx store.Tx, owner string, now time.Time) (bool, error) {
	if k.instance == "" || owner == "" || owner == k.instance {
		return false, nil
	}
	in, err := tx.GetInstance(owner)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return in.Beat.Before(now.Add(-k.staleAfter)), nil
}

// EndLeases frees every key a request left started, for a server that runs
// alone (SQLite) to call at start: those requests died with its
// predecessor, and their retries are taken over at once instead of waiting
// out the lease.
func (k *Keeper) EndLeases(ctx context.Context) (int, error) {
	var n int
	err := k.st.Write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.EndIdempotencyLeases()
		return err
	})
	return n, err
}

// Join registers this server as instance id among the servers sharing the
// database, beating once; call it before serving, then run Heartbeat. A
// claim held by an instance that has not beaten for staleAfter is taken
// over by the next duplicate: staleAfter must span several beats.
func (k *Keeper) Join(ctx context.Context, id string, staleAfter time.Duration) error {
	k.instance, k.started, k.staleAfter = id, k.now().Truncate(time.Microsecond), staleAfter
	return k.beat(ctx)
}

func (k *Keeper) beat(ctx context.Context) error {
	return k.st.Write(ctx, func(tx store.Tx) error {
		return tx.BeatInstance(&store.Instance{ID: k.instance, Started: k.started, Beat: k.now().Truncate(time.Microsecond)})
	})
}

// forgetAfter is how long a dead instance stays in the register.
const forgetAfter = 24 * time.Hour

// Heartbeat beats every interval until ctx ends, then leaves the register
// (a graceful stop: its requests have finished, nothing of it to wait for).
// onErr hears of failed beats.
func (k *Keeper) Heartbeat(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := k.st.Write(dctx, func(tx store.Tx) error { return tx.DeleteInstance(k.instance) }); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
		}
		err := k.beat(ctx)
		if err == nil && n%1000 == 0 {
			err = k.st.Write(ctx, func(tx store.Tx) error {
				_, err := tx.DeleteInstancesBefore(k.now().Add(-forgetAfter))
				return err
			})
		}
		if err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
	}
}
