package payment

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Payments charge cards and tokens, and capture, cancel, refund and
// reconcile what the acquirer left unsettled.
type Payments struct {
	*deps
	sealer     *Sealer
	events     *Events
	cards      *CardGuard
	tokens     *Tokens
	challenges *Challenges
	sessions   *Sessions // a session follows its payment's state
	acquirers  *Acquirers
}

// PaymentParams creates a payment.
type PaymentParams struct {
	Amount        int64             `json:"amount"`
	Currency      *string           `json:"currency"` // absent: the merchant's default currency
	Token         string            `json:"token"`
	CVC           string            `json:"cvc"`
	Card          *CardInput        `json:"card"`
	EncryptedCard string            `json:"encrypted_card"`
	SaveCard      bool              `json:"save_card"`
	ThreeDSecure  string            `json:"three_d_secure"` // required | if_required (default) | never
	ReturnURL     string            `json:"return_url"`     // where a 3-D Secure challenge sends the card holder back
	Capture       *bool             `json:"capture"`
	OrderID       string            `json:"order_id"`
	Description   string            `json:"description"`
	Customer      string            `json:"customer"`
	Metadata      map[string]string `json:"metadata"`
	// ProcessorAccount sends the payment to this account only; "" routes it
	// by currency and priority (see Acquirers).
	ProcessorAccount string `json:"processor_account"`
	// Stored charges a card the acquirer keeps (an Authorize.net payment
	// profile, for SensePass's tokenSource) instead of a card or a token:
	// only an account of that acquirer can, and Coffer never sees the card.
	Stored *processor.StoredCard `json:"-"`
	// MerchantInitiated charges a token with the card holder absent, so
	// require_cvc_for_saved_cards does not apply (see ConfirmParams).
	MerchantInitiated bool `json:"-"`
}

// settleTimeout bounds the work done after money may have moved, which runs
// detached from the client: a client that hangs up must not leave a charge
// half-recorded.
const settleTimeout = 30 * time.Second

// opLease bounds a capture or cancel claim: longer than any processor call,
// short enough that a crashed holder does not block the payment for long.
const opLease = time.Minute

const idempotencyKey ctxKey = 2

// WithIdempotencyKey tells the service the (digested) Idempotency-Key of the
// request, so a payment retried after a crash resumes instead of charging twice.
func WithIdempotencyKey(ctx context.Context, digest string) context.Context {
	return context.WithValue(ctx, idempotencyKey, digest)
}

var lowerB32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// keyDigest is the digest of the request's Idempotency-Key, or "" without one.
func keyDigest(ctx context.Context) string {
	d, _ := ctx.Value(idempotencyKey).(string)
	return d
}

// paymentID is random, except under an Idempotency-Key: then it is derived
// from the key's digest, so a retry of a request whose first attempt died
// mid-way finds the same payment, and the acquirer (which dedupes by our
// reference) returns the same authorization instead of making a second.
func paymentID(ctx context.Context) string { return derivedID(ctx, "pay", "coffer payment id|") }

// derivedID is a fresh ordered id, or under an Idempotency-Key one derived
// from the key's claim (see paymentID).
func derivedID(ctx context.Context, prefix, label string) string {
	d := keyDigest(ctx)
	if d == "" {
		return id.NewOrdered(prefix)
	}
	h := sha256.Sum256([]byte(label + d))
	return prefix + "_" + strings.ToLower(lowerB32.EncodeToString(h[:16]))
}

// opKey identifies the keyed request running a capture or cancel ("" with
// no Idempotency-Key), recorded with the payment's claim so that a retry of
// that request after a crash knows the claim, or the outcome, as its own.
func opKey(ctx context.Context) string {
	d := keyDigest(ctx)
	if d == "" {
		return ""
	}
	h := sha256.Sum256([]byte("coffer payment op|" + d))
	return strings.ToLower(lowerB32.EncodeToString(h[:16]))
}

// paymentError is a card error that carries the recorded failed payment.
func (s *Payments) paymentError(ctx context.Context, p *store.Payment) error {
	e := &Error{Kind: KindCard, Code: p.Failure.Code, DeclineCode: p.Failure.DeclineCode, Message: p.Failure.Message}
	v, err := s.GetPayment(ctx, p.MerchantID, p.ID)
	if err == nil {
		e.Payment = &v
	}
	return e
}

// paymentEvent records a payment's state change with its current refunds.
func (s *Payments) paymentEvent(tx store.Tx, p *store.Payment, typ string) error {
	refunds, err := tx.ListRefunds(p.MerchantID, p.ID)
	if err != nil {
		return err
	}
	if err := s.events.event(tx, p.MerchantID, typ, "payment", p.ID, s.viewPayment(p, refunds)); err != nil {
		return err
	}
	return s.sessionPaymentChanged(tx, p, typ)
}

// sessionPaymentChanged tells a session's listeners (its callback_url, a
// dialect's callback, endpoints that want session.updated) that the payment
// of a session that has ended was captured, voided or refunded since: a
// session.updated event in the same transaction. The session itself is
// unchanged; its payment is what a listener reads.
func (s *Payments) sessionPaymentChanged(tx store.Tx, p *store.Payment, typ string) error {
	switch typ {
	case "payment.captured", "payment.canceled", "payment.refunded":
	default:
		return nil
	}
	sid := p.Metadata["session"]
	if sid == "" {
		return nil
	}
	ss, err := tx.GetSession(p.MerchantID, sid)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	// A payment's metadata is the merchant's to write: only the session
	// that made this payment counts.
	if ss.Status != store.SessionSucceeded || ss.PaymentID != p.ID {
		return nil
	}
	return s.sessions.sessionEvent(tx, ss, "session.updated")
}

func (s *Payments) validatePayment(m *store.Merchant, p *PaymentParams) error {
	if p.Currency == nil {
		p.Currency = &m.Settings.DefaultCurrency
	}
	if err := money.ValidateAmount(p.Amount, *p.Currency); err != nil {
		return fromMoney(err)
	}
	switch {
	case p.EncryptedCard != "":
		return invalid("encrypted_card", "parameter_unsupported", "encrypted_card needs a payment session's key; send card or token instead")
	case p.Stored != nil && (p.Token != "" || p.Card != nil || p.SaveCard):
		return invalid("token", "parameter_invalid", "a card kept at the acquirer is charged alone: no token, card or save_card")
	case p.Stored != nil:
	case p.Token != "" && p.Card != nil:
		return invalid("card", "parameter_invalid", "give either token or card, not both")
	case p.Token == "" && p.Card == nil:
		return invalid("token", "parameter_missing", "token or card is required")
	case p.SaveCard && p.Card == nil:
		return invalid("save_card", "parameter_invalid", "save_card needs a card")
	case p.ReturnURL != "" && !isHTTPURL(p.ReturnURL):
		return invalid("return_url", "url_invalid", "return_url must be an absolute http(s) URL"+urlHostRule)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"order_id", p.OrderID, 255}, {"description", p.Description, 1000}} {
		if err := checkFreeText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return ValidateMetadata(p.Metadata)
}

