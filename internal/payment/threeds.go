package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Challenges are 3-D Secure OTP challenges: opened for a token or payment,
// answered on the challenge page, finished into the object that waits on
// them, swept when they expire.
type Challenges struct {
	*deps
	sealer    *Sealer
	events    *Events
	merchants *Merchants
	tokens    *Tokens
	payments  *Payments
	sessions  *Sessions
	acquirers *Acquirers
}

// 3-D Secure. The issuer (through processor.Authenticator) decides whether a
// card holder must be challenged; Coffer keeps the challenge's state durably
// — attempts, expiry, the sealed card data needed to finish — so that any
// server instance can serve the challenge page and a crash loses nothing.

// DefaultChallengeTTL is how long a card holder has to answer a challenge.
const DefaultChallengeTTL = 10 * time.Minute

// MaxChallengeAttempts is how many OTPs a challenge accepts before it fails.
const MaxChallengeAttempts = 3

// MaxCardOTPFailures caps the wrong codes one card may have (per merchant,
// by fingerprint) across all its challenges: without it every new token,
// payment or session attempt would open a new challenge with three fresh
// guesses. At the cap the card's open challenges fail at their next answer
// and it gets no new challenge — its 3-D Secure fails (authentication_failed,
// no OTP asked) — until CardOTPFailureWindow has passed since its last wrong
// code; a right code clears the count. So no 24 hours ever see more than five
// guesses at one card's codes.
const MaxCardOTPFailures = 5

// CardOTPFailureWindow is how long a card's wrong codes are remembered after
// the last of them.
const CardOTPFailureWindow = 24 * time.Hour

// 3-D Secure modes a token or payment may ask for.
const (
	ThreeDSRequired   = "required"    // always authenticate the card holder
	ThreeDSIfRequired = "if_required" // the issuer decides (the default)
	ThreeDSNever      = "never"       // do not run 3-D Secure
)

// challengeIDBits makes a challenge id a capability nobody can guess: it is
// the only credential the challenge page has.
const challengeIDBits = 160

// Options are the service's settings beyond its dependencies.
type Options struct {
	// PublicURL is the base URL card holders' browsers reach Coffer at
	// (challenge and checkout pages), without a trailing slash.
	PublicURL string
	// ChallengeTTL is how long a 3-D Secure challenge stays open.
	ChallengeTTL time.Duration
	// TestMode says the processor is the built-in simulator: pages may say
	// which test OTP works.
	TestMode bool
	// WebhooksAllowPrivate lets webhook endpoints be on private and
	// loopback addresses (development); link-local and cloud metadata
	// addresses are refused regardless.
	WebhooksAllowPrivate bool
	// Metrics counts acquirer calls, 3-D Secure challenges and card-testing
	// refusals; nil counts nothing.
	Metrics Metrics
}

// ChallengeURL is the challenge page card holders are sent to.
func (s *Challenges) ChallengeURL(challengeID string) string {
	return s.publicURL + "/3ds/" + challengeID
}

// NextAction is what a requires_action object asks of its client.
type NextAction struct {
	Type string `json:"type"` // "redirect"
	URL  string `json:"url"`
}

// nextAction returns the redirect for an object waiting on a challenge.
func (s *Challenges) nextAction(status, challengeID string) *NextAction {
	if challengeID == "" || status != store.TokenRequiresAction {
		return nil
	}
	return &NextAction{Type: "redirect", URL: s.ChallengeURL(challengeID)}
}

// TokenNextAction is the redirect a requires_action token waits on.
func (s *Challenges) TokenNextAction(t *store.Token) *NextAction {
	return s.nextAction(t.Status, t.ChallengeID)
}

// threeDSMode checks a requested mode against the merchant's rule.
func threeDSMode(requested string, m *store.Merchant, tokenization bool) (string, error) {
	switch requested {
	case "":
		requested = ThreeDSIfRequired
	case ThreeDSRequired, ThreeDSIfRequired, ThreeDSNever:
	default:
		return "", invalid("three_d_secure", "parameter_invalid", "three_d_secure must be required, if_required or never")
	}
	if tokenization && m.Settings.TokenizationRequires3DS {
		if requested == ThreeDSNever {
			return "", invalid("three_d_secure", "parameter_invalid", "this merchant requires 3-D Secure for every token (setting tokenization_requires_3ds); three_d_secure cannot be never")
		}
		requested = ThreeDSRequired
	}
	return requested, nil
}

// errThreeDSUnavailable refuses what needs 3-D Secure on a server whose
// processor has none.
func errThreeDSUnavailable() error {
	return invalid("three_d_secure", "three_d_secure_unavailable", "3-D Secure is required but this server's processor does not support it")
}

