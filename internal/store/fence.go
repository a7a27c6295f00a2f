package store

import (
	"context"
	"sync"
)

// A Fence lets one call run several store operations that answer before
// they are durable, and then wait once for all of them. The SQLite backend
// syncs its log off the writer (see internal/store/sqlite/syncer.go), so a
// Write normally waits a whole sync round, and a Read waits for every
// commit it might have seen. A call that makes several of them in a row
// (a payment: read the token, record the attempt, ask the acquirer, record
// the outcome) paid one round each, though its answer is the only thing
// that must wait; a later Write's sync covers every earlier commit.
//
// Only operations run under Deferrable(ctx) answer early, and only when
// the caller made the fence with WithFence and waits on it before it
// answers or acts outside the store. An operation whose result is acted on
// outside (a message to a real acquirer) must not be deferred: it must be
// durable before it leaves. Backends that are durable on commit anyway
// (PostgreSQL) ignore fences.
type Fence struct {
	mu    sync.Mutex
	need  uint64
	wait  func(uint64) error
	debts []*Debt
	lost  error // a debt that did not commit: the fence's later writes are refused
}

// A Debt is an operation a backend answered before it knew whether the
// operation's transaction would commit (SQLite answers a deferred write
// once the writer has run it). The backend settles it when it knows; the
// fence's Wait waits for that first, and fails if it did not commit.
type Debt struct {
	fence *Fence
	done  chan struct{}
	seq   uint64
	wait  func(uint64) error
	err   error
}

type fenceKey struct{}
type deferKey struct{}
type unawaitedKey struct{}

// WithFence returns ctx carrying a new fence, and the fence: the caller
// must Wait on it before its answer leaves.
func WithFence(ctx context.Context) (context.Context, *Fence) {
	f := &Fence{}
	return context.WithValue(ctx, fenceKey{}, f), f
}

// Deferrable marks operations run under the returned ctx as allowed to
// answer before they are durable, covered by ctx's fence; without a fence
// in ctx it returns ctx as it is, and they wait as usual.
func Deferrable(ctx context.Context) context.Context {
	f, _ := ctx.Value(fenceKey{}).(*Fence)
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, deferKey{}, f)
}

// Unawaited marks writes run under the returned ctx as queued, not run: a
// backend that has a single writer may return from Write as soon as the
// write is in its queue, before it ran, and runs it before any later write
// of the call. Its failure reaches the caller only through ctx's fence:
// Wait returns it, and the backend refuses the call's later writes, which
// may rest on it. So the caller may go on only with work whose result it
// does not need and that stays inside the process until the fence's Wait
// (a payment's record before the in-process acquirer's books and then the
// outcome, which every one of those writes precedes in the log). Without a
// fence in ctx it returns ctx as it is; backends durable on commit
// (PostgreSQL) run the write as usual and return its error.
func Unawaited(ctx context.Context) context.Context {
	f, _ := ctx.Value(fenceKey{}).(*Fence)
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, unawaitedKey{}, f)
}

// UnawaitedTo is the fence that answers for a write queued under ctx
// (Unawaited), or nil: for backends.
func UnawaitedTo(ctx context.Context) *Fence {
	f, _ := ctx.Value(unawaitedKey{}).(*Fence)
	return f
}

// DeferredTo is the fence an operation run under ctx may defer its
// durability to, or nil: for backends.
func DeferredTo(ctx context.Context) *Fence {
	f, _ := ctx.Value(deferKey{}).(*Fence)
	return f
}

// FenceOf is the fence of the call ctx belongs to, deferrable or not, or
// nil: for backends, which ask it whether the call has Lost a write.
func FenceOf(ctx context.Context) *Fence {
	f, _ := ctx.Value(fenceKey{}).(*Fence)
	return f
}

// Lost is the error of a write of the fence's call that was answered early
// and then did not commit, or nil (also for a nil fence). A backend refuses
// the call's later writes when it is set: they may rest on the lost one.
func (f *Fence) Lost() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost
}

// Owe records that what an operation answered rests on the backend's point
// seq becoming durable, which wait(seq) waits for.
func (f *Fence) Owe(seq uint64, wait func(uint64) error) {
	f.mu.Lock()
	if seq > f.need {
		f.need = seq
	}
	f.wait = wait
	f.mu.Unlock()
}

// Promise records an operation answered before its commit was decided:
// the backend must Settle the Debt it returns, whatever happens.
func (f *Fence) Promise() *Debt {
	d := &Debt{fence: f, done: make(chan struct{})}
	f.mu.Lock()
	f.debts = append(f.debts, d)
	f.mu.Unlock()
	return d
}

// Settle decides d: err when its operation did not commit; otherwise the
// backend's point seq that wait(seq) makes durable.
func (d *Debt) Settle(seq uint64, wait func(uint64) error, err error) {
	d.seq, d.wait, d.err = seq, wait, err
	if err != nil {
		d.fence.mu.Lock()
		if d.fence.lost == nil {
			d.fence.lost = err
		}
		d.fence.mu.Unlock()
	}
	close(d.done)
}

// Wait returns once everything deferred to the fence is durable, or the
// backend's error if it cannot be made so.
func (f *Fence) Wait() error {
	f.mu.Lock()
	need, wait, debts := f.need, f.wait, f.debts
	f.mu.Unlock()
	for _, d := range debts {
		<-d.done
		if d.err != nil {
			return d.err
		}
		if d.seq > need {
			need, wait = d.seq, d.wait
		}
	}
	if wait == nil || need == 0 {
		return nil
	}
	return wait(need)
}