// CreatePayment charges a token or a card. A decline is recorded as a failed
// payment and returned as a card *Error carrying it.
//
// Its reads and the built-in acquirer's writes answer before they are
// durable (store.Fence): each would otherwise wait a sync round of its own,
// and the attempt's record and outcome, written durably after them, cover
// them. Whatever the answer, it waits for the fence first.
func (s *Payments) CreatePayment(ctx context.Context, m *store.Merchant, params PaymentParams) (_ PaymentView, err error) {
	ctx, fence := store.WithFence(ctx)
	defer func() {
		if ferr := fence.Wait(); ferr != nil && err == nil {
			err = ferr
		}
	}()
	return s.createPayment(ctx, m, params)
}

func (s *Payments) createPayment(ctx context.Context, m *store.Merchant, params PaymentParams) (PaymentView, error) {
	if err := s.validatePayment(m, &params); err != nil {
		return PaymentView{}, err
	}
	mode, err := threeDSMode(params.ThreeDSecure, m, params.SaveCard) // saving the card is tokenization
	if err != nil {
		return PaymentView{}, err
	}
	if mode == ThreeDSRequired && s.auth == nil {
		return PaymentView{}, invalid("three_d_secure", "three_d_secure_unavailable", "3-D Secure is required but this server's processor does not support it")
	}
	now := s.now()
	p, sharesLog, err := s.newPayment(ctx, m, params, now)
	if err != nil {
		return PaymentView{}, err
	}
	var c charge
	switch {
	case params.Stored != nil:
		c = charge{stored: params.Stored}
	case params.Card != nil:
		c, err = s.cardPath(ctx, m, p, params, mode, now)
	default:
		c, err = s.tokenPath(ctx, m, p, params, now)
	}
	if err != nil {
		return PaymentView{}, err
	}
	var resumed bool
	switch {
	case sharesLog && c.tok != nil && c.challenge == nil && c.unusable == nil && keyDigest(ctx) == "":
		// The plain charge of a saved card: nothing to wait for before settling.
		err = s.queueRecord(ctx, p, c)
	case sharesLog:
		// The acquirer's books are written after the record in the same
		// log: the record cannot be lost without them (processor.LogSharer).
		resumed, err = s.record(store.Deferrable(ctx), m, p, c)
	default:
		resumed, err = s.record(ctx, m, p, c)
	}
	if err != nil {
		return PaymentView{}, err
	}
	if resumed && p.Status != store.PaymentProcessing {
		return s.finished(ctx, p)
	}
	if p.Status == store.PaymentFailed {
		return PaymentView{}, s.paymentError(ctx, p)
	}
	if p.Status == store.PaymentRequiresAction {
		return s.viewPayment(p, nil), nil
	}
	return s.settle(ctx, m, p, params, mode, c, resumed)
}

// charge is what the card or the token path decided before the payment is
// recorded.
type charge struct {
	pc        processor.Card   // the card path's card; the token path's is read after recording
	unusable  *store.Failure   // a token that must not be charged: recorded as a failed payment
	challenge *store.Challenge // the card holder must pass 3-D Secure first
	tok       *store.Token     // the token to detokenize once its audit record is durable
	stored    *processor.StoredCard
}

// newPayment is the payment record a request asks for, not yet stored, and
// whether its first acquirer keeps its books in our store.
func (s *Payments) newPayment(ctx context.Context, m *store.Merchant, params PaymentParams, now time.Time) (*store.Payment, bool, error) {
	p := &store.Payment{ID: paymentID(ctx), MerchantID: m.ID, Status: store.PaymentProcessing, Amount: params.Amount,
		Currency: *params.Currency, CaptureMethod: "automatic", TokenID: params.Token, CustomerID: params.Customer,
		OrderID: params.OrderID, Description: params.Description, Metadata: params.Metadata, Created: now, Updated: now}
	if params.Capture != nil && !*params.Capture {
		p.CaptureMethod = "manual"
	}
	// Routed before anything is recorded: a bad choice of account is the
	// request's error. The first acquirer is recorded with the payment, so
	// a retry or Reconcile asks the one that knows our reference.
	route, err := s.acquirers.route(ctx, m.ID, p.Currency, params.ProcessorAccount)
	if err != nil {
		return nil, false, err
	}
	if params.Stored != nil {
		// Only the acquirer that keeps the card can charge it.
		if route, err = s.acquirers.keeping(route); err != nil {
			return nil, false, err
		}
	}
	p.Processor.Account, p.Processor.Type = route[0].id(), route[0].typ()
	p.Processor.Pinned = params.ProcessorAccount != "" || params.Stored != nil
	if p.CustomerID != "" {
		err := s.store.Read(ctx, func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, p.CustomerID); return err })
		if isNotFound(err) {
			return nil, false, notFound("customer", "customer", p.CustomerID)
		} else if err != nil {
			return nil, false, err
		}
	}
	return p, route[0].sharesLog, nil
}

// cardPath checks a card given in the request, asks the card-testing guard,
// and runs 3-D Secure if the mode asks: a challenge, once recorded, sends the
// card holder away before anything is charged.
func (s *Payments) cardPath(ctx context.Context, m *store.Merchant, p *store.Payment, params PaymentParams, mode string, now time.Time) (charge, error) {
	pc, brand, err := parseCard(params.Card, now, "card.")
	if err != nil {
		return charge{}, err
	}
	c := charge{pc: pc}
	p.Card = store.PaymentCard{Brand: string(brand), BIN: card.BIN(pc.Number), Last4: card.Last4(pc.Number), Mask: card.Mask(pc.Number),
		ExpMonth: pc.ExpMonth, ExpYear: pc.ExpYear}
	if p.Card.Fingerprint, err = s.sealer.fingerprint(ctx, m.ID, pc.Number); err != nil {
		return charge{}, err
	}
	if err := s.cards.admitCard(ctx, m, p.Card.BIN, p.Card.Last4, p.Card.Fingerprint, false); err != nil {
		return charge{}, err
	}
	if mode == ThreeDSNever {
		return c, nil
	}
	a, err := s.challenges.authenticate(ctx, processor.AuthenticateRequest{MerchantID: m.ID, Reference: p.ID, Card: pc,
		Amount: p.Amount, Currency: p.Currency, Mandated: mode == ThreeDSRequired})
	if err != nil || a == nil {
		return c, err
	}
	switch a.Status {
	case processor.AuthChallengeRequired:
		sec := challengeSecret{Number: pc.Number, ExpMonth: pc.ExpMonth, ExpYear: pc.ExpYear, CVC: pc.CVC, HolderName: pc.HolderName,
			AddressLine1: pc.AddressLine1, PostalCode: pc.PostalCode, Country: pc.Country, SaveCard: params.SaveCard}
		if c.challenge, err = s.challenges.newChallenge(ctx, m, "payment", p.ID, a, p.Amount, p.Currency, p.Card.Brand, p.Card.Mask,
			p.Card.Fingerprint, params.ReturnURL, false, sec); err != nil {
			return charge{}, err
		}
		p.Status, p.ChallengeID = store.PaymentRequiresAction, c.challenge.ID
	case processor.AuthFailed:
		p.Authentication, c.unusable = recorded(*a), authFailure(msgAuthFailed)
	default:
		p.Authentication = recorded(*a)
	}
	return c, nil
}