// authenticate runs 3-D Secure. A nil result with a nil error means 3-D
// Secure was not run (no authenticator is configured and none was required).
// A card that used up its wrong codes (MaxCardOTPFailures) fails at once,
// without asking the issuer: asking would send the card holder another code.
func (s *Challenges) authenticate(ctx context.Context, r processor.AuthenticateRequest) (*processor.Authentication, error) {
	if s.auth == nil {
		if r.Mandated {
			return nil, errThreeDSUnavailable()
		}
		return nil, nil
	}
	a, err := s.auth.Authenticate(ctx, r)
	if err != nil {
		s.log.Error("3-D Secure authentication failed", "reference", r.Reference, "error", err.Error())
		return nil, &Error{Kind: KindUpstream, Code: "processing_error", Message: "3-D Secure could not be started; try again."}
	}
	// The per-card count of wrong codes guards challenges, the only place a
	// code can be guessed; it is read only when one is to be opened, so the
	// common frictionless or exempt card costs no read and no second
	// fingerprint on its way.
	if a.Status != processor.AuthChallengeRequired {
		return &a, nil
	}
	if locked, err := s.cardLocked(ctx, r.MerchantID, r.Card.Number); err != nil {
		return nil, err
	} else if locked {
		s.log.Warn("3-D Secure refused: too many wrong codes for this card", "merchant", r.MerchantID, "reference", r.Reference)
		return &processor.Authentication{Status: processor.AuthFailed}, nil
	}
	return &a, nil
}

// cardFailures reads a card's wrong-code count (nil when it has none).
func cardFailures(tx store.Tx, merchantID, fingerprint string) (*store.CardAuthFailures, error) {
	if fingerprint == "" {
		return nil, nil
	}
	f, err := tx.GetCardAuthFailures(merchantID, fingerprint)
	if isNotFound(err) {
		return nil, nil
	}
	return f, err
}

// liveFailures is how many of a card's wrong codes still count at now.
func liveFailures(f *store.CardAuthFailures, now time.Time) int {
	if f == nil || now.Sub(f.LastFailure) >= CardOTPFailureWindow {
		return 0
	}
	return f.Failures
}

// cardLocked reports whether a card (by its number) has used up its wrong
// codes for now.
func (s *Challenges) cardLocked(ctx context.Context, merchantID, pan string) (bool, error) {
	if pan == "" {
		return false, nil
	}
	fk, err := s.sealer.activeKey(ctx, merchantID, vault.PurposeFingerprint)
	if err != nil {
		return false, err
	}
	fp, err := s.vault.Fingerprint(fk, pan)
	if err != nil {
		return false, err
	}
	f, err := read(ctx, s.store, func(tx store.Tx) (*store.CardAuthFailures, error) { return cardFailures(tx, merchantID, fp) })
	return err == nil && liveFailures(f, s.now()) >= MaxCardOTPFailures, err
}

// recorded turns a processor result into what tokens and payments keep.
func recorded(a processor.Authentication) *store.Authentication {
	return &store.Authentication{Status: a.Status, ECI: a.ECI, Version: a.Version, TransactionID: a.TransactionID}
}

// authFailure is the failure of a card holder who did not authenticate.
func authFailure(msg string) *store.Failure {
	return &store.Failure{Code: processor.CodeAuthenticationFailed, DeclineCode: processor.CodeAuthenticationFailed, Message: msg}
}

const (
	msgAuthFailed  = "The card holder did not pass 3-D Secure authentication."
	msgAuthExpired = "The 3-D Secure challenge expired before the card holder completed it."
)

// challengeSecret is the card data a challenge must keep until its
// authorization ends: always the CVC (if one was given), and the whole card
// when it is not stored in a token. It is sealed in the challenge's row and
// erased as soon as it is no longer needed.
type challengeSecret struct {
	Number       string `json:"number,omitempty"`
	ExpMonth     int    `json:"exp_month,omitempty"`
	ExpYear      int    `json:"exp_year,omitempty"`
	CVC          string `json:"cvc,omitempty"`
	HolderName   string `json:"holder_name,omitempty"`
	AddressLine1 string `json:"address_line1,omitempty"`
	PostalCode   string `json:"postal_code,omitempty"`
	Country      string `json:"country,omitempty"`
	SaveCard     bool   `json:"save_card,omitempty"`
}

func (c challengeSecret) String() string { return "challengeSecret(redacted)" }

const challengeDeadlineKey ctxKey = 3

// withChallengeDeadline caps the expiry of any challenge started under ctx
// (a session's challenge ends with the session).
func withChallengeDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, challengeDeadlineKey, t)
}

// newChallenge prepares a pending challenge for an object, sealing what must
// survive until the authorization. The caller inserts it in the same
// transaction that puts the object in requires_action.
func (s *Challenges) newChallenge(ctx context.Context, m *store.Merchant, objectType, objectID string, a *processor.Authentication,
	amount int64, currency, brand, mask, fingerprint, returnURL string, verify bool, secret challengeSecret) (*store.Challenge, error) {
	now := s.now()
	expires := now.Add(s.challengeTTL)
	if dl, ok := ctx.Value(challengeDeadlineKey).(time.Time); ok && dl.Before(expires) {
		expires = dl
	}
	c := &store.Challenge{ID: id.NewBits("3ds", challengeIDBits), MerchantID: m.ID, ObjectType: objectType, ObjectID: objectID,
		Status: store.ChallengePending, Amount: amount, Currency: currency, Brand: brand, Mask: mask, Fingerprint: fingerprint,
		TransactionID: a.TransactionID, Version: a.Version, ReturnURL: returnURL, Verify: verify,
		ExpiresAt: expires, Created: now, Updated: now}
	if secret != (challengeSecret{}) {
		plain, err := json.Marshal(secret)
		if err != nil {
			return nil, err
		}
		if c.SecretCT, err = s.sealer.seal(ctx, m.ID, "challenge", c.ID, plain); err != nil {
			return nil, err
		}
	}
	// Counted when the issuer asks for it: every caller stores it next.
	s.measure().ThreeDSChallenge(challengeStarted)
	return c, nil
}

