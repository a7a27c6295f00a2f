package payment

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/store"
)

// Sessions are checkout sessions: created by a merchant, confirmed by the
// card holder's browser (hosted page or the merchant's own, with the card
// encrypted to a session key), settled by their payment or token, swept
// when they expire.
type Sessions struct {
	*deps
	sealer     *Sealer
	events     *Events
	merchants  *Merchants
	customers  *Customers
	tokens     *Tokens
	payments   *Payments
	challenges *Challenges
}

// Payment sessions: one card holder's visit to pay (or to save a card),
// through Coffer's hosted checkout page (redirect mode) or a merchant's own
// page that encrypts the card to the session's key (api mode).

const (
	// DefaultSessionTTL, MinSessionTTL and MaxSessionTTL bound expires_in.
	DefaultSessionTTL = 15 * time.Minute
	MinSessionTTL     = time.Minute
	MaxSessionTTL     = 24 * time.Hour
	// MaxSessionAttempts is how many failed cards a session accepts before
	// it fails: enough for honest typos, few enough to stop card testing.
	MaxSessionAttempts = 5
	// sessionIDBits makes the page URL, which carries the id, unguessable.
	sessionIDBits = 160
	// confirmLease bounds one confirmation's claim on its session.
	confirmLease = 2 * time.Minute
)

// SessionParams creates a session.
type SessionParams struct {
	Mode              string  `json:"mode"` // redirect (default) | api
	Amount            int64   `json:"amount"`
	Currency          *string `json:"currency"`
	Customer          string  `json:"customer"`
	CustomerReference string  `json:"customer_reference"`
	SaveCard          string  `json:"save_card"` // off (default) | optional | always
	ShowSavedCards    bool    `json:"show_saved_cards"`
	Capture           *bool   `json:"capture"`
	OrderID           string  `json:"order_id"`
	Description       string  `json:"description"`
	SuccessURL        string  `json:"success_url"`
	FailureURL        string  `json:"failure_url"`
	ExpiredURL        string  `json:"expired_url"`
	CancelURL         string  `json:"cancel_url"`
	CallbackURL       string  `json:"callback_url"`
	ExpiresIn         *int64  `json:"expires_in"` // seconds
	// ExpiresAt is an absolute expiry (a dialect's), kept exactly as
	// given; it replaces ExpiresIn and has the same bounds.
	ExpiresAt time.Time         `json:"-"`
	Metadata  map[string]string `json:"metadata"`
	// ThreeDSecure is passed to the token or payment each attempt makes:
	// required | if_required (default: the card decides) | never.
	ThreeDSecure string `json:"three_d_secure"`

	// Set by provider dialects only, never from a request body.
	// CallbackFormat renders the callback_url's deliveries in a provider's
	// shape (the name of an event.Format the server registers).
	CallbackFormat string `json:"-"`
	// ForwardURLs are where a dialect's own return hop (one of the session's
	// URLs) sends the card holder next, so the 3-D Secure page may let its
	// form's redirects end there.
	ForwardURLs []string `json:"-"`
	// NewCustomer is the customer to create when CustomerReference names
	// none yet, or, without a reference, a customer created afresh (a
	// dialect's customer object, with its names and contacts). It is
	// created only once every other parameter has passed, so a refused
	// session leaves no customer behind.
	NewCustomer *CustomerParams `json:"-"`
}

// ConfirmParams confirms a session through the API.
type ConfirmParams struct {
	EncryptedCard string `json:"encrypted_card"`
	Token         string `json:"token"`
	CVC           string `json:"cvc"`
	SaveCard      *bool  `json:"save_card"` // the card holder's choice when save_card is optional
	ClientSecret  string `json:"client_secret"`
	// Cipher reads EncryptedCard the way a provider dialect's clients
	// encrypt it; nil is Coffer's own (API.md).
	Cipher *CardCipher `json:"-"`
	// MerchantInitiated charges Token with the card holder absent (a
	// dialect's auto-debit under an agreement): no CVC can be asked and
	// nobody can answer a 3-D Secure challenge. Set by dialects only.
	MerchantInitiated bool `json:"-"`
}