// tokenPath checks a saved card: its customer, the CVC rules, and whether
// the token may be charged at all (a token that may not is recorded as a
// failed payment, not refused).
func (s *Payments) tokenPath(ctx context.Context, m *store.Merchant, p *store.Payment, params PaymentParams, now time.Time) (charge, error) {
	var tok *store.Token
	// Deferred: the attempt's record, written durably next, covers the read.
	err := s.store.Read(store.Deferrable(ctx), func(tx store.Tx) error { var err error; tok, err = tx.GetTokenAny(m.ID, params.Token); return err })
	if isNotFound(err) {
		return charge{}, notFound("token", "token", params.Token)
	} else if err != nil {
		return charge{}, err
	}
	if p.CustomerID == "" {
		p.CustomerID = tok.CustomerID
	} else if tok.CustomerID != "" && tok.CustomerID != p.CustomerID {
		return charge{}, invalid("customer", "parameter_invalid", "the token belongs to another customer")
	}
	if params.CVC != "" {
		if err := card.ValidateCVC(params.CVC, card.Brand(tok.Brand)); err != nil {
			return charge{}, fromCardField("", err)
		}
		if err := s.cards.admitCVC(ctx, m, tok); err != nil {
			return charge{}, err
		}
	} else if m.Settings.RequireCVCForSavedCards && !params.MerchantInitiated {
		return charge{}, invalid("cvc", "parameter_missing", "cvc is required to charge a saved card (merchant setting require_cvc_for_saved_cards)")
	}
	p.Card = store.PaymentCard{Brand: tok.Brand, BIN: tok.BIN, Last4: tok.Last4, Mask: tok.Mask, ExpMonth: tok.ExpMonth,
		ExpYear: tok.ExpYear, Fingerprint: tok.Fingerprint}
	c := charge{unusable: unusableToken(tok, now)}
	if c.unusable == nil {
		c.tok = tok
	}
	return c, nil
}

// unusableToken is why a token may not be charged at now, or nil if it may.
func unusableToken(tok *store.Token, now time.Time) *store.Failure {
	switch {
	case tok.Status == store.TokenDeleted:
		return &store.Failure{Code: "card_declined", DeclineCode: "token_deleted", Message: "The token was deleted and cannot be charged."}
	case tok.Status == store.TokenDisabled:
		return &store.Failure{Code: "card_declined", DeclineCode: "token_disabled", Message: "The token is disabled and cannot be charged."}
	case tok.Status != store.TokenActive:
		return &store.Failure{Code: "card_declined", DeclineCode: "token_inactive", Message: "The token is " + tok.Status + " and cannot be charged."}
	case card.Expired(tok.ExpMonth, tok.ExpYear, now):
		return &store.Failure{Code: "expired_card", DeclineCode: "expired_card", Message: "The card has expired."}
	}
	return nil
}

// record stores the attempt durably before any money moves. Under an
// Idempotency-Key the id is deterministic: finding it already there means an
// earlier attempt died, and we resume it (resumed, with p as it was stored).
// The detokenization's audit record rides in the same transaction.
func (s *Payments) record(ctx context.Context, m *store.Merchant, p *store.Payment, c charge) (resumed bool, err error) {
	var audit *store.Audit
	if c.tok != nil {
		audit = s.tokens.auditRecord(ctx, c.tok, "payment "+p.ID)
	}
	err = s.store.Write(ctx, func(tx store.Tx) error {
		resumed = false
		if audit != nil {
			if err := tx.InsertAudit(audit); err != nil {
				return err
			}
		}
		if c.unusable != nil {
			p.Status, p.Failure = store.PaymentFailed, c.unusable
		}
		err := tx.InsertPayment(p)
		if errors.Is(err, store.ErrConflict) {
			// Only a derived id can already exist: an earlier attempt under
			// this Idempotency-Key died part way. Resume it — after claiming
			// it, so that Reconcile and this retry never both act on it.
			old, err := tx.GetPayment(m.ID, p.ID)
			if err != nil {
				return err
			}
			if old.Card.Fingerprint != p.Card.Fingerprint || old.TokenID != p.TokenID {
				// A derived id (a session's attempt) met a different card:
				// resuming would charge this card under that card's record.
				return &Error{Kind: KindConflict, Code: "payment_mismatch",
					Message: "An earlier attempt of this payment used another card; start a new attempt."}
			}
			*p, resumed = *old, true
			if p.Status != store.PaymentProcessing {
				return nil
			}
			now := s.now()
			if p.PendingOp != "" && p.PendingUntil.After(now) {
				return &Error{Kind: KindConflict, Code: "operation_in_progress", Message: "This payment is being settled; retry shortly."}
			}
			p.PendingOp, p.PendingUntil = "create", now.Add(opLease)
			return tx.UpdatePayment(p)
		}
		if err != nil {
			return err
		}
		if c.challenge != nil {
			return tx.InsertChallenge(c.challenge)
		}
		if c.unusable == nil {
			return nil
		}
		return s.paymentEvent(tx, p, "payment.failed")
	})
	return resumed, err
}

// queueRecord queues the record of a new attempt (with its detokenization's
// audit record) without waiting for the writer to run it (store.Unawaited).
// Only where record has nothing to tell: the id is random, so no earlier
// attempt can be found under it, and the attempt neither fails at once nor
// waits for a challenge. The acquirer that shares the log, and the outcome,
// are written after it; if it fails after all, the call's fence fails and
// they are refused, and nothing has left the process (the acquirer is in
// it, and the answer waits for the fence).
func (s *Payments) queueRecord(ctx context.Context, p *store.Payment, c charge) error {
	audit := s.tokens.auditRecord(ctx, c.tok, "payment "+p.ID)
	rec := *p // the caller goes on changing p while the writer has not run this yet
	return s.store.Write(store.Unawaited(ctx), func(tx store.Tx) error {
		if err := tx.InsertAudit(audit); err != nil {
			return err
		}
		return tx.InsertPayment(&rec)
	})
}