// openSecret decrypts a challenge's sealed card data.
func (s *Challenges) openSecret(ctx context.Context, c *store.Challenge) (challengeSecret, error) {
	var sec challengeSecret
	if c.SecretCT == nil {
		return sec, nil
	}
	plain, err := s.sealer.open(ctx, c.MerchantID, "challenge", c.ID, c.SecretCT)
	if err != nil {
		return sec, err
	}
	err = json.Unmarshal(plain, &sec)
	return sec, err
}

// eraseSecret drops a challenge's sealed card data once its authorization
// has ended, whatever the outcome.
func (s *Challenges) eraseSecret(ctx context.Context, challengeID string) {
	err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		c, err := tx.GetChallenge(challengeID)
		if err != nil || c.SecretCT == nil {
			return err
		}
		c.SecretCT, c.Updated = nil, s.now()
		return tx.UpdateChallenge(c)
	})
	if err != nil {
		// The sweeper erases it at the challenge's expiry at the latest.
		s.log.Error("erasing a challenge's card data failed", "challenge", challengeID, "error", err.Error())
	}
}

// failObject records, inside tx, that a challenge's token or payment failed
// authentication: a token keeps no card, a payment fails with its event.
func (s *Challenges) failObject(tx store.Tx, c *store.Challenge, auth *store.Authentication, msg string) error {
	now := s.now()
	switch c.ObjectType {
	case "token":
		t, err := tx.GetToken(c.MerchantID, c.ObjectID)
		if isNotFound(err) {
			return nil // deleted meanwhile: nothing left to fail
		} else if err != nil {
			return err
		}
		if t.Status != store.TokenRequiresAction {
			return nil
		}
		failToken(t, processor.CodeAuthenticationFailed, auth, now)
		if err := tx.UpdateToken(t); err != nil {
			return err
		}
		return s.tokens.tokenEvent(tx, t, "token.failed")
	case "payment":
		p, err := tx.GetPayment(c.MerchantID, c.ObjectID)
		if err != nil {
			return err
		}
		if p.Status != store.PaymentRequiresAction {
			return nil
		}
		p.Status, p.Failure, p.Authentication, p.Updated = store.PaymentFailed, authFailure(msg), auth, now
		if err := tx.UpdatePayment(p); err != nil {
			return err
		}
		return s.payments.paymentEvent(tx, p, "payment.failed")
	}
	return fmt.Errorf("payment: challenge %s has unknown object type %q", c.ID, c.ObjectType)
}

func ignoreNotFound(err error) error {
	if isNotFound(err) {
		return nil
	}
	return err
}

// crashedToken fails a token whose verification after a passed challenge
// was interrupted: processing_error, with the authentication recorded.
func (s *Challenges) crashedToken(tx store.Tx, c *store.Challenge) error {
	if c.ObjectType != "token" {
		return nil // a payment left processing is Reconcile's
	}
	t, err := tx.GetToken(c.MerchantID, c.ObjectID)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if t.Status != store.TokenRequiresAction {
		return nil
	}
	failToken(t, processor.CodeProcessingError, &store.Authentication{Status: processor.AuthAuthenticated, Version: c.Version,
		TransactionID: c.TransactionID}, s.now())
	if err := tx.UpdateToken(t); err != nil {
		return err
	}
	return s.tokens.tokenEvent(tx, t, "token.failed")
}

// failToken marks a token failed and crypto-shreds its card: a card that
// did not pass is not kept.
func failToken(t *store.Token, code string, auth *store.Authentication, now time.Time) {
	t.Status, t.CardCT, t.Updated = store.TokenFailed, nil, now
	t.Verification.Status, t.Verification.FailureCode = "failed", code
	if auth != nil {
		t.Verification.ThreeDSecure, t.Verification.Authentication = auth.Status, auth
	}
}

// expireInTx ends a pending challenge that ran out of time.
func (s *Challenges) expireInTx(tx store.Tx, c *store.Challenge) error {
	c.Status, c.SecretCT, c.Updated = store.ChallengeExpired, nil, s.now()
	if err := tx.UpdateChallenge(c); err != nil {
		return err
	}
	return s.failObject(tx, c, &store.Authentication{Status: processor.AuthFailed, Version: c.Version, TransactionID: c.TransactionID}, msgAuthExpired)
}

// endChallenge, inside tx, erases the card data a challenge keeps and — if
// status is given and the challenge is still pending — ends it with that
// status. Unknown or empty ids are nothing to do.
func endChallenge(tx store.Tx, challengeID, status string, now time.Time) error {
	if challengeID == "" {
		return nil
	}
	c, err := tx.GetChallenge(challengeID)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	changed := c.SecretCT != nil
	c.SecretCT = nil
	if status != "" && c.Status == store.ChallengePending {
		c.Status, changed = status, true
	}
	if !changed {
		return nil
	}
	c.Updated = now
	return tx.UpdateChallenge(c)
}

