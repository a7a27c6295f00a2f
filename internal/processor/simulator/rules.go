package simulator

import (
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

// The acquirer's rules, checked inside a Ledger's Update on records it has read (and so, in a
// shared Ledger, locked). Live calls and the journal import both go through them, so an imported
// journal obeys the rules it was written under. Their refusals are the API's errors.

// errAlreadyVoided is voidAuth's refusal of a voided authorization, which Void turns into success.
var errAlreadyVoided = fmt.Errorf("%w: authorization is already voided", processor.ErrInvalidState)

// notFound turns a Ledger's ErrNoRecord into the processor's ErrNotFound naming what was sought.
func notFound(err error, what, id string) error {
	if errors.Is(err, ErrNoRecord) {
		return fmt.Errorf("%w: %s %q", processor.ErrNotFound, what, id)
	}
	return err
}

// authBook is what findOrInsert and approved need of a set of books: a
// Ledger's Books, or a generation of verifications (verifyBook).
type authBook interface {
	Authorization(id string) (*AuthRecord, error)
	AuthByReference(merchant, reference string) (*AuthRecord, error)
	InsertAuth(a *AuthRecord) error
}

// findOrInsert records fresh or, when fresh's merchant already has an authorization under
// fresh's reference (a retried call: the reference is the acquirer's idempotency key),
// returns that one (replay true). It inserts first and reads only on a duplicate: retries are
// rare, and a read before every insert was one more statement per sale on the store's
// single writer.
func findOrInsert(b authBook, fresh *AuthRecord) (*AuthRecord, bool, error) {
	a := *fresh
	err := b.InsertAuth(&a)
	if err == nil {
		return &a, false, nil
	}
	if errors.Is(err, ErrDuplicate) && fresh.Reference != "" {
		if prev, perr := b.AuthByReference(fresh.Merchant, fresh.Reference); perr == nil {
			return prev, true, nil
		}
	}
	return nil, false, err
}

// approved returns the approved authorization id names; a declined one is not found, as its id
// was never given out.
func approved(b authBook, id string) (*AuthRecord, error) {
	a, err := b.Authorization(id)
	if err == nil && a.State == StateDeclined {
		err = ErrNoRecord
	}
	if err != nil {
		return nil, notFound(err, "authorization", id)
	}
	return a, nil
}

// captureAuth settles amount of a, once.
func captureAuth(b Books, a *AuthRecord, captureID string, amount int64) error {
	switch a.State {
	case StateVoided:
		return fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
	case StateCaptured:
		return fmt.Errorf("%w: authorization is already captured", processor.ErrInvalidState)
	}
	if amount <= 0 {
		return fmt.Errorf("%w: capture amount must be positive", processor.ErrInvalidRequest)
	}
	if amount > a.Amount {
		return fmt.Errorf("%w: capture amount %d exceeds authorized amount %d", processor.ErrInvalidState, amount, a.Amount)
	}
	if captureID == "" {
		return errors.New("a capture needs an id")
	}
	a.State, a.CaptureID, a.Captured, a.Updated = StateCaptured, captureID, amount, time.Now().UTC()
	return b.UpdateAuth(a)
}

// voidAuth releases a, which must be neither captured nor voided already.
func voidAuth(b Books, a *AuthRecord) error {
	switch a.State {
	case StateVoided:
		return errAlreadyVoided
	case StateCaptured:
		return fmt.Errorf("%w: authorization is captured; refund it instead", processor.ErrInvalidState)
	}
	a.State, a.Updated = StateVoided, time.Now().UTC()
	return b.UpdateAuth(a)
}

// refundCapture records r against a's capture, within what is left of it. r's capture and
// authorization ids are set from a.
func refundCapture(b Books, a *AuthRecord, r *RefundRecord) error {
	if r.Amount <= 0 {
		return fmt.Errorf("%w: refund amount must be positive", processor.ErrInvalidRequest)
	}
	if left := a.Captured - a.Refunded; r.Amount > left {
		return fmt.Errorf("%w: refund amount %d exceeds the %d left to refund", processor.ErrInvalidState, r.Amount, left)
	}
	if r.ID == "" {
		return errors.New("a refund needs an id")
	}
	now := time.Now().UTC()
	r.AuthorizationID, r.CaptureID = a.ID, a.CaptureID
	if r.Created.IsZero() {
		r.Created = now
	}
	if err := b.InsertRefund(r); err != nil {
		return err
	}
	a.Refunded += r.Amount
	a.Updated = now
	return b.UpdateAuth(a)
}