// settle moves the money for a recorded, processing payment: it reads the
// saved card, authenticates a present card holder where the mode asks, and
// authorizes. It finishes regardless of the client.
func (s *Payments) settle(ctx context.Context, m *store.Merchant, p *store.Payment, params PaymentParams, mode string, c charge, resumed bool) (PaymentView, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	pc := c.pc
	if c.tok != nil {
		pan, err := s.tokens.decryptToken(ctx, c.tok)
		if err != nil {
			return PaymentView{}, err
		}
		pc = processor.Card{Number: pan, ExpMonth: c.tok.ExpMonth, ExpYear: c.tok.ExpYear, CVC: params.CVC, HolderName: c.tok.HolderName}
	}

	if c.tok != nil && (mode == ThreeDSRequired || mode == ThreeDSIfRequired && params.ReturnURL != "") {
		// A card holder who is present (the merchant can send them to a
		// challenge) is authenticated; a merchant-initiated charge of a
		// saved card is not, unless the merchant requires it.
		a, err := s.challenges.authenticate(ctx, processor.AuthenticateRequest{MerchantID: m.ID, Reference: p.ID, Card: pc,
			Amount: p.Amount, Currency: p.Currency, Mandated: mode == ThreeDSRequired})
		if err != nil {
			// Nothing has moved: the payment fails, and may be tried again.
			return s.fail(ctx, p, &processor.Decline{Code: processor.CodeProcessingError, DeclineCode: processor.CodeProcessingError,
				Message: "3-D Secure could not be started; nothing was charged. Try again."})
		}
		if a != nil {
			switch a.Status {
			case processor.AuthChallengeRequired:
				return s.awaitChallenge(ctx, m, p, a, params, pc)
			case processor.AuthFailed:
				p.Authentication = recorded(*a)
				return s.fail(ctx, p, &processor.Decline{Code: processor.CodeAuthenticationFailed, DeclineCode: processor.CodeAuthenticationFailed, Message: msgAuthFailed})
			default:
				p.Authentication = recorded(*a)
			}
		}
	}
	view, err := s.authorize(ctx, p, attempt{card: pc, stored: c.stored, saveCard: params.SaveCard, resumed: resumed, returnURL: params.ReturnURL,
		newReference: !resumed})
	if params.Card != nil || params.CVC != "" {
		s.cards.cardOutcome(ctx, m, p.Card.BIN, p.Card.Last4, p.Card.Fingerprint, p.TokenID, err)
	}
	return view, err
}

// authorize runs the authorization (or sale) of a payment recorded as
// processing, and records its outcome and, if asked, the card as a token.
// attempt is what authorize sends: a card in clear or one the acquirer
// keeps, and what the request asked besides.
type attempt struct {
	card      processor.Card
	stored    *processor.StoredCard
	saveCard  bool
	resumed   bool
	returnURL string // where the acquirer's own 3-D Secure page sends the card holder back
	// newReference: the payment's record was inserted by this very call,
	// so no acquirer can have seen its id (processor.AuthorizeRequest); not
	// so for a challenge's answer, which a retry after a crash repeats.
	newReference bool
}

func (s *Payments) authorize(ctx context.Context, p *store.Payment, at attempt) (PaymentView, error) {
	pc, saveCard, resumed := at.card, at.saveCard, at.resumed
	now := s.now()
	// Immediate capture is one "sale" message to the acquirer; both calls are
	// idempotent by our reference, so a resumed attempt gets the first
	// attempt's authorization (and capture) back instead of new ones.
	req := processor.AuthorizeRequest{MerchantID: p.MerchantID, Reference: p.ID, Card: pc, Amount: p.Amount, Currency: p.Currency,
		Authentication: processorAuth(p.Authentication), ReturnURL: at.returnURL, Stored: at.stored, NewReference: at.newReference}
	auth, capt, err := s.acquire(ctx, p, req)
	var action *processor.ActionRequired
	if errors.As(err, &action) {
		return s.awaitAcquirer(ctx, p, action)
	}
	if err != nil {
		return s.fail(ctx, p, err)
	}
	evt := "payment.requires_capture"
	if p.CaptureMethod == "automatic" {
		p.Status, p.AmountCaptured, p.Processor.CaptureID, evt = store.PaymentSucceeded, capt.Amount, capt.ID, "payment.succeeded"
	} else {
		p.Status, p.AmountCapturable = store.PaymentRequiresCapture, p.Amount
	}
	account, typ, pinned := p.Processor.Account, p.Processor.Type, p.Processor.Pinned
	p.Processor = store.ProcessorResult{Account: account, Type: typ, Pinned: pinned, AuthCode: auth.AuthCode, AVSResult: auth.AVSResult,
		CVCResult: auth.CVCResult, NetworkRef: auth.ID, AuthorizationID: auth.ID, CaptureID: p.Processor.CaptureID}

	var tok *store.Token
	if saveCard {
		tok = &store.Token{ID: vault.NewToken(), MerchantID: p.MerchantID, CustomerID: p.CustomerID, Status: store.TokenActive,
			Brand: p.Card.Brand, BIN: p.Card.BIN, Last4: p.Card.Last4, Mask: p.Card.Mask, ExpMonth: p.Card.ExpMonth,
			ExpYear: p.Card.ExpYear, HolderName: pc.HolderName, Created: now, Updated: now,
			Verification: store.Verification{Status: "verified", ThreeDSecure: threeDSStatus(p.Authentication), CVCCheck: orDefault(auth.CVCResult, "unchecked"),
				AVSCheck: orDefault(auth.AVSResult, "unavailable"), AuthCode: auth.AuthCode, NetworkRef: auth.ID, VerifiedAt: &now,
				Authentication: p.Authentication}}
		if sid := p.Metadata["session"]; sid != "" {
			// Where the card was saved: a dialect tells an agreement's card
			// from one saved for the holder's own later use by it.
			tok.Metadata = map[string]string{"session": sid}
		}
		if err := s.tokens.sealToken(ctx, tok, pc.Number); err != nil {
			return PaymentView{}, err
		}
	}
	p.Updated = s.now()
	p.PendingOp, p.PendingUntil = "", time.Time{} // a resumed attempt's claim ends with it
	if tok == nil && !resumed {
		// The common case, kept light for the single writer: the view and the
		// event are rendered here; a new payment has no refunds yet.
		view := s.viewPayment(p, nil)
		data, err := json.Marshal(view)
		if err != nil {
			return PaymentView{}, err
		}
		err = s.store.Write(ctx, func(tx store.Tx) error {
			// Conditional: Reconcile may have settled a slow attempt meanwhile.
			if err := tx.UpdatePaymentIf(p, store.PaymentProcessing); err != nil {
				return err
			}
			return s.events.eventData(tx, p.MerchantID, evt, "payment", p.ID, data)
		})
		if isNotFound(err) {
			return PaymentView{}, badState("The payment was settled while this request ran.")
		}
		return view, err
	}
	done := *p
	err = s.store.Write(ctx, func(tx store.Tx) error {
		*p = done
		if tok != nil {
			t := *tok
			_, err := s.tokens.saveToken(tx, &t, now)
			switch {
			case err == nil:
				p.TokenID = t.ID
			case isNotFound(err):
				// The customer was deleted while the card holder paid (3-D
				// Secure can take minutes): the charge stands, unsaved.
			default:
				return err
			}
		}
		if err := tx.UpdatePaymentIf(p, store.PaymentProcessing); err != nil {
			return err
		}
		return s.paymentEvent(tx, p, evt)
	})
	if isNotFound(err) {
		return PaymentView{}, badState("The payment was settled while this request ran.")
	}
	if err != nil {
		return PaymentView{}, err
	}
	return s.GetPayment(ctx, p.MerchantID, p.ID)
}