// validChallengeID rejects anything that cannot be a challenge id before it
// reaches the store (and keeps odd input out of logs).
func validChallengeID(s string) bool {
	if !id.HasPrefix(s, "3ds") || len(s) > 64 {
		return false
	}
	for _, r := range s[4:] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

var errNoChallenge = &Error{Kind: KindNotFound, Code: "resource_missing", Message: "No such challenge."}

func (s *Challenges) getChallenge(ctx context.Context, challengeID string) (*store.Challenge, error) {
	if !validChallengeID(challengeID) {
		return nil, errNoChallenge
	}
	c, err := read(ctx, s.store, func(tx store.Tx) (*store.Challenge, error) { return tx.GetChallenge(challengeID) })
	if isNotFound(err) {
		return nil, errNoChallenge
	}
	return c, err
}

// ChallengePage is what the challenge page shows now. Opening a challenge
// that ran out of time expires it (the sweeper would, a little later).
func (s *Challenges) ChallengePage(ctx context.Context, challengeID string) (ChallengeView, error) {
	c, err := s.getChallenge(ctx, challengeID)
	if err != nil {
		return ChallengeView{}, err
	}
	if c.Status == store.ChallengePending && !s.now().Before(c.ExpiresAt) {
		if c, err = s.expire(ctx, c.ID); err != nil {
			return ChallengeView{}, err
		}
		s.settleSessionOf(ctx, c)
	}
	return s.challengeView(ctx, c)
}

// expire ends a pending challenge past its expiry, atomically.
func (s *Challenges) expire(ctx context.Context, challengeID string) (*store.Challenge, error) {
	var c *store.Challenge
	err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		var err error
		if c, err = tx.GetChallenge(challengeID); err != nil {
			return err
		}
		if c.Status != store.ChallengePending || s.now().Before(c.ExpiresAt) {
			return nil
		}
		return s.expireInTx(tx, c)
	})
	return c, err
}

// answer is what one OTP submission did, decided inside one transaction.
type answer int

const (
	answerWrong answer = iota
	answerRight
	answerFailed  // the last try was wrong
	answerExpired // too late
	answerReplay  // the challenge had already ended
)

// AnswerChallenge takes the card holder's OTP. The attempt is counted and
// judged in one transaction, so concurrent submissions get MaxChallengeAttempts
// tries between them and no more, and only one right answer moves the
// challenge on: a replayed or doubled submission finds it already ended.
func (s *Challenges) AnswerChallenge(ctx context.Context, challengeID, otp string) (ChallengeOutcome, error) {
	c, err := s.getChallenge(ctx, challengeID)
	if err != nil {
		return ChallengeOutcome{}, err
	}
	if c.Status != store.ChallengePending {
		return s.replayed(ctx, c)
	}
	if s.auth == nil {
		return ChallengeOutcome{}, errors.New("payment: a challenge exists but no authenticator is configured")
	}
	// A card out of guesses (its other challenges used them) gets no
	// answer judged: the challenge fails below, whatever was typed.
	failed := &store.Authentication{Status: processor.AuthFailed, Version: c.Version, TransactionID: c.TransactionID}
	fails, err := read(ctx, s.store, func(tx store.Tx) (*store.CardAuthFailures, error) {
		return cardFailures(tx, c.MerchantID, c.Fingerprint)
	})
	if err != nil {
		return ChallengeOutcome{}, err
	}
	rec, ok := failed, false
	if liveFailures(fails, s.now()) < MaxCardOTPFailures {
		// The ACS judges the answer (in constant time); the counts are ours.
		auth, right, err := s.auth.AnswerChallenge(ctx, processor.ChallengeAnswer{TransactionID: c.TransactionID, Brand: c.Brand, Answer: otp})
		if err != nil {
			return ChallengeOutcome{}, err
		}
		rec, ok = recorded(auth), right
	}
	var res answer
	var audit *store.Audit
	err = s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		var err error
		res, audit, err = s.countAnswer(tx, challengeID, c, rec, failed, ok)
		return err
	})
	if err != nil {
		return ChallengeOutcome{}, err
	}
	switch res {
	case answerRight:
		s.measure().ThreeDSChallenge(challengePassed)
	case answerFailed:
		s.measure().ThreeDSChallenge(challengeFailed)
	}
	switch res {
	case answerReplay:
		return s.replayed(ctx, c)
	case answerWrong:
		v, err := s.challengeView(ctx, c)
		v.Error = "That code is not correct. Check the message from your bank and try again."
		return ChallengeOutcome{View: v}, err
	case answerRight:
		s.finishAnswered(ctx, c, rec, audit != nil)
	}
	if res != answerWrong {
		s.settleSessionOf(ctx, c)
	}
	return s.outcome(ctx, c)
}

