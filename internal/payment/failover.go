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
//     knows our reference; only "never heard of it" moves on; one that did
//     act is asked again for its answer (idempotent by our reference); an
//     acquirer that cannot answer leaves the payment processing;
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
			_, lerr := a.proc.Lookup(ctx, p.MerchantID, p.ID)
			switch {
			case errors.Is(lerr, processor.ErrNotFound):
				last = err
				continue
			case lerr != nil:
				return processor.Authorization{}, processor.Capture{}, fmt.Errorf("%w: %v", errUnknownOutcome, err)
			}
			// It acted and only its answer was lost: asked again under the
			// same reference, it answers without acting twice.
			req.NewReference = false
			auth, capt, err := s.call(ctx, a, p, req)
			if err != nil && (unreached(err) || errors.Is(err, processor.ErrUnavailable)) {
				return processor.Authorization{}, processor.Capture{}, fmt.Errorf("%w: %v", errUnknownOutcome, err)
			}
			return auth, capt, err
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
	// Only an acquirer keeping its books in our store (the simulator) looks
	// at this: its writes may answer before they are durable, because the
	// outcome we write next, durably, comes after them in the same log.
	ctx = store.Deferrable(ctx)
	if a.sharesLog && req.NewReference {
		// Nothing can be found under a new reference, so it need not even
		// wait for its books to be written (processor.AuthorizeRequest).
		ctx = store.Unawaited(ctx)
	} else {
		req.NewReference = false
	}
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

// awaitAcquirer parks a processing payment in requires_action while the card
// holder authenticates on the acquirer's own 3-D Secure page.
func (s *Payments) awaitAcquirer(ctx context.Context, p *store.Payment, action *processor.ActionRequired) (PaymentView, error) {
	next := *p
	next.Status, next.Updated = store.PaymentRequiresAction, s.now()
	next.Processor.AuthorizationID, next.Processor.NetworkRef, next.Processor.ActionURL = action.AuthorizationID, action.AuthorizationID, action.RedirectURL
	next.PendingOp, next.PendingUntil = "", time.Time{}
	err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.UpdatePaymentIf(&next, store.PaymentProcessing) })
	if isNotFound(err) {
		return PaymentView{}, badState("The payment was settled while this request ran.")
	}
	if err != nil {
		return PaymentView{}, err
	}
	*p = next
	return s.viewPayment(p, nil), nil
}

// settleAction asks the acquirer how a payment waiting on its 3-D Secure
// page ended, and records it: authorized (and captured, for automatic
// capture), or declined. Still waiting, or no answer, changes nothing.
func (s *Payments) settleAction(ctx context.Context, p *store.Payment) (bool, error) {
	acq, err := s.acquirerOf(ctx, p)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	auth, err := acq.Lookup(ctx, p.MerchantID, p.ID)
	var d *processor.Decline
	next := *p
	next.Updated, next.Processor.ActionURL = s.now(), ""
	evt := ""
	switch {
	case errors.As(err, &d):
		msg := orDefault(d.Message, "The card was declined.")
		next.Status, next.Failure, evt = store.PaymentFailed, &store.Failure{Code: d.Code, DeclineCode: d.DeclineCode, Message: msg}, "payment.failed"
	case err != nil:
		return false, nil // still at the acquirer's page, or no answer: read again later
	case auth.Voided:
		next.Status, evt = store.PaymentCanceled, "payment.canceled"
	case auth.Captured > 0:
		next.Status, next.AmountCaptured, next.Processor.CaptureID, evt = store.PaymentSucceeded, auth.Captured, auth.CaptureID, "payment.succeeded"
	case p.CaptureMethod == "automatic":
		c, err := acq.Capture(ctx, auth.ID, p.Amount)
		if err != nil {
			return false, err
		}
		next.Status, next.AmountCaptured, next.Processor.CaptureID, evt = store.PaymentSucceeded, c.Amount, c.ID, "payment.succeeded"
	default:
		next.Status, next.AmountCapturable, evt = store.PaymentRequiresCapture, p.Amount, "payment.requires_capture"
	}
	if err == nil {
		next.Processor.AuthCode, next.Processor.AVSResult, next.Processor.CVCResult = auth.AuthCode, auth.AVSResult, auth.CVCResult
	}
	err = s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		if err := tx.UpdatePaymentIf(&next, store.PaymentRequiresAction); err != nil {
			return err
		}
		return s.paymentEvent(tx, &next, evt)
	})
	if isNotFound(err) {
		return false, nil // another reader settled it first
	}
	return err == nil, err
}