// awaitChallenge parks a payment by token (recorded as processing, its card
// opened) in requires_action until its card holder answers the challenge;
// only the CVC, if any, is kept, sealed in the challenge.
func (s *Payments) awaitChallenge(ctx context.Context, m *store.Merchant, p *store.Payment, a *processor.Authentication,
	params PaymentParams, pc processor.Card) (PaymentView, error) {
	c, err := s.challenges.newChallenge(ctx, m, "payment", p.ID, a, p.Amount, p.Currency, p.Card.Brand, p.Card.Mask, p.Card.Fingerprint, params.ReturnURL, false,
		challengeSecret{CVC: pc.CVC})
	if err != nil {
		return PaymentView{}, err
	}
	p.Status, p.ChallengeID, p.Updated = store.PaymentRequiresAction, c.ID, s.now()
	p.PendingOp, p.PendingUntil = "", time.Time{}
	parked := *p
	err = s.store.Write(ctx, func(tx store.Tx) error {
		*p = parked
		if err := tx.UpdatePaymentIf(p, store.PaymentProcessing); err != nil {
			return err
		}
		return tx.InsertChallenge(c)
	})
	if isNotFound(err) {
		return PaymentView{}, badState("The payment was settled while this request ran.")
	}
	if err != nil {
		return PaymentView{}, err
	}
	return s.viewPayment(p, nil), nil
}

// processorAuth is a recorded 3-D Secure result as the acquirer takes it.
func processorAuth(a *store.Authentication) *processor.Authentication {
	if a == nil {
		return nil
	}
	return &processor.Authentication{Status: a.Status, ECI: a.ECI, Version: a.Version, TransactionID: a.TransactionID}
}

// threeDSStatus is a verification's three_d_secure summary.
func threeDSStatus(a *store.Authentication) string {
	if a == nil {
		return processor.AuthNotRequired
	}
	return a.Status
}

// finished answers a resumed payment that had already reached a final state.
func (s *Payments) finished(ctx context.Context, p *store.Payment) (PaymentView, error) {
	if p.Status == store.PaymentFailed {
		return PaymentView{}, s.paymentError(ctx, p)
	}
	return s.GetPayment(ctx, p.MerchantID, p.ID)
}

// fail records a refused or failed authorization.
func (s *Payments) fail(ctx context.Context, p *store.Payment, cause error) (PaymentView, error) {
	var d *processor.Decline
	if !errors.As(cause, &d) {
		return s.unsettled(ctx, p, cause)
	}
	msg := d.Message
	if msg == "" {
		msg = "The card was declined."
	}
	p.Failure = &store.Failure{Code: d.Code, DeclineCode: d.DeclineCode, Message: msg}
	p.Processor.AVSResult, p.Processor.CVCResult = d.AVSResult, d.CVCResult
	p.Status, p.Updated = store.PaymentFailed, s.now()
	p.PendingOp, p.PendingUntil = "", time.Time{}
	failed := *p
	err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		*p = failed
		if err := tx.UpdatePaymentIf(p, store.PaymentProcessing); err != nil {
			return err
		}
		return s.paymentEvent(tx, p, "payment.failed")
	})
	if isNotFound(err) {
		return PaymentView{}, badState("The payment was settled while this request ran.")
	}
	if err != nil {
		return PaymentView{}, err
	}
	return PaymentView{}, s.paymentError(ctx, p)
}

// unsettled answers a processor failure that is not a refusal. Unless the
// processor refused the request outright (nothing happened), the outcome is
// unknown — the card may have been charged — so the payment stays processing:
// a retry with the same Idempotency-Key resumes it (the acquirer dedupes by
// our reference), and otherwise Reconcile settles it with the acquirer.
func (s *Payments) unsettled(ctx context.Context, p *store.Payment, cause error) (PaymentView, error) {
	s.log.Error("processor failed", "payment", p.ID, "error", cause.Error())
	if errors.Is(cause, processor.ErrInvalidRequest) {
		p.Failure = &store.Failure{Code: "processing_error", Message: "The card processor refused the request; nothing was charged."}
		p.Status, p.Updated = store.PaymentFailed, s.now()
		failed := *p
		if err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
			*p = failed
			if err := tx.UpdatePaymentIf(p, store.PaymentProcessing); err != nil {
				return err
			}
			return s.paymentEvent(tx, p, "payment.failed")
		}); err != nil && !isNotFound(err) {
			return PaymentView{}, err
		}
	}
	e := &Error{Kind: KindUpstream, Code: "processing_error",
		Message: "The card processor did not confirm the payment. Retry with the same Idempotency-Key, or read the payment later: it is settled with the processor within minutes."}
	if p.Status == store.PaymentFailed {
		e.Message = p.Failure.Message
	}
	if v, err := s.GetPayment(ctx, p.MerchantID, p.ID); err == nil {
		e.Payment = &v
	}
	return PaymentView{}, e
}

// GetPayment reads a payment with its refunds.
func (s *Payments) GetPayment(ctx context.Context, merchantID, paymentID string) (PaymentView, error) {
	var v PaymentView
	var waiting *store.Payment
	err := s.store.Read(ctx, func(tx store.Tx) error {
		p, err := tx.GetPayment(merchantID, paymentID)
		if err != nil {
			return err
		}
		if p.Status == store.PaymentRequiresAction && p.Processor.ActionURL != "" {
			waiting = p
		}
		refunds, err := tx.ListRefunds(merchantID, paymentID)
		if err != nil {
			return err
		}
		v = s.viewPayment(p, refunds)
		return nil
	})
	if isNotFound(err) {
		return v, notFound("id", "payment", paymentID)
	}
	if err == nil && waiting != nil {
		// The card holder may have finished the acquirer's 3-D Secure page:
		// the merchant reading the payment learns the outcome.
		if changed, aerr := s.settleAction(ctx, waiting); aerr == nil && changed {
			return s.GetPayment(ctx, merchantID, paymentID)
		}
	}
	return v, err
}

// ListPayments pages through a merchant's payments.
func (s *Payments) ListPayments(ctx context.Context, merchantID string, f store.PaymentFilter) ([]PaymentView, bool, error) {
	var out []PaymentView
	var more bool
	err := s.store.Read(ctx, func(tx store.Tx) error {
		ps, m, err := tx.ListPayments(merchantID, f)
		if err != nil {
			return err
		}
		more = m
		for _, p := range ps {
			refunds, err := tx.ListRefunds(merchantID, p.ID)
			if err != nil {
				return err
			}
			out = append(out, s.viewPayment(p, refunds))
		}
		return nil
	})
	if isNotFound(err) {
		return nil, false, notFound("starting_after", "payment", f.StartingAfter)
	}
	return out, more, err
}