// countAnswer counts and records a judged answer inside the answering
// transaction: c is reloaded, and the card's failure count is read again
// where it is written, so concurrent answers to its other challenges cannot
// both take its last guess. ok says the ACS found the answer right; rec is
// what it said, failed what an answer that is not judged records.
func (s *Challenges) countAnswer(tx store.Tx, challengeID string, c *store.Challenge, rec, failed *store.Authentication, ok bool) (answer, *store.Audit, error) {
	cur, err := tx.GetChallenge(challengeID)
	if err != nil {
		return 0, nil, err
	}
	*c = *cur
	now := s.now()
	switch {
	case c.Status != store.ChallengePending:
		return answerReplay, nil, nil
	case !now.Before(c.ExpiresAt):
		return answerExpired, nil, s.expireInTx(tx, c)
	}
	if over, err := s.sessionOver(tx, c); err != nil {
		return 0, nil, err
	} else if over {
		return answerExpired, nil, s.expireInTx(tx, c)
	}
	f, err := cardFailures(tx, c.MerchantID, c.Fingerprint)
	if err != nil {
		return 0, nil, err
	}
	live := liveFailures(f, now)
	c.Updated = now
	switch {
	case live >= MaxCardOTPFailures:
		// Out of guesses since this answer was judged (or before):
		// no attempt is counted and the challenge fails.
		c.Status, c.SecretCT = store.ChallengeFailed, nil
		if err := s.failObject(tx, c, failed, msgAuthFailed); err != nil {
			return 0, nil, err
		}
		return answerFailed, nil, tx.UpdateChallenge(c)
	case ok:
		c.Attempts++
		c.Status = store.ChallengeAuthenticated
		audit, err := s.challengeAuthenticated(tx, c, rec)
		if err != nil {
			return 0, nil, err
		}
		if live > 0 { // the card holder proved who they are
			if err := tx.PutCardAuthFailures(&store.CardAuthFailures{MerchantID: c.MerchantID, Fingerprint: c.Fingerprint,
				LastFailure: f.LastFailure}); err != nil {
				return 0, nil, err
			}
		}
		return answerRight, audit, tx.UpdateChallenge(c)
	}
	c.Attempts++
	if c.Fingerprint != "" {
		live++
		if err := tx.PutCardAuthFailures(&store.CardAuthFailures{MerchantID: c.MerchantID, Fingerprint: c.Fingerprint,
			Failures: live, LastFailure: now}); err != nil {
			return 0, nil, err
		}
	}
	if c.Attempts < MaxChallengeAttempts && live < MaxCardOTPFailures {
		return answerWrong, nil, tx.UpdateChallenge(c)
	}
	c.Status, c.SecretCT = store.ChallengeFailed, nil
	if err := s.failObject(tx, c, rec, msgAuthFailed); err != nil {
		return 0, nil, err
	}
	return answerFailed, nil, tx.UpdateChallenge(c)
}

// finishAnswered finishes the object a right answer authenticated and
// erases the challenge's secret. Money moves from here: it finishes even if
// the browser goes away. A failure is logged, not returned: the card holder
// is still sent back, and the object shows what is known (a payment left
// processing is settled by Reconcile).
func (s *Challenges) finishAnswered(ctx context.Context, c *store.Challenge, rec *store.Authentication, audited bool) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var err error
	if c.ObjectType == "token" {
		err = s.finishToken(fctx, c, rec)
	} else {
		err = s.finishPayment(fctx, c, rec, audited)
	}
	s.eraseSecret(fctx, c.ID)
	if err != nil {
		s.log.Error("finishing after 3-D Secure failed", "challenge", c.ID, "object", c.ObjectID, "error", err.Error())
	}
}

// challengeAuthenticated records a right answer on the challenge's object
// inside the answering transaction. A payment moves to processing (so the
// authorization that follows is reconciled if we crash); a payment by token
// gets its detokenization audit record, written before the card is opened.
func (s *Challenges) challengeAuthenticated(tx store.Tx, c *store.Challenge, auth *store.Authentication) (*store.Audit, error) {
	if c.ObjectType == "token" {
		// Recorded now so that a verification interrupted after this point
		// can be finished (by the sweeper) with the real result.
		t, err := tx.GetToken(c.MerchantID, c.ObjectID)
		if err != nil || t.Status != store.TokenRequiresAction {
			return nil, ignoreNotFound(err)
		}
		t.Verification.ThreeDSecure, t.Verification.Authentication, t.Updated = auth.Status, auth, s.now()
		return nil, tx.UpdateToken(t)
	}
	p, err := tx.GetPayment(c.MerchantID, c.ObjectID)
	if err != nil {
		return nil, err
	}
	if p.Status != store.PaymentRequiresAction {
		return nil, nil
	}
	p.Status, p.Authentication, p.Updated = store.PaymentProcessing, auth, s.now()
	if err := tx.UpdatePaymentIf(p, store.PaymentRequiresAction); err != nil {
		return nil, err
	}
	if p.TokenID == "" {
		return nil, nil
	}
	t, err := tx.GetTokenAny(c.MerchantID, p.TokenID)
	if err != nil {
		return nil, err
	}
	a := s.tokens.auditRecord(context.Background(), t, "payment "+p.ID+" after 3-D Secure")
	return a, tx.InsertAudit(a)
}

