package simulator

import (
	"context"
	"errors"
	"sync"
	"time"
)

// memLedger is a Ledger in this process's memory: New's books (verifications are kept in
// verifyBooks, which hold no Go value per record). One mutex is held through each Update or View: every call is a few map
// accesses, and running them one at a time makes the amount rules trivially impossible to race
// past.
type memLedger struct {
	mu        sync.Mutex
	auths     map[string]*AuthRecord
	byRef     map[refKey]string // a merchant's reference → authorization id
	byCapture map[string]string // capture id → authorization id
	refunds   map[string]*RefundRecord
	refundRef map[[2]string]string // capture id + reference → refund id
	perRef    map[refKey]int
	imports   map[string]bool
	stats     Stats
}

type refKey struct{ merchant, reference string }

var errReadOnly = errors.New("simulator: write in a read-only view")

// NewMemoryLedger returns an empty Ledger in this process's memory: the books New uses, for
// tests and tools that want several simulators over one set of books.
func NewMemoryLedger() Ledger { return newMemLedger() }

func newMemLedger() *memLedger {
	return &memLedger{auths: map[string]*AuthRecord{}, byRef: map[refKey]string{}, byCapture: map[string]string{},
		refunds: map[string]*RefundRecord{}, refundRef: map[[2]string]string{}, perRef: map[refKey]int{}, imports: map[string]bool{}}
}

// Update runs fn under the lock and undoes what it wrote if it fails (or panics).
func (m *memLedger) Update(ctx context.Context, fn func(Books) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &memBooks{m: m}
	ok := false
	defer func() {
		if !ok {
			b.rollback()
		}
	}()
	err := fn(b)
	ok = err == nil
	return err
}

// View runs fn under the lock; fn cannot write.
func (m *memLedger) View(ctx context.Context, fn func(Books) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(&memBooks{m: m, readOnly: true})
}

// counts is Counts without a transaction, for Stats.
func (m *memLedger) counts() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// memBooks is one Update or View of a memLedger. Every write records how to undo itself.
type memBooks struct {
	m        *memLedger
	readOnly bool
	undo     []func()
}

func (b *memBooks) rollback() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
	b.undo = nil
}

// tally adds a's part of the Captures and Voids counters, times sign.
func (m *memLedger) tally(a *AuthRecord, sign int64) {
	switch a.State {
	case StateCaptured:
		m.stats.Captures += sign
	case StateVoided:
		m.stats.Voids += sign
	}
}

// get returns a copy, so that the caller's changes reach the books only through UpdateAuth.
func (b *memBooks) get(id string, ok bool) (*AuthRecord, error) {
	a, found := b.m.auths[id]
	if !ok || !found {
		return nil, ErrNoRecord
	}
	c := *a
	return &c, nil
}

func (b *memBooks) Authorization(id string) (*AuthRecord, error) { return b.get(id, true) }

func (b *memBooks) AuthByReference(merchant, reference string) (*AuthRecord, error) {
	id, ok := b.m.byRef[refKey{merchant, reference}]
	return b.get(id, ok && reference != "")
}

func (b *memBooks) AuthByCapture(captureID string) (*AuthRecord, error) {
	id, ok := b.m.byCapture[captureID]
	return b.get(id, ok)
}

func (b *memBooks) InsertAuth(a *AuthRecord) error {
	if b.readOnly {
		return errReadOnly
	}
	m := b.m
	key := refKey{a.Merchant, a.Reference}
	if _, dup := m.auths[a.ID]; dup {
		return ErrDuplicate
	}
	if _, dup := m.byRef[key]; dup && a.Reference != "" {
		return ErrDuplicate
	}
	if _, dup := m.byCapture[a.CaptureID]; dup && a.CaptureID != "" {
		return ErrDuplicate
	}
	c := *a
	m.auths[a.ID] = &c
	if a.Reference != "" {
		m.byRef[key] = a.ID
	}
	if a.CaptureID != "" {
		m.byCapture[a.CaptureID] = a.ID
	}
	m.perRef[key]++
	m.stats.Authorizations++
	m.tally(&c, 1)
	b.undo = append(b.undo, func() {
		delete(m.auths, a.ID)
		if c.Reference != "" {
			delete(m.byRef, key)
		}
		if c.CaptureID != "" {
			delete(m.byCapture, c.CaptureID)
		}
		m.perRef[key]--
		m.stats.Authorizations--
		m.tally(&c, -1)
	})
	return nil
}

func (b *memBooks) UpdateAuth(a *AuthRecord) error {
	if b.readOnly {
		return errReadOnly
	}
	m := b.m
	cur, ok := m.auths[a.ID]
	if !ok {
		return ErrNoRecord
	}
	if owner, dup := m.byCapture[a.CaptureID]; dup && a.CaptureID != "" && owner != a.ID {
		return ErrDuplicate
	}
	old := *cur
	cur.State, cur.CaptureID, cur.Captured, cur.Refunded, cur.Updated = a.State, a.CaptureID, a.Captured, a.Refunded, a.Updated
	m.reindexCapture(old.CaptureID, cur.CaptureID, a.ID)
	m.tally(&old, -1)
	m.tally(cur, 1)
	b.undo = append(b.undo, func() {
		m.tally(cur, -1)
		m.tally(&old, 1)
		m.reindexCapture(cur.CaptureID, old.CaptureID, a.ID)
		*cur = old
	})
	return nil
}

func (m *memLedger) reindexCapture(from, to, authID string) {
	if from == to {
		return
	}
	if from != "" {
		delete(m.byCapture, from)
	}
	if to != "" {
		m.byCapture[to] = authID
	}
}

func (b *memBooks) RefundByReference(captureID, reference string) (*RefundRecord, error) {
	id, ok := b.m.refundRef[[2]string{captureID, reference}]
	if !ok || reference == "" {
		return nil, ErrNoRecord
	}
	r := *b.m.refunds[id]
	return &r, nil
}

func (b *memBooks) InsertRefund(r *RefundRecord) error {
	if b.readOnly {
		return errReadOnly
	}
	m := b.m
	key := [2]string{r.CaptureID, r.Reference}
	if _, dup := m.refunds[r.ID]; dup {
		return ErrDuplicate
	}
	if _, dup := m.refundRef[key]; dup && r.Reference != "" {
		return ErrDuplicate
	}
	c := *r
	m.refunds[r.ID] = &c
	if r.Reference != "" {
		m.refundRef[key] = r.ID
	}
	m.stats.Refunds++
	b.undo = append(b.undo, func() {
		delete(m.refunds, c.ID)
		if c.Reference != "" {
			delete(m.refundRef, key)
		}
		m.stats.Refunds--
	})
	return nil
}

func (b *memBooks) Counts() (Stats, error) { return b.m.stats, nil }

func (b *memBooks) CountReference(merchant, reference string) (int, error) {
	return b.m.perRef[refKey{merchant, reference}], nil
}

func (b *memBooks) JournalImported(digest string) (bool, error) { return b.m.imports[digest], nil }

func (b *memBooks) RecordJournalImport(digest string, at time.Time) error {
	if b.readOnly {
		return errReadOnly
	}
	if b.m.imports[digest] {
		return ErrDuplicate
	}
	b.m.imports[digest] = true
	b.undo = append(b.undo, func() { delete(b.m.imports, digest) })
	return nil
}

// countReference is CountReference without a transaction, for AuthorizationsFor.
func (m *memLedger) countReference(merchant, reference string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.perRef[refKey{merchant, reference}]
}