// ListRefunds lists one payment's refunds.
func (s *Payments) ListRefunds(ctx context.Context, merchantID, paymentID string) ([]RefundView, error) {
	v, err := s.GetPayment(ctx, merchantID, paymentID)
	if err != nil {
		return nil, err
	}
	return v.Refunds, nil
}

// claim takes a payment in requires_capture for one capture or cancel. The
// claim is durable, so two requests (or two servers) cannot both act.
//
// A keyed request retried after a crash meets its own traces: its claim
// still held (it died mid-way) is taken over — the Idempotency-Key is the
// retry's now, so the holder is gone — and its operation already done is
// reported done, so the retry answers it as the first attempt would have.
func (s *Payments) claim(ctx context.Context, merchantID, paymentID, op string, check func(p *store.Payment) error) (p *store.Payment, done bool, err error) {
	key := opKey(ctx)
	err = s.store.Write(ctx, func(tx store.Tx) error {
		done = false
		var err error
		if p, err = tx.GetPayment(merchantID, paymentID); err != nil {
			return err
		}
		now := s.now()
		ours := key != "" && p.OpKey == key
		switch {
		case ours && p.PendingOp == "" && p.Status == map[string]string{"capture": store.PaymentSucceeded, "cancel": store.PaymentCanceled}[op]:
			done = true
			return nil
		case ours && p.PendingOp == op:
			// Taken over below: the acquirer tells what the dead attempt did.
		case p.PendingOp != "" && p.PendingUntil.After(now):
			return &Error{Kind: KindConflict, Code: "operation_in_progress", Message: fmt.Sprintf("A %s of this payment is in progress; retry shortly.", p.PendingOp)}
		}
		if err := claimable(p.Status, op); err != nil {
			return err
		}
		if err := check(p); err != nil {
			return err
		}
		p.PendingOp, p.PendingUntil, p.OpKey = op, now.Add(opLease), key
		return tx.UpdatePayment(p)
	})
	if isNotFound(err) {
		return nil, false, notFound("id", "payment", paymentID)
	}
	return p, done, err
}

// claimable says whether a payment in status may be captured or canceled
// (op): only an authorization not yet captured may.
func claimable(status, op string) error {
	if status != store.PaymentRequiresCapture {
		return badState("A payment in status %s cannot be %s.", status, map[string]string{"capture": "captured", "cancel": "canceled"}[op])
	}
	return nil
}

// captureAmount is how much a capture of p takes: amount, or all that is
// authorized if nil; never more than is authorized.
func captureAmount(p *store.Payment, amount *int64) (int64, error) {
	amt := p.AmountCapturable
	if amount != nil {
		amt = *amount
	}
	if amt <= 0 {
		return 0, invalid("amount", "parameter_invalid", "amount must be a positive integer")
	}
	if amt > p.AmountCapturable {
		// The requested amount is not echoed: a client's number could be a card number.
		return 0, invalid("amount", "amount_too_large", "amount is more than the %d authorized", p.AmountCapturable)
	}
	return amt, nil
}

// refundAmount is how much a new refund of p takes: amount, or all that is
// captured and not yet refunded if nil; only a succeeded payment is refunded,
// and never beyond what was captured.
func refundAmount(p *store.Payment, amount *int64) (int64, error) {
	if p.Status != store.PaymentSucceeded {
		return 0, badState("A payment in status %s cannot be refunded.", p.Status)
	}
	remaining := p.AmountCaptured - p.AmountRefunded
	if remaining <= 0 {
		return 0, badState("The payment is already fully refunded.")
	}
	amt := remaining
	if amount != nil {
		amt = *amount
	}
	if amt <= 0 {
		return 0, invalid("amount", "parameter_invalid", "amount must be a positive integer")
	}
	if amt > remaining {
		// The requested amount is not echoed: a client's number could be a card number.
		return 0, invalid("amount", "amount_too_large", "amount is more than the %d left to refund", remaining)
	}
	return amt, nil
}

// errClaimLost: the payment's claim changed hands (it lapsed and another
// request or Reconcile took it); the outcome is that holder's to record.
var errClaimLost = &Error{Kind: KindConflict, Code: "operation_in_progress", Message: "Another operation on this payment took over; read the payment for its outcome."}

// release ends a claim, applying the outcome (if any) and its event. It acts
// only while the stored claim is still the one p holds: a claim that lapsed
// and was taken over must not be overwritten with this holder's stale row.
func (s *Payments) release(ctx context.Context, p *store.Payment, apply func(p *store.Payment), evt string) error {
	base := *p
	return s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		*p = base
		cur, err := tx.GetPayment(p.MerchantID, p.ID)
		if err != nil {
			return err
		}
		if cur.PendingOp != base.PendingOp || !cur.PendingUntil.Equal(base.PendingUntil) || cur.Status != base.Status {
			return errClaimLost
		}
		if apply != nil {
			apply(p)
		}
		p.PendingOp, p.PendingUntil, p.Updated = "", time.Time{}, s.now()
		if err := tx.UpdatePayment(p); err != nil {
			return err
		}
		if evt == "" {
			return nil
		}
		return s.paymentEvent(tx, p, evt)
	})
}

// acquirerOf is the acquirer a recorded payment went to.
func (s *Payments) acquirerOf(ctx context.Context, p *store.Payment) (processor.Processor, error) {
	a, err := s.acquirers.forPayment(ctx, p)
	if err != nil {
		return nil, err
	}
	return a.proc, nil
}

// settleFromAcquirer records what the acquirer did to a payment's
// authorization when our record lags behind (a capture or void whose
// outcome was lost to a crash). It reports whether it changed the payment.
func (s *Payments) settleFromAcquirer(ctx context.Context, p *store.Payment) (bool, error) {
	acq, err := s.acquirerOf(ctx, p)
	if err != nil {
		return false, err
	}
	a, err := acq.Lookup(ctx, p.MerchantID, p.ID)
	if err != nil {
		return false, err
	}
	switch {
	case a.Captured > 0:
		return true, s.release(ctx, p, func(p *store.Payment) {
			p.Status, p.AmountCaptured, p.AmountCapturable, p.Processor.CaptureID = store.PaymentSucceeded, a.Captured, 0, a.CaptureID
		}, "payment.captured")
	case a.Voided:
		return true, s.release(ctx, p, func(p *store.Payment) { p.Status, p.AmountCapturable = store.PaymentCanceled, 0 }, "payment.canceled")
	}
	return false, nil
}

func upstreamErr(err error) error {
	if errors.Is(err, processor.ErrInvalidState) || errors.Is(err, processor.ErrNotFound) {
		return &Error{Kind: KindInvalidState, Code: "invalid_state", Message: "The processor refused the operation for this payment's state."}
	}
	return fromDecline(err)
}