// finishToken runs a token's verification after its challenge passed: the
// token becomes active, or failed (its card erased) if the issuer declines.
func (s *Challenges) finishToken(ctx context.Context, c *store.Challenge, auth *store.Authentication) error {
	t, err := read(ctx, s.store, func(tx store.Tx) (*store.Token, error) { return tx.GetToken(c.MerchantID, c.ObjectID) })
	if err != nil {
		if isNotFound(err) {
			return nil // deleted while the card holder typed
		}
		return err
	}
	if t.Status != store.TokenRequiresAction {
		return nil
	}
	sec, err := s.openSecret(ctx, c)
	if err != nil {
		return err
	}
	now := s.now()
	v := store.Verification{Status: "unverified", ThreeDSecure: auth.Status, CVCCheck: "unchecked", AVSCheck: "unchecked", Authentication: auth}
	failed := ""
	if c.Verify {
		pan, err := s.tokens.decryptToken(ctx, t)
		if err != nil {
			return err
		}
		pa := processor.Authentication{Status: auth.Status, ECI: auth.ECI, Version: auth.Version, TransactionID: auth.TransactionID}
		res, err := s.acquirers.verifyCard(ctx, "", processor.VerifyRequest{MerchantID: c.MerchantID, Reference: t.ID,
			Card:   processor.Card{Number: pan, ExpMonth: t.ExpMonth, ExpYear: t.ExpYear, CVC: sec.CVC, HolderName: t.HolderName},
			Amount: c.Amount, Currency: c.Currency, Authentication: &pa})
		var d *processor.Decline
		switch {
		case errors.As(err, &d):
			failed = d.Code
			v.CVCCheck, v.AVSCheck = orDefault(d.CVCResult, "unchecked"), orDefault(d.AVSResult, "unchecked")
		case err != nil:
			// A verification is voided at once, so there is nothing to
			// settle later; without its answer the card is not proven.
			s.log.Error("verification after 3-D Secure failed", "token", t.ID, "error", err.Error())
			failed = processor.CodeProcessingError
		default:
			v = store.Verification{Status: "verified", ThreeDSecure: auth.Status, CVCCheck: res.CVCResult, AVSCheck: res.AVSResult,
				AuthCode: res.AuthCode, NetworkRef: res.AuthorizationID, VerifiedAt: &now, Authentication: auth}
		}
	}
	return s.store.Write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetToken(c.MerchantID, c.ObjectID)
		if isNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if cur.Status != store.TokenRequiresAction {
			return nil
		}
		cur.Verification, cur.Updated = v, s.now()
		if failed != "" {
			failToken(cur, failed, nil, cur.Updated)
			if err := tx.UpdateToken(cur); err != nil {
				return err
			}
			return s.tokens.tokenEvent(tx, cur, "token.failed")
		}
		cur.Status = store.TokenActive
		if err := tx.UpdateToken(cur); err != nil {
			return err
		}
		return s.events.event(tx, cur.MerchantID, "token.activated", "token", cur.ID, s.tokens.ViewToken(cur))
	})
}

// finishPayment authorizes a payment whose challenge passed.
func (s *Challenges) finishPayment(ctx context.Context, c *store.Challenge, auth *store.Authentication, audited bool) error {
	var p *store.Payment
	var t *store.Token
	if err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPayment(c.MerchantID, c.ObjectID); err != nil {
			return err
		}
		if p.TokenID != "" && audited {
			t, err = tx.GetTokenAny(c.MerchantID, p.TokenID)
		}
		return err
	}); err != nil {
		return err
	}
	if p.Status != store.PaymentProcessing {
		return nil // settled meanwhile (Reconcile)
	}
	sec, err := s.openSecret(ctx, c)
	if err != nil {
		return err
	}
	pc := processor.Card{Number: sec.Number, ExpMonth: sec.ExpMonth, ExpYear: sec.ExpYear, CVC: sec.CVC, HolderName: sec.HolderName,
		AddressLine1: sec.AddressLine1, PostalCode: sec.PostalCode, Country: sec.Country}
	if t != nil {
		if t.Status != store.TokenActive {
			// Disabled or deleted while the card holder typed the code.
			return s.failQuietly(ctx, p, &processor.Decline{Code: processor.CodeCardDeclined, DeclineCode: "token_inactive",
				Message: "The saved card can no longer be charged."})
		}
		pan, err := s.tokens.decryptToken(ctx, t)
		if err != nil {
			return err
		}
		pc = processor.Card{Number: pan, ExpMonth: t.ExpMonth, ExpYear: t.ExpYear, CVC: sec.CVC, HolderName: t.HolderName}
	}
	if pc.Number == "" {
		return fmt.Errorf("payment: challenge %s holds no card for payment %s", c.ID, p.ID)
	}
	_, err = s.payments.authorize(ctx, p, attempt{card: pc, saveCard: sec.SaveCard})
	return declineIsOutcome(err)
}

// failQuietly records a payment's failure; the decline is its outcome.
func (s *Challenges) failQuietly(ctx context.Context, p *store.Payment, d *processor.Decline) error {
	_, err := s.payments.fail(ctx, p, d)
	return declineIsOutcome(err)
}

// declineIsOutcome drops a card error: after a challenge, a decline is
// recorded on the payment and shown to the card holder, not an error.
func declineIsOutcome(err error) error {
	var pe *Error
	if errors.As(err, &pe) && pe.Kind == KindCard {
		return nil
	}
	return err
}

