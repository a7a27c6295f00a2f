package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/store"
)

// errUnknownOutcome is an acquirer that may have authorized a payment but
// could not tell: the payment stays processing for a retry or Reconcile to
// settle with that acquirer, and no other account is tried.
var errUnknownOutcome = errors.New("payment: the acquirer's outcome is unknown")

// acquire authorizes (or sells, for automatic capture) a recorded payment at
// the acquirers its route allows, one after another while they cannot be
// reached. Moving on never charges twice:
//   - an acquirer that was not reached (no connection, an open circuit) did
//     nothing;
//   - one that may have acted (a timeout, a 5xx) is asked first whether it
//     knows our reference; only "never heard of it" moves on, and an
//     acquirer that cannot answer even that leaves the payment processing;
//   - a decline is an answer, never a reason to try elsewhere.
//
// Before the payment goes to another account, the record names that account,
// so a crash leaves Reconcile asking the acquirer that knows the reference.
func (s *Payments) acquire(ctx context.Context, p *store.Payment, req processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	route, err := s.acquirers.resume(ctx, p)
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	var last error
	for i, a := range route {
		if i > 0 {
			if err := s.moveTo(ctx, p, a); err != nil {
				return processor.Authorization{}, processor.Capture{}, err
			}
			s.log.Warn("payment moved to the next processor account", "payment", p.ID, "account", a.id(), "after", last.Error())
		}
		if !a.allow(time.Now()) {
			last = fmt.Errorf("%w: account %s is failing (circuit open)", processor.ErrUnreachable, a.id())
			continue
		}
		auth, capt, err := s.call(ctx, a, p, req)
		switch {
		case err == nil:
			a.outcome(true, time.Now())
			return auth, capt, nil
		case unreached(err):
			a.outcome(false, time.Now())
			last = err
			continue
		case errors.Is(err, processor.ErrUnavailable):
			a.outcome(false, time.Now())
			if _, lerr := a.proc.Lookup(ctx, p.MerchantID, p.ID); !errors.Is(lerr, processor.ErrNotFound) {
				return processor.Authorization{}, processor.Capture{}, fmt.Errorf("%w: %v", errUnknownOutcome, err)
			}
			last = err
			continue
		default:
			a.outcome(true, time.Now())
			return processor.Authorization{}, processor.Capture{}, err
		}
	}
	return processor.Authorization{}, processor.Capture{}, &processor.Decline{Code: processor.CodeProcessingError,
		DeclineCode: processor.CodeProcessingError, Message: "No card processor could be reached; nothing was charged. Try again later."}
}

// call is one authorization or sale at one acquirer.
func (s *Payments) call(ctx context.Context, a *acquirer, p *store.Payment, req processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	if p.CaptureMethod == "automatic" {
		return a.proc.Sale(ctx, req)
	}
	auth, err := a.proc.Authorize(ctx, req)
	return auth, processor.Capture{}, err
}

// moveTo records that the processing payment now goes to a's account.
func (s *Payments) moveTo(ctx context.Context, p *store.Payment, a *acquirer) error {
	next := *p
	next.Processor.Account, next.Processor.Type, next.Updated = a.id(), a.typ(), s.now()
	err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.UpdatePaymentIf(&next, store.PaymentProcessing) })
	if isNotFound(err) {
		return badState("The payment was settled while this request ran.")
	}
	if err != nil {
		return err
	}
	*p = next
	return nil
}