// SessionView is a session as the API shows it.
type SessionView struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	Mode           string            `json:"mode"`
	Status         string            `json:"status"`
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	Customer       *string           `json:"customer"`
	SaveCard       string            `json:"save_card"`
	ShowSavedCards bool              `json:"show_saved_cards"`
	CaptureMethod  string            `json:"capture_method"`
	OrderID        *string           `json:"order_id"`
	Description    *string           `json:"description"`
	URL            *string           `json:"url"`                     // the hosted page (redirect mode)
	ClientSecret   string            `json:"client_secret,omitempty"` // only when created
	EncryptionKey  *EncryptionKey    `json:"encryption_key"`
	Payment        *string           `json:"payment"`
	Token          *string           `json:"token"`
	LastError      *store.Failure    `json:"last_error"`
	Attempts       int               `json:"attempts"`
	NextAction     *NextAction       `json:"next_action"`
	SuccessURL     *string           `json:"success_url"`
	FailureURL     *string           `json:"failure_url"`
	ExpiredURL     *string           `json:"expired_url"`
	CancelURL      *string           `json:"cancel_url"`
	CallbackURL    *string           `json:"callback_url"`
	ThreeDSecure   string            `json:"three_d_secure"`
	Metadata       map[string]string `json:"metadata"`
	// CallbackFormat tells a dialect which sessions it made: only it sets
	// its own format, whoever chose the session's URLs.
	CallbackFormat string    `json:"-"`
	ExpiresAt      time.Time `json:"expires_at"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

// SessionURL is the hosted checkout page of a session.
func (s *Sessions) SessionURL(sessionID string) string { return s.publicURL + "/pay/" + sessionID }

func (s *Sessions) sessionReturnURL(sessionID string) string {
	return s.SessionURL(sessionID) + "/return"
}

// viewSession renders a session; the key is looked up for the encryption_key.
func (s *Sessions) viewSession(ctx context.Context, ss *store.Session) (SessionView, error) {
	v := s.sessionSnapshot(ss)
	if ss.Status == store.SessionOpen {
		k, err := s.keyOf(ctx, ss)
		if err != nil {
			return SessionView{}, err
		}
		v.EncryptionKey = k
	}
	if ss.Status == store.SessionRequiresAction {
		v.NextAction = s.sessionNextAction(ctx, ss)
	}
	return v, nil
}

// sessionSnapshot renders a session from its record alone.
func (s *Sessions) sessionSnapshot(ss *store.Session) SessionView {
	md := ss.Metadata
	if md == nil {
		md = map[string]string{}
	}
	v := SessionView{ID: ss.ID, Object: "session", Mode: ss.Mode, Status: ss.Status, Amount: ss.Amount, Currency: ss.Currency,
		Customer: optional(ss.CustomerID), SaveCard: ss.SaveCard, ShowSavedCards: ss.ShowSavedCards, CaptureMethod: ss.CaptureMethod,
		OrderID: optional(ss.OrderID), Description: optional(ss.Description),
		Payment: optional(ss.PaymentID), Token: optional(ss.TokenID), LastError: ss.Failure, Attempts: ss.Attempts,
		SuccessURL: optional(ss.SuccessURL), FailureURL: optional(ss.FailureURL), ExpiredURL: optional(ss.ExpiredURL),
		CancelURL: optional(ss.CancelURL), CallbackURL: optional(ss.CallbackURL), Metadata: md, CallbackFormat: ss.CallbackFormat,
		ThreeDSecure: orDefault(ss.ThreeDSecure, ThreeDSIfRequired), ExpiresAt: ss.ExpiresAt, Created: ss.Created, Updated: ss.Updated}
	if ss.Mode == "redirect" {
		v.URL = optional(s.SessionURL(ss.ID))
	}
	return v
}

// keyOf is the public key a session's cards are encrypted to.
func (s *Sessions) keyOf(ctx context.Context, ss *store.Session) (*EncryptionKey, error) {
	k, err := read(ctx, s.store, func(tx store.Tx) (*store.SessionKey, error) { return tx.GetSessionKey(ss.MerchantID, ss.KeyID) })
	if err != nil {
		return nil, err
	}
	pub, err := parsePublic(k.Public)
	if err != nil {
		return nil, err
	}
	return encryptionKey(k, pub), nil
}

// sessionNextAction is the challenge a requires_action session waits for.
func (s *Sessions) sessionNextAction(ctx context.Context, ss *store.Session) *NextAction {
	var na *NextAction
	_ = s.store.Read(ctx, func(tx store.Tx) error {
		if ss.PaymentID != "" {
			p, err := tx.GetPayment(ss.MerchantID, ss.PaymentID)
			if err == nil {
				na = s.challenges.nextAction(p.Status, p.ChallengeID)
			}
			return nil
		}
		if ss.TokenID != "" {
			t, err := tx.GetTokenAny(ss.MerchantID, ss.TokenID)
			if err == nil {
				na = s.challenges.TokenNextAction(t)
			}
		}
		return nil
	})
	return na
}

// hashClientSecret is how a client secret is kept: it has 160 random bits,
// so a plain hash suffices, and comparison is of hashes in constant time.
func hashClientSecret(secret string) []byte {
	h := sha256.Sum256([]byte("coffer session client secret|" + secret))
	return h[:]
}

// newSession is the session a request asks for, checked and with its
// defaults applied, not yet stored: everything that needs no lookup.
// canAuthenticate says the processor offers 3-D Secure;
// allowPrivateWebhooks lets callback_url be on a private address.
func newSession(m *store.Merchant, p SessionParams, now time.Time, canAuthenticate, allowPrivateWebhooks bool) (*store.Session, error) {
	ss := &store.Session{ID: id.NewBits("ps", sessionIDBits), MerchantID: m.ID, Status: store.SessionOpen, Mode: p.Mode,
		Amount: p.Amount, SaveCard: p.SaveCard, ShowSavedCards: p.ShowSavedCards, CaptureMethod: "automatic",
		OrderID: p.OrderID, Description: p.Description, SuccessURL: p.SuccessURL, FailureURL: p.FailureURL,
		ExpiredURL: p.ExpiredURL, CancelURL: p.CancelURL, CallbackURL: p.CallbackURL, Metadata: p.Metadata,
		CallbackFormat: p.CallbackFormat, ForwardURLs: p.ForwardURLs, ThreeDSecure: p.ThreeDSecure, Created: now, Updated: now}
	switch ss.Mode {
	case "":
		ss.Mode = "redirect"
	case "redirect", "api":
	default:
		return nil, invalid("mode", "parameter_invalid", "mode must be redirect or api")
	}
	if p.Currency == nil {
		p.Currency = &m.Settings.DefaultCurrency
	}
	ss.Currency = *p.Currency
	if err := money.ValidateCurrency(ss.Currency); err != nil {
		return nil, fromMoney(err)
	}
	if ss.Amount < 0 {
		return nil, invalid("amount", "parameter_invalid", "amount must be 0 (save the card only) or a positive number of minor units")
	}
	if ss.Amount > 0 {
		if err := money.ValidateAmount(ss.Amount, ss.Currency); err != nil {
			return nil, fromMoney(err)
		}
	}
	switch ss.SaveCard {
	case "":
		ss.SaveCard = "off"
	case "off", "optional", "always":
	default:
		return nil, invalid("save_card", "parameter_invalid", "save_card must be off, optional or always")
	}
	if ss.Amount == 0 {
		ss.SaveCard = "always" // a session that charges nothing exists to save the card
	}
	// Checked now, as each attempt will check it, so that a session no
	// card can ever pay is refused rather than opened.
	if mode, err := threeDSMode(p.ThreeDSecure, m, ss.SaveCard == "always"); err != nil {
		return nil, err
	} else if mode == ThreeDSRequired && !canAuthenticate {
		return nil, errThreeDSUnavailable()
	}
	if p.Capture != nil && !*p.Capture {
		ss.CaptureMethod = "manual"
	}
	ttl := DefaultSessionTTL
	if p.ExpiresIn != nil {
		ttl = time.Duration(*p.ExpiresIn) * time.Second
		if *p.ExpiresIn < int64(MinSessionTTL/time.Second) || *p.ExpiresIn > int64(MaxSessionTTL/time.Second) {
			return nil, invalid("expires_in", "parameter_invalid", "expires_in must be between 60 and 86400 seconds")
		}
	}
	ss.ExpiresAt = now.Add(ttl)
	if !p.ExpiresAt.IsZero() {
		if ttl := p.ExpiresAt.Sub(now); ttl < MinSessionTTL || ttl > MaxSessionTTL {
			return nil, invalid("expires_at", "parameter_invalid", "expires_at must be between 1 minute and 24 hours from now")
		}
		ss.ExpiresAt = p.ExpiresAt.UTC()
	}
	urls := []struct{ name, v string }{{"success_url", p.SuccessURL}, {"failure_url", p.FailureURL},
		{"expired_url", p.ExpiredURL}, {"cancel_url", p.CancelURL}, {"callback_url", p.CallbackURL}}
	for _, u := range p.ForwardURLs {
		urls = append(urls, struct{ name, v string }{"return_url", u})
	}
	for _, f := range urls {
		if f.v != "" && !isHTTPURL(f.v) {
			return nil, invalid(f.name, "url_invalid", "%s must be an absolute http(s) URL"+urlHostRule, f.name)
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"order_id", p.OrderID, 255}, {"description", p.Description, 1000}, {"customer_reference", p.CustomerReference, 255}} {
		if err := checkFreeText(f.name, f.v, f.max); err != nil {
			return nil, err
		}
	}
	if p.CallbackURL != "" {
		if err := event.CheckURL(p.CallbackURL, allowPrivateWebhooks); err != nil {
			return nil, invalid("callback_url", "url_forbidden", "callback_url is not allowed: %s", err.Error())
		}
	}
	if err := ValidateMetadata(p.Metadata); err != nil {
		return nil, err
	}
	return ss, nil
}

// CreateSession opens a payment session.
func (s *Sessions) CreateSession(ctx context.Context, m *store.Merchant, p SessionParams) (SessionView, error) {
	ss, err := newSession(m, p, s.now(), s.auth != nil, s.allowPrivateWebhooks)
	if err != nil {
		return SessionView{}, err
	}
	cust, err := s.sessionCustomer(ctx, m, p.Customer, strings.TrimSpace(p.CustomerReference), p.NewCustomer)
	if err != nil {
		return SessionView{}, err
	}
	ss.CustomerID = cust
	if ss.ShowSavedCards && ss.CustomerID == "" {
		return SessionView{}, invalid("show_saved_cards", "parameter_invalid", "show_saved_cards needs a customer or customer_reference")
	}
	key, err := s.sealer.currentSessionKey(ctx, m.ID)
	if err != nil {
		return SessionView{}, err
	}
	ss.KeyID = key.key.ID
	secret := ss.ID + "_secret_" + strings.TrimPrefix(id.NewBits("x", 160), "x_")
	ss.ClientSecretHash = hashClientSecret(secret)
	if err := s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.InsertSession(ss); err != nil {
			return err
		}
		return s.sessionEvent(tx, ss, "session.created")
	}); err != nil {
		return SessionView{}, err
	}
	v := s.sessionSnapshot(ss)
	v.EncryptionKey = encryptionKey(key.key, key.pub) // already at hand: no second read
	v.ClientSecret = secret
	return v, nil
}

// sessionCustomer resolves customer / customer_reference, creating the
// customer for a reference not seen before (as details, when given).
func (s *Sessions) sessionCustomer(ctx context.Context, m *store.Merchant, customerID, reference string, details *CustomerParams) (string, error) {
	if customerID != "" {
		c, _, err := s.customers.GetCustomer(ctx, m.ID, customerID)
		var pe *Error
		if errors.As(err, &pe) && pe.Kind == KindNotFound {
			return "", notFound("customer", "customer", customerID)
		} else if err != nil {
			return "", err
		}
		if reference != "" && c.Reference != reference {
			return "", invalid("customer_reference", "parameter_invalid", "customer_reference does not match the customer's reference")
		}
		return c.ID, nil
	}
	create := CustomerParams{Reference: reference}
	if details != nil {
		create = *details
		create.Reference = reference
	}
	if reference == "" {
		if details == nil {
			return "", nil
		}
		c, err := s.customers.CreateCustomer(ctx, m.ID, create)
		if err != nil {
			return "", err
		}
		return c.ID, nil
	}
	for attempt := 0; attempt < 3; attempt++ {
		c, err := s.customers.FindCustomer(ctx, m.ID, reference)
		if err != nil {
			return "", err
		}
		if c != nil {
			return c.ID, nil
		}
		c, err = s.customers.CreateCustomer(ctx, m.ID, create)
		if err == nil {
			return c.ID, nil
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != KindConflict {
			return "", err
		}
		// A concurrent session created it: find it again.
	}
	return "", &Error{Kind: KindConflict, Code: "operation_in_progress", Message: "The customer is being created; retry."}
}

// getSession reads a session of a merchant, bringing it up to date first.
func (s *Sessions) getSession(ctx context.Context, merchantID, sessionID string) (*store.Session, error) {
	ss, err := read(ctx, s.store, func(tx store.Tx) (*store.Session, error) { return tx.GetSession(merchantID, sessionID) })
	if isNotFound(err) {
		return nil, notFound("id", "session", sessionID)
	}
	if err != nil {
		return nil, err
	}
	return s.freshSession(ctx, ss)
}

// freshSession brings a session up to date before it is shown or used:
// the outcome of its 3-D Secure challenge, and its expiry (the sweeper
// would get there too, a little later).
func (s *Sessions) freshSession(ctx context.Context, ss *store.Session) (*store.Session, error) {
	ss, err := s.syncSession(ctx, ss)
	if err != nil {
		return nil, err
	}
	if ss.Status == store.SessionOpen && !s.now().Before(ss.ExpiresAt) && !ss.ConfirmingUntil.After(s.now()) {
		s.expireSession(ctx, ss.MerchantID, ss.ID)
		err := s.store.Read(ctx, func(tx store.Tx) error {
			var err error
			ss, err = tx.GetSession(ss.MerchantID, ss.ID)
			return err
		})
		return ss, err
	}
	return ss, nil
}

// GetSession reads a session: the source of truth for its outcome.
func (s *Sessions) GetSession(ctx context.Context, merchantID, sessionID string) (SessionView, error) {
	ss, err := s.getSession(ctx, merchantID, sessionID)
	if err != nil {
		return SessionView{}, err
	}
	return s.viewSession(ctx, ss)
}

// CancelSession cancels an open session.
func (s *Sessions) CancelSession(ctx context.Context, merchantID, sessionID string) (SessionView, error) {
	ss, err := s.getSession(ctx, merchantID, sessionID)
	if err != nil {
		return SessionView{}, err
	}
	if ss, err = s.cancel(ctx, ss); err != nil {
		return SessionView{}, err
	}
	return s.viewSession(ctx, ss)
}

func (s *Sessions) cancel(ctx context.Context, ss *store.Session) (*store.Session, error) {
	var out *store.Session
	var refused error
	err := s.store.Write(ctx, func(tx store.Tx) error {
		refused = nil
		cur, err := tx.GetSession(ss.MerchantID, ss.ID)
		if err != nil {
			return err
		}
		out = cur
		if cur.Status == store.SessionOpen && !s.now().Before(cur.ExpiresAt) && !cur.ConfirmingUntil.After(s.now()) {
			cur.Status, cur.Updated = store.SessionExpired, s.now()
			refused = sessionNotOpen(cur)
			if err := tx.UpdateSession(cur); err != nil { // committed: the expiry is a fact
				return err
			}
			return s.sessionEvent(tx, cur, "session.expired")
		}
		if cur.Status != store.SessionOpen {
			return sessionNotOpen(cur)
		}
		if cur.ConfirmingUntil.After(s.now()) {
			return &Error{Kind: KindConflict, Code: "operation_in_progress", Message: "The session is being paid; retry shortly."}
		}
		cur.Status, cur.Updated = store.SessionCanceled, s.now()
		if err := tx.UpdateSession(cur); err != nil {
			return err
		}
		return s.sessionEvent(tx, cur, "session.canceled")
	})
	if err == nil {
		err = refused
	}
	return out, err
}

// sessionNotOpen is the 422 for confirming or canceling a session that is
// no longer open.
func sessionNotOpen(ss *store.Session) error {
	code := map[string]string{store.SessionExpired: "session_expired", store.SessionCanceled: "session_canceled",
		store.SessionSucceeded: "session_completed", store.SessionFailed: "session_failed",
		store.SessionRequiresAction: "session_requires_action"}[ss.Status]
	return &Error{Kind: KindInvalidState, Code: code, Message: "The session is " + strings.ReplaceAll(ss.Status, "_", " ") + "."}
}

// sessionBySecret finds a session's merchant by the session's client
// secret (and, when given, the merchant's publishable key); an unknown
// session, a wrong key or a wrong secret all look the same (not found).
func (s *Sessions) sessionBySecret(ctx context.Context, sessionID, clientSecret string, publishableKey *string) (*store.Merchant, error) {
	nf := notFound("id", "session", sessionID)
	if !id.HasPrefix(sessionID, "ps") || len(sessionID) > 64 || clientSecret == "" {
		return nil, nf
	}
	ss, err := read(ctx, s.store, func(tx store.Tx) (*store.Session, error) { return tx.GetSessionByID(sessionID) })
	if isNotFound(err) {
		return nil, nf
	} else if err != nil {
		return nil, err
	}
	m, err := s.merchants.GetMerchant(ctx, ss.MerchantID)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(hashClientSecret(clientSecret), ss.ClientSecretHash) != 1 {
		return nil, nf
	}
	if publishableKey != nil {
		// The current publishable key, or one a roll retired that still works.
		if ok, err := s.merchants.publishableOK(ctx, m, *publishableKey); err != nil {
			return nil, err
		} else if !ok {
			return nil, nf
		}
	}
	return m, nil
}

// SessionClientAuth authenticates a browser confirming a session with the
// merchant's publishable key and the session's client secret.
func (s *Sessions) SessionClientAuth(ctx context.Context, publishableKey, sessionID, clientSecret string) (*store.Merchant, error) {
	return s.sessionBySecret(ctx, sessionID, clientSecret, &publishableKey)
}

// SessionSecretAuth authenticates a live stream by the session's client
// secret alone (browsers cannot send headers on a WebSocket).
func (s *Sessions) SessionSecretAuth(ctx context.Context, sessionID, clientSecret string) (*store.Merchant, error) {
	return s.sessionBySecret(ctx, sessionID, clientSecret, nil)
}

// SessionEvents lists a session's events after a sequence number, oldest
// first: what a live stream sends, every change in order.
func (s *Sessions) SessionEvents(ctx context.Context, merchantID, sessionID string, afterSeq int64) ([]*store.Event, error) {
	var evs []*store.Event
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		evs, err = tx.EventsAfter(merchantID, sessionID, afterSeq, 100)
		return err
	})
	return evs, err
}

// ConfirmSession pays (or saves the card of) a session through the API.
func (s *Sessions) ConfirmSession(ctx context.Context, m *store.Merchant, sessionID string, p ConfirmParams) (SessionView, error) {
	ss, err := s.getSession(ctx, m.ID, sessionID)
	if err != nil {
		return SessionView{}, err
	}
	save := ss.SaveCard == "always" || ss.SaveCard == "optional" && p.SaveCard != nil && *p.SaveCard
	if p.MerchantInitiated && p.EncryptedCard != "" {
		return SessionView{}, invalid("encrypted_card", "parameter_invalid", "a merchant-initiated charge takes a saved card's token")
	}
	ss, err = s.confirm(ctx, m, ss, confirmInput{encrypted: p.EncryptedCard, token: p.Token, cvc: p.CVC, cipher: p.Cipher, save: save,
		merchantInitiated: p.MerchantInitiated})
	if err != nil {
		return SessionView{}, err
	}
	return s.viewSession(ctx, ss)
}

type confirmInput struct {
	encrypted, token, cvc string
	cipher                *CardCipher
	save                  bool
	merchantInitiated     bool
}

// confirm runs one attempt at a session: it claims the session, charges
// (or verifies and saves) the card, and records the outcome. A declined or
// failed card leaves the session open for another, up to MaxSessionAttempts.
func (s *Sessions) confirm(ctx context.Context, m *store.Merchant, ss *store.Session, in confirmInput) (*store.Session, error) {
	switch {
	case in.encrypted == "" && in.token == "":
		return nil, invalid("encrypted_card", "parameter_missing", "encrypted_card or token is required")
	case in.encrypted != "" && in.token != "":
		return nil, invalid("token", "parameter_invalid", "give either encrypted_card or token, not both")
	case in.token != "" && ss.Amount == 0:
		return nil, invalid("token", "parameter_invalid", "this session saves a new card; send encrypted_card")
	}
	attempt, err := s.claimSession(ctx, ss)
	if err != nil {
		return nil, err
	}
	// The attempt's payment id is derived from the session and the attempt
	// number: a confirmation retried after a crash resumes that payment
	// instead of charging again.
	actx := WithIdempotencyKey(ctx, "session|"+ss.ID+"|"+strconv.Itoa(attempt))
	outcome, perr := s.attempt(actx, m, ss, in)
	return s.recordAttempt(context.WithoutCancel(ctx), ss, outcome, perr)
}

// claimSession takes a session for one confirmation; it returns the number
// of attempts made so far. A session found past its expiry is expired.
func (s *Sessions) claimSession(ctx context.Context, ss *store.Session) (int, error) {
	attempt := 0
	var refused error
	err := s.store.Write(ctx, func(tx store.Tx) error {
		refused = nil
		cur, err := tx.GetSession(ss.MerchantID, ss.ID)
		if err != nil {
			return err
		}
		now := s.now()
		switch {
		case cur.Status == store.SessionOpen && !now.Before(cur.ExpiresAt):
			cur.Status, cur.Updated = store.SessionExpired, now
			refused = sessionNotOpen(cur)
			if err := tx.UpdateSession(cur); err != nil { // committed: the expiry is a fact
				return err
			}
			return s.sessionEvent(tx, cur, "session.expired")
		case cur.Status != store.SessionOpen:
			return sessionNotOpen(cur)
		case cur.ConfirmingUntil.After(now):
			return &Error{Kind: KindConflict, Code: "operation_in_progress", Message: "The session is already being paid; retry shortly."}
		}
		cur.ConfirmingUntil, cur.Updated = now.Add(confirmLease), now
		attempt = cur.Attempts
		*ss = *cur
		return tx.UpdateSession(cur)
	})
	if err == nil {
		err = refused
	}
	return attempt, err
}

// expireSession marks an open session past its expiry as expired.
func (s *Sessions) expireSession(ctx context.Context, merchantID, sessionID string) {
	_ = s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		cur, err := tx.GetSession(merchantID, sessionID)
		if err != nil || cur.Status != store.SessionOpen || s.now().Before(cur.ExpiresAt) || cur.ConfirmingUntil.After(s.now()) {
			return err
		}
		cur.Status, cur.Updated = store.SessionExpired, s.now()
		if err := tx.UpdateSession(cur); err != nil {
			return err
		}
		return s.sessionEvent(tx, cur, "session.expired")
	})
}

// attemptOutcome is what one confirmation did.
type attemptOutcome struct {
	status    string // the session's next status
	paymentID string
	tokenID   string
}

// attempt charges or saves the card for one confirmation.
func (s *Sessions) attempt(ctx context.Context, m *store.Merchant, ss *store.Session, in confirmInput) (attemptOutcome, error) {
	var ci *CardInput
	if in.encrypted != "" {
		var err error
		if ci, err = s.decryptCard(ctx, ss, in.encrypted, in.cipher); err != nil {
			return attemptOutcome{}, err
		}
	} else if err := s.checkSavedCard(ctx, ss, in.token); err != nil {
		return attemptOutcome{}, err
	}
	ret := s.sessionReturnURL(ss.ID)
	ctx = withChallengeDeadline(ctx, ss.ExpiresAt) // a challenge must not outlive its session
	if ss.Amount == 0 {
		tok, _, err := s.tokens.CreateToken(ctx, m, TokenParams{Card: ci, Customer: ss.CustomerID, ReturnURL: ret, ThreeDSecure: ss.ThreeDSecure,
			Metadata: map[string]string{"session": ss.ID}})
		if err != nil {
			return attemptOutcome{}, err
		}
		out := attemptOutcome{tokenID: tok.ID, status: store.SessionSucceeded}
		if tok.Status == store.TokenRequiresAction {
			out.status = store.SessionRequiresAction
		}
		return out, nil
	}
	capture := ss.CaptureMethod == "automatic"
	if in.merchantInitiated {
		ret = "" // no card holder to send to a challenge
	}
	v, err := s.payments.CreatePayment(ctx, m, PaymentParams{Amount: ss.Amount, Currency: &ss.Currency, Card: ci, Token: in.token, CVC: in.cvc,
		SaveCard: in.save && ci != nil, Capture: &capture, OrderID: ss.OrderID, Description: ss.Description,
		Customer: ss.CustomerID, ReturnURL: ret, ThreeDSecure: ss.ThreeDSecure, Metadata: map[string]string{"session": ss.ID},
		MerchantInitiated: in.merchantInitiated})
	if err != nil {
		return attemptOutcome{}, err
	}
	out := attemptOutcome{paymentID: v.ID, status: store.SessionSucceeded}
	if v.Token != nil {
		out.tokenID = *v.Token
	}
	if v.Status == store.PaymentRequiresAction {
		out.status = store.SessionRequiresAction
	}
	return out, nil
}

// checkSavedCard lets a session pay only with its own customer's cards.
func (s *Sessions) checkSavedCard(ctx context.Context, ss *store.Session, tokenID string) error {
	if ss.CustomerID == "" {
		return invalid("token", "parameter_invalid", "this session has no customer, so no saved cards")
	}
	t, err := s.tokens.GetToken(ctx, ss.MerchantID, tokenID)
	if err != nil {
		return err
	}
	if t.CustomerID != ss.CustomerID {
		return notFound("token", "token", tokenID)
	}
	return nil
}

// recordAttempt applies an attempt's outcome to its session and ends the
// claim. A card error (decline, failed verification) counts as a failed
// attempt; a bad request does not.
func (s *Sessions) recordAttempt(ctx context.Context, ss *store.Session, out attemptOutcome, perr error) (*store.Session, error) {
	var pe *Error
	cardErr := errors.As(perr, &pe) && pe.Kind == KindCard
	var res *store.Session
	err := s.store.Write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSession(ss.MerchantID, ss.ID)
		if err != nil {
			return err
		}
		res = cur
		now := s.now()
		cur.ConfirmingUntil, cur.Updated = time.Time{}, now
		if cur.Status != store.SessionOpen {
			return tx.UpdateSession(cur) // ended meanwhile (it cannot while claimed; defence in depth)
		}
		// An attempt that reached a payment is spent, whatever its outcome:
		// the next one gets a new payment id, never resuming this one with
		// another card. An unknown outcome is settled by Reconcile.
		spent := errors.As(perr, &pe) && (pe.Payment != nil || pe.Code == "payment_mismatch")
		switch {
		case cardErr || spent:
			cur.Attempts++
			cur.Failure = &store.Failure{Code: pe.Code, DeclineCode: pe.DeclineCode, Message: pe.Message}
			if pe.Payment != nil {
				cur.PaymentID = pe.Payment.ID
			}
			if cur.Attempts >= MaxSessionAttempts {
				cur.Status = store.SessionFailed
			}
		case perr != nil:
			return tx.UpdateSession(cur) // nothing happened but the claim's end
		default:
			cur.Status, cur.Failure = out.status, nil
			if out.paymentID != "" {
				cur.PaymentID = out.paymentID
			}
			if out.tokenID != "" {
				cur.TokenID = out.tokenID
			}
		}
		if err := tx.UpdateSession(cur); err != nil {
			return err
		}
		return s.sessionEvent(tx, cur, sessionStatusEvent(cur.Status))
	})
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return res, perr
	}
	return res, nil
}

// syncSession brings a session waiting on 3-D Secure up to date with its
// payment or token, which the challenge page moves on.
func (s *Sessions) syncSession(ctx context.Context, ss *store.Session) (*store.Session, error) {
	// An expired session whose last payment went through anyway (its
	// charge was under way when time ran out) is paid: the money decides.
	expiredPaid := ss.Status == store.SessionExpired && ss.PaymentID != ""
	if ss.Status != store.SessionRequiresAction && !expiredPaid {
		return ss, nil
	}
	if expiredPaid { // look before taking the writer: nearly always it was not paid
		p, err := read(ctx, s.store, func(tx store.Tx) (*store.Payment, error) { return tx.GetPayment(ss.MerchantID, ss.PaymentID) })
		if err != nil {
			return nil, err
		}
		if p.Status != store.PaymentSucceeded && p.Status != store.PaymentRequiresCapture {
			return ss, nil
		}
	}
	var res *store.Session
	err := s.store.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		cur, err := tx.GetSession(ss.MerchantID, ss.ID)
		if err != nil {
			return err
		}
		res = cur
		if cur.Status == store.SessionExpired && cur.PaymentID != "" {
			p, err := tx.GetPayment(cur.MerchantID, cur.PaymentID)
			if err != nil || (p.Status != store.PaymentSucceeded && p.Status != store.PaymentRequiresCapture) {
				return err
			}
			cur.Status, cur.Failure, cur.Updated = store.SessionSucceeded, nil, s.now()
			if p.TokenID != "" {
				cur.TokenID = p.TokenID
			}
			if err := tx.UpdateSession(cur); err != nil {
				return err
			}
			return s.sessionEvent(tx, cur, "session.succeeded")
		}
		if cur.Status != store.SessionRequiresAction {
			return nil
		}
		var failure *store.Failure
		done := false
		if cur.PaymentID != "" {
			p, err := tx.GetPayment(cur.MerchantID, cur.PaymentID)
			if err != nil {
				return err
			}
			switch p.Status {
			case store.PaymentSucceeded, store.PaymentRequiresCapture:
				done = true
				if p.TokenID != "" {
					cur.TokenID = p.TokenID
				}
			case store.PaymentFailed, store.PaymentCanceled:
				failure = p.Failure
				if failure == nil {
					failure = &store.Failure{Code: "payment_failed", Message: "The payment did not go through."}
				}
			default:
				return nil // still waiting or authorizing
			}
		} else {
			t, err := tx.GetTokenAny(cur.MerchantID, cur.TokenID)
			if err != nil {
				return err
			}
			switch t.Status {
			case store.TokenActive, store.TokenDisabled:
				done = true
			case store.TokenRequiresAction:
				return nil
			default:
				code := orDefault(t.Verification.FailureCode, "card_declined")
				failure = &store.Failure{Code: code, Message: cardMessage(code)}
			}
		}
		cur.Updated = s.now()
		if done {
			cur.Status, cur.Failure = store.SessionSucceeded, nil
		} else {
			cur.Attempts++
			cur.Failure = failure
			cur.Status = store.SessionOpen
			if cur.Attempts >= MaxSessionAttempts {
				cur.Status = store.SessionFailed
			}
		}
		if err := tx.UpdateSession(cur); err != nil {
			return err
		}
		return s.sessionEvent(tx, cur, sessionStatusEvent(cur.Status))
	})
	return res, err
}

// cardMessage is what a card holder is told about a token that failed.
func cardMessage(code string) string {
	switch code {
	case "authentication_failed":
		return "Your bank could not verify it's you. Try again or use another card."
	case "expired_card":
		return "Your card has expired."
	case "incorrect_cvc":
		return "Your card's security code is incorrect."
	}
	return "Your card was declined. Try another card."
}

// SweepSessions expires sessions past their time: those left open, and
// those whose card holder never finished 3-D Secure (their challenge is
// expired too, so the payment cannot complete afterwards).
func (s *Sessions) SweepSessions(ctx context.Context) (int, error) {
	n := 0
	for {
		var batch []*store.Session
		if err := s.store.Read(ctx, func(tx store.Tx) error {
			var err error
			batch, err = tx.SweepableSessions(s.now(), 100)
			return err
		}); err != nil {
			return n, err
		}
		progressed := 0
		for _, ss := range batch {
			cur, err := s.syncSession(ctx, ss)
			if err != nil {
				return n, err
			}
			if cur.Status == store.SessionRequiresAction {
				if err := s.expireChallengeOf(ctx, cur); err != nil {
					return n, err
				}
				if cur, err = s.syncSession(ctx, cur); err != nil {
					return n, err
				}
			}
			err = s.store.Write(ctx, func(tx store.Tx) error {
				c, err := tx.GetSession(cur.MerchantID, cur.ID)
				if err != nil {
					return err
				}
				if (c.Status != store.SessionOpen && c.Status != store.SessionRequiresAction) || s.now().Before(c.ExpiresAt) ||
					c.ConfirmingUntil.After(s.now()) {
					return nil // not due, or a confirmation is charging it right now
				}
				if c.PaymentID != "" && c.Status == store.SessionRequiresAction {
					p, err := tx.GetPayment(c.MerchantID, c.PaymentID)
					if err != nil {
						return err
					}
					if p.Status == store.PaymentProcessing {
						return nil // authenticated and being charged: its outcome decides
					}
				}
				c.Status, c.Updated, c.ConfirmingUntil = store.SessionExpired, s.now(), time.Time{}
				if err := tx.UpdateSession(c); err != nil {
					return err
				}
				return s.sessionEvent(tx, c, "session.expired")
			})
			if err != nil {
				return n, err
			}
			progressed++
		}
		n += progressed
		if len(batch) < 100 {
			return n, nil
		}
	}
}

// expireChallengeOf ends the pending challenge a session's payment or token
// waits for, as if its time had run out.
func (s *Sessions) expireChallengeOf(ctx context.Context, ss *store.Session) error {
	return s.store.Write(ctx, func(tx store.Tx) error {
		cid := ""
		if ss.PaymentID != "" {
			p, err := tx.GetPayment(ss.MerchantID, ss.PaymentID)
			if err != nil {
				return err
			}
			cid = p.ChallengeID
		} else if ss.TokenID != "" {
			t, err := tx.GetTokenAny(ss.MerchantID, ss.TokenID)
			if err != nil {
				return err
			}
			cid = t.ChallengeID
		}
		if cid == "" {
			return nil
		}
		c, err := tx.GetChallenge(cid)
		if err != nil || c.Status != store.ChallengePending {
			return err
		}
		return s.challenges.expireInTx(tx, c)
	})
}

func marshalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// withSessionID adds session_id to a merchant's URL.
func withSessionID(raw, sessionID string) string {
	return withQuery(raw, url.Values{"session_id": {sessionID}})
}

// ---- the hosted page

// sessionByPage finds a session from its page URL (the id alone).
func (s *Sessions) sessionByPage(ctx context.Context, sessionID string) (*store.Session, *store.Merchant, error) {
	if !id.HasPrefix(sessionID, "ps") || len(sessionID) > 64 {
		return nil, nil, notFound("", "session", "")
	}
	ss, err := read(ctx, s.store, func(tx store.Tx) (*store.Session, error) { return tx.GetSessionByID(sessionID) })
	if isNotFound(err) {
		return nil, nil, notFound("", "session", "")
	}
	if err != nil {
		return nil, nil, err
	}
	if ss, err = s.freshSession(ctx, ss); err != nil {
		return nil, nil, err
	}
	m, err := s.merchants.GetMerchant(ctx, ss.MerchantID)
	if err != nil {
		return nil, nil, err
	}
	return ss, m, nil
}

// pageRedirect is where the browser goes for a session that is no longer
// open ("" to show the page's own final state).
func (s *Sessions) pageRedirect(ctx context.Context, ss *store.Session) string {
	target := map[string]string{store.SessionSucceeded: ss.SuccessURL, store.SessionFailed: ss.FailureURL,
		store.SessionExpired: ss.ExpiredURL, store.SessionCanceled: ss.CancelURL}[ss.Status]
	if ss.Status == store.SessionRequiresAction {
		if na := s.sessionNextAction(ctx, ss); na != nil {
			return na.URL
		}
		return ""
	}
	if target == "" {
		return ""
	}
	return withSessionID(target, ss.ID)
}

// hostedSession is sessionByPage for the hosted page itself: an api-mode
// session has none (its id alone must not open the customer's saved cards
// or pay; the merchant's page uses the client secret through the API).
func (s *Sessions) hostedSession(ctx context.Context, sessionID string) (*store.Session, *store.Merchant, error) {
	ss, m, err := s.sessionByPage(ctx, sessionID)
	if err == nil && ss.Mode != "redirect" {
		return nil, nil, notFound("", "session", "")
	}
	return ss, m, err
}

// CheckoutPage is what the hosted checkout page shows now.
func (s *Sessions) CheckoutPage(ctx context.Context, sessionID string) (CheckoutView, error) {
	ss, m, err := s.hostedSession(ctx, sessionID)
	if err != nil {
		return CheckoutView{}, err
	}
	v := CheckoutView{SessionID: ss.ID, MerchantName: m.Name, SaveOnly: ss.Amount == 0, OrderID: ss.OrderID, State: ss.Status,
		SaveCard: ss.SaveCard, SavedCardNeedsCVC: m.Settings.RequireCVCForSavedCards, Cancelable: ss.CancelURL != "",
		PageURL: s.SessionURL(ss.ID), FrameAncestors: m.Settings.FrameAncestors, TestMode: s.testMode, ExpiresAt: ss.ExpiresAt}
	if ss.Amount > 0 {
		v.Amount = ss.Currency + " " + money.Format(ss.Amount, ss.Currency)
	}
	if ss.Status != store.SessionOpen {
		v.Redirect = s.pageRedirect(ctx, ss)
		v.Message = map[string]string{store.SessionSucceeded: "Thank you: your payment is complete.",
			store.SessionFailed: "This payment could not be completed.", store.SessionExpired: "This payment page has expired.",
			store.SessionCanceled: "This payment was canceled.", store.SessionRequiresAction: "Your bank is verifying the payment."}[ss.Status]
		if ss.Status == store.SessionSucceeded && ss.Amount == 0 {
			v.Message = "Your card has been saved."
		}
		return v, nil
	}
	if ss.Failure != nil {
		v.Message = ss.Failure.Message
	}
	k, err := s.keyOf(ctx, ss)
	if err != nil {
		return CheckoutView{}, err
	}
	jwk, err := marshalJSON(k.JWK)
	if err != nil {
		return CheckoutView{}, err
	}
	v.KeyJWK, v.KeyID = jwk, k.KID
	if ss.ShowSavedCards && ss.CustomerID != "" && ss.Amount > 0 {
		toks, _, err := s.tokens.ListTokens(ctx, ss.MerchantID, store.TokenFilter{CustomerID: ss.CustomerID, Limit: 20})
		if err != nil {
			return CheckoutView{}, err
		}
		for _, t := range toks {
			if t.Status == store.TokenActive && !card.Expired(t.ExpMonth, t.ExpYear, s.now()) {
				v.SavedCards = append(v.SavedCards, SavedCard{Token: t.ID, Brand: t.Brand, Mask: t.Mask, Last4: t.Last4,
					ExpMonth: t.ExpMonth, ExpYear: t.ExpYear})
			}
		}
	}
	return v, nil
}

// ConfirmFromPage takes the checkout page's confirmation.
func (s *Sessions) ConfirmFromPage(ctx context.Context, sessionID string, c PageConfirm) (PageResult, error) {
	ss, m, err := s.hostedSession(ctx, sessionID)
	if err != nil {
		return PageResult{}, err
	}
	if ss.Status != store.SessionOpen {
		if r := s.pageRedirect(ctx, ss); r != "" {
			return PageResult{Redirect: r}, nil
		}
		return PageResult{Redirect: s.SessionURL(ss.ID)}, nil
	}
	if c.Token != "" && !ss.ShowSavedCards {
		return PageResult{Error: &PageError{Message: "Saved cards cannot be used here.", Field: "card"}}, nil
	}
	if c.Token != "" && c.CVC == "" && m.Settings.RequireCVCForSavedCards {
		return PageResult{Error: &PageError{Message: "Enter the card's security code.", Field: "cvc"}}, nil
	}
	save := ss.SaveCard == "always" || ss.SaveCard == "optional" && c.SaveCard
	res, err := s.confirm(ctx, m, ss, confirmInput{encrypted: c.EncryptedCard, token: c.Token, cvc: c.CVC, save: save})
	var pe *Error
	if errors.As(err, &pe) && pe.Kind != KindUpstream && pe.Kind != KindConflict {
		if res != nil && res.Status != store.SessionOpen {
			return PageResult{Redirect: orPage(s.pageRedirect(ctx, res), s.SessionURL(ss.ID))}, nil
		}
		if pe.Kind == KindInvalidState {
			return PageResult{Redirect: s.SessionURL(ss.ID)}, nil
		}
		return PageResult{Error: &PageError{Message: holderMessage(pe), Field: pageField(pe)}}, nil
	}
	if err != nil {
		if errors.As(err, &pe) {
			return PageResult{Error: &PageError{Message: "We could not reach the bank. Please try again.", Field: "card"}}, nil
		}
		return PageResult{}, err
	}
	return PageResult{Redirect: orPage(s.pageRedirect(ctx, res), s.SessionURL(ss.ID))}, nil
}

func orPage(redirect, page string) string {
	if redirect == "" {
		return page
	}
	return redirect
}

// holderMessage words an error for the card holder.
func holderMessage(e *Error) string {
	switch {
	case e.Kind == KindCard && e.Code == "card_declined":
		return orDefault(e.Message, "Your card was declined.") + " Try another card, or contact your bank."
	case e.Kind == KindCard && e.Message != "":
		return e.Message
	case e.Param == "encrypted_card":
		return "Your card details could not be read. Reload the page and try again."
	case e.Kind == KindNotFound:
		return "That saved card is not available. Choose another."
	}
	return strings.TrimPrefix(strings.TrimPrefix(e.Message, "card."), "card ")
}

// pageField maps an error's parameter to the page's form field.
func pageField(e *Error) string {
	switch p := strings.TrimPrefix(e.Param, "card."); {
	case e.Kind == KindCard:
		if e.Code == "incorrect_cvc" || e.Code == "invalid_cvc" {
			return "cvc"
		}
		if e.Code == "expired_card" {
			return "expiry"
		}
		return "card"
	case p == "number":
		return "number"
	case p == "exp_month" || p == "exp_year":
		return "expiry"
	case p == "cvc":
		return "cvc"
	case p == "holder_name":
		return "holder_name"
	}
	return "card"
}

// SessionReturn is where the 3-D Secure challenge sends the card holder
// back: on to the merchant's URL for the outcome, or back to the page to
// try another card.
func (s *Sessions) SessionReturn(ctx context.Context, sessionID string) (string, error) {
	ss, _, err := s.sessionByPage(ctx, sessionID)
	if err != nil {
		return "", err
	}
	if ss.Status == store.SessionOpen || ss.Status == store.SessionRequiresAction {
		return s.SessionURL(ss.ID), nil
	}
	return orPage(s.pageRedirect(ctx, ss), s.SessionURL(ss.ID)), nil
}

// CancelFromPage cancels the session from its page (the card holder's
// "cancel" button) and says where to go.
func (s *Sessions) CancelFromPage(ctx context.Context, sessionID string) (string, error) {
	ss, _, err := s.hostedSession(ctx, sessionID)
	if err != nil {
		return "", err
	}
	if ss.Status == store.SessionOpen {
		res, err := s.cancel(ctx, ss)
		var pe *Error
		if err != nil && !(errors.As(err, &pe) && (pe.Kind == KindInvalidState || pe.Kind == KindConflict)) {
			return "", err
		}
		if res != nil {
			ss = res
		}
	}
	return orPage(s.pageRedirect(ctx, ss), s.SessionURL(ss.ID)), nil
}

// sessionEvent records a session's change, with the session as the API
// shows it (its encryption key aside, which events do not need).
func (s *Sessions) sessionEvent(tx store.Tx, ss *store.Session, typ string) error {
	v := s.sessionSnapshot(ss)
	if ss.Status == store.SessionRequiresAction {
		if ss.PaymentID != "" {
			if p, err := tx.GetPayment(ss.MerchantID, ss.PaymentID); err == nil {
				v.NextAction = s.challenges.nextAction(p.Status, p.ChallengeID)
			}
		} else if ss.TokenID != "" {
			if t, err := tx.GetTokenAny(ss.MerchantID, ss.TokenID); err == nil {
				v.NextAction = s.challenges.TokenNextAction(t)
			}
		}
	}
	return s.events.event(tx, ss.MerchantID, typ, "session", ss.ID, v)
}