// replayed answers a submission to a challenge that had already ended.
func (s *Challenges) replayed(ctx context.Context, c *store.Challenge) (ChallengeOutcome, error) {
	v, err := s.challengeView(ctx, c)
	if err != nil || v.State == "expired" {
		return ChallengeOutcome{View: v}, err
	}
	v.Message = "This verification has already been completed. " + v.Message
	v.State, v.HTTPStatus = "completed", http.StatusConflict
	return ChallengeOutcome{View: v}, nil
}

// outcome sends the card holder back to the merchant when the challenge has
// ended, or shows the final page when the merchant gave no return URL.
func (s *Challenges) outcome(ctx context.Context, c *store.Challenge) (ChallengeOutcome, error) {
	v, err := s.challengeView(ctx, c)
	if err != nil {
		return ChallengeOutcome{}, err
	}
	if v.State != "pending" && v.ReturnURL != "" {
		return ChallengeOutcome{View: v, Redirect: v.ReturnURL}, nil
	}
	return ChallengeOutcome{View: v}, nil
}

// challengeView renders a challenge with its object's outcome. For a final
// state ReturnURL carries the outcome in its query.
func (s *Challenges) challengeView(ctx context.Context, c *store.Challenge) (ChallengeView, error) {
	m, err := s.merchants.GetMerchant(ctx, c.MerchantID)
	if err != nil {
		return ChallengeView{}, err
	}
	v := ChallengeView{ID: c.ID, MerchantName: m.Name, FrameAncestors: m.Settings.FrameAncestors, Amount: c.Currency + " " + money.Format(c.Amount, c.Currency),
		SavesCard: c.ObjectType == "token", Brand: c.Brand, Mask: c.Mask, AttemptsLeft: max(0, MaxChallengeAttempts-c.Attempts), TestMode: s.testMode, HTTPStatus: http.StatusOK}
	if c.Status == store.ChallengePending {
		// The card's own count may leave fewer tries than the challenge's.
		f, err := read(ctx, s.store, func(tx store.Tx) (*store.CardAuthFailures, error) {
			return cardFailures(tx, c.MerchantID, c.Fingerprint)
		})
		if err != nil {
			return ChallengeView{}, err
		}
		v.AttemptsLeft = max(0, min(v.AttemptsLeft, MaxCardOTPFailures-liveFailures(f, s.now())))
		// The page's form may lead there (its CSP form-action must allow
		// the redirect that ends the challenge).
		v.State, v.ReturnURL = "pending", c.ReturnURL
		v.FormTargets = s.sessionTargets(ctx, c.ReturnURL)
		return v, nil
	}
	q := url.Values{}
	status, reason := "", ""
	merchantEnded := false // the merchant deleted or disabled what the challenge was for
	switch c.ObjectType {
	case "token":
		t, err := read(ctx, s.store, func(tx store.Tx) (*store.Token, error) { return tx.GetTokenAny(c.MerchantID, c.ObjectID) })
		if err != nil {
			return ChallengeView{}, err
		}
		status = t.Status
		if t.Status == store.TokenFailed {
			reason = t.Verification.FailureCode
		}
		q.Set("token", t.ID)
	case "payment":
		p, err := read(ctx, s.store, func(tx store.Tx) (*store.Payment, error) { return tx.GetPayment(c.MerchantID, c.ObjectID) })
		if err != nil {
			return ChallengeView{}, err
		}
		status = p.Status
		if p.Failure != nil {
			reason = p.Failure.Code
			if p.Failure.DeclineCode == "token_inactive" {
				merchantEnded = true
			}
		}
		q.Set("payment", p.ID)
	}
	q.Set("status", status)
	if reason != "" {
		q.Set("reason", reason)
	}
	switch {
	case c.Status == store.ChallengeCanceled || status == store.TokenDeleted || merchantEnded:
		v.State, v.HTTPStatus, v.Message = "canceled", http.StatusGone, "The merchant canceled this verification. Nothing was charged."
	case c.Status == store.ChallengeExpired:
		v.State, v.HTTPStatus, v.Message = "expired", http.StatusGone, "This verification expired before it was completed. Nothing was charged."
	case status == store.TokenActive || status == store.PaymentSucceeded || status == store.PaymentRequiresCapture:
		v.State, v.Message = "succeeded", "You have been verified."
	case status == store.PaymentProcessing || status == store.TokenRequiresAction:
		// Authenticated; the authorization after it is still running (or
		// was interrupted, and is being settled).
		v.State, v.Message = "completed", "You have been verified; your bank is completing the payment."
	case c.Status == store.ChallengeFailed:
		v.State, v.Message = "failed", "The code was entered incorrectly too many times. Nothing was charged."
	default:
		v.State, v.Message = "failed", "You were verified, but your bank declined the card."
	}
	if c.ReturnURL != "" {
		v.ReturnURL = withQuery(c.ReturnURL, q)
		v.FormTargets = s.sessionTargets(ctx, c.ReturnURL)
	}
	return v, nil
}

// challengeSession is the checkout session a challenge was started for,
// known by the return URL sessions give their payments and tokens.
func (s *Challenges) challengeSession(returnURL string) (string, bool) {
	rest, ok := strings.CutPrefix(returnURL, s.publicURL+"/pay/")
	sid, ok2 := strings.CutSuffix(rest, "/return")
	if !ok || !ok2 || strings.Contains(sid, "/") {
		return "", false
	}
	return sid, true
}

