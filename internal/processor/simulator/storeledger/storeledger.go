// Package storeledger keeps the built-in test acquirer's books in Coffer's store: it is the
// simulator.Ledger over store.Store, in the one package allowed to know both (the simulator
// itself does not import the store, and the store knows nothing of the simulator's rules).
//
// Every Update is one store Write, so each simulator call is atomic and durable when it returns;
// on PostgreSQL the Write's reads lock what they return (SELECT … FOR UPDATE, and a named lock
// for a reference with no row yet) and the tables' unique constraints refuse a second
// authorization of a reference or a second refund under one, so any number of instances sharing
// the database act as one acquirer. See internal/store/simulator.go and migration 0011.
package storeledger

import (
	"context"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/store"
)

// Ledger is a simulator.Ledger over a store.
type Ledger struct{ st store.Store }

var _ simulator.Ledger = (*Ledger)(nil)

// New returns the ledger kept in st. It does not own st: closing st is its opener's business.
func New(st store.Store) *Ledger { return &Ledger{st: st} }

// SharesLog is true: the books are written to Coffer's own store, after
// the payment they concern (see processor.LogSharer).
func (l *Ledger) SharesLog() bool { return true }

// Update runs fn in one store Write.
func (l *Ledger) Update(ctx context.Context, fn func(simulator.Books) error) error {
	return l.st.Write(ctx, func(tx store.Tx) error { return fn(books{tx}) })
}

// View runs fn in one store Read.
func (l *Ledger) View(ctx context.Context, fn func(simulator.Books) error) error {
	return l.st.Read(ctx, func(tx store.Tx) error { return fn(books{tx}) })
}

// books translates between the simulator's records and the store's, and between their errors.
type books struct{ tx store.SimulatorTx }

// ledgerErr turns the store's not-found and conflict into the Ledger's.
func ledgerErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return simulator.ErrNoRecord
	case errors.Is(err, store.ErrConflict):
		return simulator.ErrDuplicate
	}
	return err
}

func authOf(a *store.SimAuthorization, err error) (*simulator.AuthRecord, error) {
	if err != nil {
		return nil, ledgerErr(err)
	}
	r := &simulator.AuthRecord{ID: a.ID, Merchant: a.MerchantID, Reference: a.Reference, Amount: a.Amount, Currency: a.Currency,
		AuthCode: a.AuthCode, AVSResult: a.AVSResult, CVCResult: a.CVCResult, State: a.State, CaptureID: a.CaptureID,
		Captured: a.Captured, Refunded: a.Refunded, Created: a.Created, Updated: a.Updated}
	if a.Decline != nil {
		r.Decline = &simulator.DeclineRecord{Code: a.Decline.Code, DeclineCode: a.Decline.DeclineCode, Message: a.Decline.Message}
	}
	return r, nil
}

func storeAuth(a *simulator.AuthRecord) *store.SimAuthorization {
	r := &store.SimAuthorization{ID: a.ID, MerchantID: a.Merchant, Reference: a.Reference, Amount: a.Amount, Currency: a.Currency,
		AuthCode: a.AuthCode, AVSResult: a.AVSResult, CVCResult: a.CVCResult, State: a.State, CaptureID: a.CaptureID,
		Captured: a.Captured, Refunded: a.Refunded, Created: a.Created, Updated: a.Updated}
	if a.Decline != nil {
		r.Decline = &store.SimDecline{Code: a.Decline.Code, DeclineCode: a.Decline.DeclineCode, Message: a.Decline.Message}
	}
	return r
}

func (b books) Authorization(id string) (*simulator.AuthRecord, error) {
	return authOf(b.tx.GetSimAuthorization(id))
}

func (b books) AuthByReference(merchant, reference string) (*simulator.AuthRecord, error) {
	return authOf(b.tx.GetSimAuthorizationByReference(merchant, reference))
}

func (b books) AuthByCapture(captureID string) (*simulator.AuthRecord, error) {
	return authOf(b.tx.GetSimAuthorizationByCapture(captureID))
}

func (b books) InsertAuth(a *simulator.AuthRecord) error {
	return ledgerErr(b.tx.InsertSimAuthorization(storeAuth(a)))
}

func (b books) UpdateAuth(a *simulator.AuthRecord) error {
	return ledgerErr(b.tx.UpdateSimAuthorization(storeAuth(a)))
}

func (b books) RefundByReference(captureID, reference string) (*simulator.RefundRecord, error) {
	r, err := b.tx.GetSimRefund(captureID, reference)
	if err != nil {
		return nil, ledgerErr(err)
	}
	return &simulator.RefundRecord{ID: r.ID, AuthorizationID: r.AuthorizationID, CaptureID: r.CaptureID, Reference: r.Reference,
		Amount: r.Amount, Created: r.Created}, nil
}

func (b books) InsertRefund(r *simulator.RefundRecord) error {
	return ledgerErr(b.tx.InsertSimRefund(&store.SimRefund{ID: r.ID, AuthorizationID: r.AuthorizationID, CaptureID: r.CaptureID,
		Reference: r.Reference, Amount: r.Amount, Created: r.Created}))
}

func (b books) Counts() (simulator.Stats, error) {
	c, err := b.tx.SimulatorCounts()
	return simulator.Stats{Authorizations: c.Authorizations, Captures: c.Captures, Voids: c.Voids, Refunds: c.Refunds}, err
}

func (b books) CountReference(merchant, reference string) (int, error) {
	return b.tx.CountSimAuthorizations(merchant, reference)
}

func (b books) JournalImported(digest string) (bool, error) { return b.tx.SimJournalImported(digest) }

func (b books) RecordJournalImport(digest string, at time.Time) error {
	return ledgerErr(b.tx.InsertSimJournalImport(digest, at))
}