// CapturePayment captures an authorized payment, fully or partly, once.
func (s *Payments) CapturePayment(ctx context.Context, merchantID, paymentID string, amount *int64) (PaymentView, error) {
	var amt int64
	p, done, err := s.claim(ctx, merchantID, paymentID, "capture", func(p *store.Payment) error {
		var err error
		amt, err = captureAmount(p, amount)
		return err
	})
	if err != nil {
		return PaymentView{}, err
	}
	if done {
		return s.GetPayment(ctx, merchantID, paymentID)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	acq, err := s.acquirerOf(ctx, p)
	if err != nil {
		return PaymentView{}, err
	}
	c, err := acq.Capture(ctx, p.Processor.AuthorizationID, amt)
	if err != nil {
		// An earlier attempt that died may have captured or voided already.
		if settled, serr := s.settleFromAcquirer(ctx, p); serr == nil && settled {
			return s.GetPayment(ctx, merchantID, paymentID)
		}
		if rerr := s.release(ctx, p, nil, ""); rerr != nil {
			return PaymentView{}, rerr
		}
		return PaymentView{}, upstreamErr(err)
	}
	err = s.release(ctx, p, func(p *store.Payment) {
		p.Status, p.AmountCaptured, p.AmountCapturable, p.Processor.CaptureID = store.PaymentSucceeded, c.Amount, 0, c.ID
	}, "payment.captured")
	if err != nil {
		return PaymentView{}, err
	}
	return s.GetPayment(ctx, merchantID, paymentID)
}

// CancelPayment voids an authorized, uncaptured payment.
func (s *Payments) CancelPayment(ctx context.Context, merchantID, paymentID string) (PaymentView, error) {
	p, done, err := s.claim(ctx, merchantID, paymentID, "cancel", func(*store.Payment) error { return nil })
	if err != nil {
		return PaymentView{}, err
	}
	if done {
		return s.GetPayment(ctx, merchantID, paymentID)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	acq, err := s.acquirerOf(ctx, p)
	if err != nil {
		return PaymentView{}, err
	}
	if err := acq.Void(ctx, p.Processor.AuthorizationID); err != nil {
		if settled, serr := s.settleFromAcquirer(ctx, p); serr == nil && settled {
			// Report what the acquirer did: a void whose answer was lost is a cancel.
			v, err := s.GetPayment(ctx, merchantID, paymentID)
			if err == nil && v.Status != store.PaymentCanceled {
				return PaymentView{}, badState("The payment was captured before it could be canceled.")
			}
			return v, err
		}
		if rerr := s.release(ctx, p, nil, ""); rerr != nil {
			return PaymentView{}, rerr
		}
		return PaymentView{}, upstreamErr(err)
	}
	if err := s.release(ctx, p, func(p *store.Payment) { p.Status, p.AmountCapturable = store.PaymentCanceled, 0 }, "payment.canceled"); err != nil {
		return PaymentView{}, err
	}
	return s.GetPayment(ctx, merchantID, paymentID)
}

// RefundPayment refunds part or all of what was captured. The amount is
// reserved on the payment in the same transaction that checks it, so
// concurrent refunds can never add up to more than was captured.
func (s *Payments) RefundPayment(ctx context.Context, merchantID, paymentID string, amount *int64, reason string) (RefundView, error) {
	if err := checkText("reason", reason, 200); err != nil {
		return RefundView{}, err
	}
	// Under an Idempotency-Key the refund id — our reference at the acquirer,
	// which dedupes on it — is derived from the key's claim, like a payment's:
	// a retry after a lost answer or a crash resumes this refund.
	rid := derivedID(ctx, "re", "coffer refund id|")
	var p *store.Payment
	var r *store.Refund
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		r = nil
		if p, err = tx.GetPayment(merchantID, paymentID); err != nil {
			return err
		}
		if refunds, err := tx.ListRefunds(merchantID, paymentID); err != nil {
			return err
		} else {
			for _, x := range refunds {
				if x.ID == rid {
					r = x // resume
					return nil
				}
			}
		}
		amt, err := refundAmount(p, amount)
		if err != nil {
			return err
		}
		now := s.now()
		r = &store.Refund{ID: rid, MerchantID: merchantID, PaymentID: paymentID, Amount: amt, Currency: p.Currency,
			Status: store.RefundPending, Reason: reason, Created: now, Updated: now}
		if err := tx.InsertRefund(r); err != nil {
			return err
		}
		p.AmountRefunded += amt
		p.Updated = now
		return tx.UpdatePayment(p)
	})
	if isNotFound(err) {
		return RefundView{}, notFound("id", "payment", paymentID)
	}
	if err != nil {
		return RefundView{}, err
	}
	if r.Status != store.RefundPending {
		return ViewRefund(r), nil // a resumed refund that had finished
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	acq, err := s.acquirerOf(ctx, p)
	if err != nil {
		return RefundView{}, err
	}
	ref, perr := acq.Refund(ctx, p.Processor.CaptureID, r.Amount, r.ID)
	if perr != nil && !definite(perr) {
		// The acquirer may have refunded: leave it pending for a retry with
		// the same key, or for Reconcile, to settle by its reference.
		s.log.Error("refund outcome unknown", "refund", r.ID, "error", perr.Error())
		return RefundView{}, &Error{Kind: KindUpstream, Code: "processing_error",
			Message: "The card processor did not confirm the refund. Retry with the same Idempotency-Key, or read the payment later: it is settled with the processor within minutes."}
	}
	if err := s.settleRefund(ctx, r, ref, perr); err != nil {
		return RefundView{}, err
	}
	if perr != nil {
		return RefundView{}, upstreamErr(perr)
	}
	return ViewRefund(r), nil
}

// definite reports whether a processor error means nothing happened.
func definite(err error) bool {
	var d *processor.Decline
	return errors.As(err, &d) || errors.Is(err, processor.ErrInvalidState) || errors.Is(err, processor.ErrNotFound) ||
		errors.Is(err, processor.ErrInvalidRequest)
}

// settleRefund records a pending refund's outcome: succeeded, or failed with
// its reservation on the payment released. Only a refund still pending is
// changed, so a racing settlement (a retry, Reconcile) is applied once.
func (s *Payments) settleRefund(ctx context.Context, r *store.Refund, ref processor.Refund, perr error) error {
	base := *r
	return s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		*r = base
		cur, err := tx.GetPayment(r.MerchantID, r.PaymentID)
		if err != nil {
			return err
		}
		refunds, err := tx.ListRefunds(r.MerchantID, r.PaymentID)
		if err != nil {
			return err
		}
		for _, x := range refunds {
			if x.ID == r.ID && x.Status != store.RefundPending {
				*r = *x // already settled
				return nil
			}
		}
		r.Updated = s.now()
		if perr != nil {
			r.Status, r.Failure = store.RefundFailed, &store.Failure{Code: "processing_error", Message: "The processor refused the refund; nothing was refunded."}
			cur.AmountRefunded -= r.Amount // release the reservation
		} else {
			r.Status, r.ProcessorRef = store.RefundSucceeded, ref.ID
		}
		cur.Updated = r.Updated
		if err := tx.UpdateRefund(r); err != nil {
			return err
		}
		if err := tx.UpdatePayment(cur); err != nil {
			return err
		}
		if perr != nil {
			return s.paymentEvent(tx, cur, "payment.refund_failed") // its reservation is released
		}
		return s.paymentEvent(tx, cur, "payment.refunded")
	})
}