// settleSessionOf brings the checkout session a challenge belongs to up to
// date at once, so its outcome (event, callback, stream) does not wait for
// somebody to read the session.
func (s *Challenges) settleSessionOf(ctx context.Context, c *store.Challenge) {
	sid, ok := s.challengeSession(c.ReturnURL)
	if !ok {
		return
	}
	ss, err := read(ctx, s.store, func(tx store.Tx) (*store.Session, error) { return tx.GetSession(c.MerchantID, sid) })
	if err != nil {
		return
	}
	if _, err := s.sessions.syncSession(context.WithoutCancel(ctx), ss); err != nil {
		s.log.Error("settling a session after its challenge failed", "session", sid, "error", err.Error())
	}
}

// sessionOver reports, inside tx, whether the session a challenge belongs
// to can no longer be paid: a challenge must not outlive its session.
func (s *Challenges) sessionOver(tx store.Tx, c *store.Challenge) (bool, error) {
	sid, ok := s.challengeSession(c.ReturnURL)
	if !ok {
		return false, nil
	}
	ss, err := tx.GetSession(c.MerchantID, sid)
	if isNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	switch ss.Status {
	case store.SessionExpired, store.SessionCanceled, store.SessionFailed:
		return true, nil
	}
	return !s.now().Before(ss.ExpiresAt), nil
}

// sessionTargets lists where a challenge started by a checkout session may
// finally send the card holder: the session's own URLs.
func (s *Challenges) sessionTargets(ctx context.Context, returnURL string) []string {
	sid, ok := s.challengeSession(returnURL)
	if !ok {
		return nil
	}
	ss, err := read(ctx, s.store, func(tx store.Tx) (*store.Session, error) { return tx.GetSessionByID(sid) })
	if err != nil {
		return nil
	}
	var out []string
	for _, u := range append([]string{ss.SuccessURL, ss.FailureURL, ss.ExpiredURL, ss.CancelURL}, ss.ForwardURLs...) {
		if u != "" {
			out = append(out, u)
		}
	}
	return out
}

// withQuery adds the outcome to the merchant's return URL, keeping its own
// query parameters.
func withQuery(raw string, add url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k, vs := range add {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// SweepChallenges expires challenges nobody answered in time and erases the
// card data of any challenge past its expiry (a crash between authorization
// and erasure leaves some). It returns how many it changed.
func (s *Challenges) SweepChallenges(ctx context.Context) (int, error) {
	n := 0
	for {
		var batch []*store.Challenge
		if err := s.store.Read(ctx, func(tx store.Tx) error {
			var err error
			batch, err = tx.SweepableChallenges(s.now(), 100)
			return err
		}); err != nil {
			return n, err
		}
		moved := 0
		for _, c := range batch {
			done, err := s.sweepChallenge(ctx, c)
			if err != nil {
				return n, err
			}
			if done {
				moved++
				s.settleSessionOf(ctx, c)
			}
		}
		n += moved
		if len(batch) < 100 || moved == 0 {
			return n, nil
		}
	}
}

// sweepChallenge deals with one challenge past its expiry and reports
// whether it changed anything.
func (s *Challenges) sweepChallenge(ctx context.Context, c *store.Challenge) (bool, error) {
	if c.Status == store.ChallengeAuthenticated && c.ObjectType == "token" {
		// The card holder passed but the verification after it did not
		// finish (a crash, or it is running now): finish it — Verify is
		// idempotent by the token's id and the final write is conditional,
		// so racing a live request is harmless — then drop the CVC.
		t, err := read(ctx, s.store, func(tx store.Tx) (*store.Token, error) { return tx.GetToken(c.MerchantID, c.ObjectID) })
		if err != nil && !isNotFound(err) {
			return false, err
		}
		if err == nil && t.Status == store.TokenRequiresAction {
			auth := t.Verification.Authentication
			if auth == nil {
				auth = &store.Authentication{Status: processor.AuthAuthenticated, Version: c.Version, TransactionID: c.TransactionID}
			}
			fctx, cancel := context.WithTimeout(ctx, settleTimeout)
			err := s.finishToken(fctx, c, auth)
			cancel()
			if err != nil {
				s.log.Error("finishing an interrupted verification failed", "challenge", c.ID, "error", err.Error())
				if ferr := s.store.Write(ctx, func(tx store.Tx) error { return s.crashedToken(tx, c) }); ferr != nil {
					return false, ferr
				}
			}
		}
		s.eraseSecret(ctx, c.ID)
		return true, nil
	}
	changed := false
	err := s.store.Write(ctx, func(tx store.Tx) error {
		changed = false
		cur, err := tx.GetChallenge(c.ID)
		if err != nil {
			return err
		}
		now := s.now()
		switch {
		case !now.After(cur.ExpiresAt):
			return nil
		case cur.Status == store.ChallengePending:
			changed = true
			return s.expireInTx(tx, cur)
		case cur.Status == store.ChallengeAuthenticated && now.Sub(cur.Updated) < settleTimeout+time.Minute:
			// A payment's authorization may still be running with this
			// card data; once it cannot be, Reconcile has settled it.
			return nil
		}
		changed = true
		cur.SecretCT, cur.Updated = nil, now
		return tx.UpdateChallenge(cur)
	})
	return changed, err
}