// StaleAfter is how long a payment may stay processing before Reconcile
// settles it: longer than any request may run (the server's write timeout).
const StaleAfter = 2 * time.Minute

// Reconcile settles payments left in processing by a crash between recording
// an attempt and finishing it. It asks the acquirer what happened (by our
// reference); an authorization that went through is reversed, since its
// client never heard of success, and the payment is marked failed either way.
// A client retrying with the same Idempotency-Key then gets that outcome.
func (s *Payments) Reconcile(ctx context.Context) (settled int, err error) {
	var stale []*store.Payment
	if err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		stale, err = tx.StaleProcessing(s.now().Add(-StaleAfter), 100)
		return err
	}); err != nil {
		return 0, err
	}
	var lapsed []*store.Payment
	if err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		lapsed, err = tx.LapsedClaims(s.now(), 100)
		return err
	}); err != nil {
		return 0, err
	}
	for _, p := range lapsed {
		// A capture or cancel claim that lapsed means its holder died after
		// (perhaps) acting at the acquirer: settle what the acquirer did.
		if changed, err := s.settleFromAcquirer(ctx, p); err != nil {
			s.log.Error("reconcile: lookup failed", "payment", p.ID, "error", err.Error())
		} else if changed {
			s.log.Warn("reconciled an interrupted capture or cancel", "payment", p.ID, "merchant", p.MerchantID)
			settled++
		} else if err := s.release(ctx, p, nil, ""); err != nil {
			return settled, err
		}
	}
	n, err := s.reconcileRefunds(ctx)
	settled += n
	if err != nil {
		return settled, err
	}
	for _, p := range stale {
		// Claim it first: a retry resuming the same payment must not act at
		// the acquirer while Reconcile does (one of them waits with a 409).
		claimed := false
		if err := s.store.Write(ctx, func(tx store.Tx) error {
			claimed = false
			cur, err := tx.GetPayment(p.MerchantID, p.ID)
			if err != nil {
				return err
			}
			now := s.now()
			if cur.Status != store.PaymentProcessing || (cur.PendingOp != "" && cur.PendingUntil.After(now)) {
				return nil
			}
			cur.PendingOp, cur.PendingUntil = "reconcile", now.Add(opLease)
			*p, claimed = *cur, true
			return tx.UpdatePayment(cur)
		}); err != nil {
			return settled, err
		}
		if !claimed {
			continue
		}
		acq, err := s.acquirerOf(ctx, p)
		if err != nil {
			s.log.Error("reconcile: no acquirer", "payment", p.ID, "error", err.Error())
			continue
		}
		auth, lerr := acq.Lookup(ctx, p.MerchantID, p.ID)
		var d *processor.Decline
		switch {
		case lerr == nil:
			if auth.Captured > 0 && auth.Refunded < auth.Captured {
				if _, err := acq.Refund(ctx, auth.CaptureID, auth.Captured-auth.Refunded, "reversal_"+p.ID); err != nil {
					s.log.Error("reconcile: refund failed", "payment", p.ID, "error", err.Error())
					continue
				}
			}
			if auth.Captured > 0 {
				// The books show what happened: captured, then refunded in full.
				p.AmountCaptured, p.AmountRefunded, p.Processor.CaptureID = auth.Captured, auth.Captured, auth.CaptureID
			} else if auth.Captured == 0 && !auth.Voided {
				if err := acq.Void(ctx, auth.ID); err != nil {
					s.log.Error("reconcile: void failed", "payment", p.ID, "error", err.Error())
					continue
				}
			}
			p.Failure = &store.Failure{Code: "processing_error", Message: "The payment was interrupted; its authorization was reversed."}
		case errors.Is(lerr, processor.ErrNotFound):
			p.Failure = &store.Failure{Code: "processing_error", Message: "The payment was interrupted before the card was charged."}
		case errors.As(lerr, &d):
			p.Failure = &store.Failure{Code: d.Code, DeclineCode: d.DeclineCode, Message: orDefault(d.Message, "The card was declined.")}
		default:
			s.log.Error("reconcile: lookup failed", "payment", p.ID, "error", lerr.Error())
			continue
		}
		failed := *p
		err = s.store.Write(ctx, func(tx store.Tx) error {
			cur, err := tx.GetPayment(failed.MerchantID, failed.ID)
			if err != nil {
				return err
			}
			if cur.Status != store.PaymentProcessing || cur.PendingOp != "reconcile" {
				return nil // not ours any more
			}
			*cur = failed
			cur.Status, cur.Updated = store.PaymentFailed, s.now()
			cur.PendingOp, cur.PendingUntil = "", time.Time{}
			if err := tx.UpdatePayment(cur); err != nil {
				return err
			}
			// The authorization is over: card data kept for its challenge goes.
			if err := endChallenge(tx, cur.ChallengeID, "", s.now()); err != nil {
				return err
			}
			return s.paymentEvent(tx, cur, "payment.failed")
		})
		if err != nil {
			return settled, err
		}
		s.log.Warn("reconciled an interrupted payment", "payment", p.ID, "merchant", p.MerchantID, "outcome", p.Failure.Message)
		settled++
	}
	return settled, nil
}

// reconcileRefunds settles refunds left pending (a crash, or an acquirer
// answer that never came) by asking the acquirer for each one by its own
// reference: made means succeeded, never made means failed and its amount
// free to be refunded again.
func (s *Payments) reconcileRefunds(ctx context.Context) (int, error) {
	var stale []*store.Refund
	if err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		stale, err = tx.StaleRefunds(s.now().Add(-StaleAfter), 100)
		return err
	}); err != nil {
		return 0, err
	}
	settled := 0
	for _, r := range stale {
		var p *store.Payment
		if err := s.store.Read(ctx, func(tx store.Tx) error {
			var err error
			p, err = tx.GetPayment(r.MerchantID, r.PaymentID)
			return err
		}); err != nil {
			return settled, err
		}
		acq, err := s.acquirerOf(ctx, p)
		if err != nil {
			s.log.Error("reconcile: no acquirer", "refund", r.ID, "error", err.Error())
			continue
		}
		ref, err := acq.LookupRefund(ctx, p.Processor.CaptureID, r.ID)
		if err != nil && !errors.Is(err, processor.ErrNotFound) {
			s.log.Error("reconcile: refund lookup failed", "refund", r.ID, "error", err.Error())
			continue
		}
		if err := s.settleRefund(ctx, r, ref, err); err != nil {
			return settled, err
		}
		s.log.Warn("reconciled an interrupted refund", "refund", r.ID, "payment", r.PaymentID, "status", r.Status)
		settled++
	}
	return settled, nil
}
