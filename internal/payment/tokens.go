package payment

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Tokens vault cards: create (with verification and 3-D Secure), read,
// disable, enable, validate, delete (crypto-shredding) and audit.
type Tokens struct {
	*deps
	sealer     *Sealer
	events     *Events
	cards      *CardGuard
	challenges *Challenges
	acquirers  *Acquirers
}

// CardInput is a card as a client sends it. It holds a PAN and CVC, so it
// formats itself masked: a stray %v or slog call cannot leak it.
type CardInput struct {
	Number       string `json:"number"`
	ExpMonth     int    `json:"exp_month"`
	ExpYear      int    `json:"exp_year"`
	CVC          string `json:"cvc"`
	HolderName   string `json:"holder_name"`
	AddressLine1 string `json:"address_line1"`
	PostalCode   string `json:"address_postal_code"`
	Country      string `json:"address_country"`
}

func (c CardInput) String() string       { return "card(redacted)" }
func (c CardInput) GoString() string     { return "payment.CardInput{redacted}" }
func (c CardInput) LogValue() slog.Value { return slog.StringValue("card(redacted)") }

// TokenParams creates a token.
type TokenParams struct {
	Card          *CardInput        `json:"card"`
	EncryptedCard string            `json:"encrypted_card"`
	Customer      string            `json:"customer"`
	Verify        *bool             `json:"verify"`
	ThreeDSecure  string            `json:"three_d_secure"`
	ReturnURL     string            `json:"return_url"`
	Metadata      map[string]string `json:"metadata"`
	// ProcessorAccount verifies the card at this account only; "" routes
	// the verification by the merchant's default currency and priority.
	ProcessorAccount string `json:"processor_account"`
}

// parseCard validates a card input; prefix is the param path ("card.").
func parseCard(in *CardInput, now time.Time, prefix string) (processor.Card, card.Brand, error) {
	pan, brand, err := card.ParseNumber(in.Number)
	if err != nil {
		return processor.Card{}, "", fromCardField(prefix, err)
	}
	m, y, err := card.ValidateExpiry(in.ExpMonth, in.ExpYear, now)
	if err != nil {
		return processor.Card{}, "", fromCardField(prefix, err)
	}
	if in.CVC != "" {
		if err := card.ValidateCVC(in.CVC, brand); err != nil {
			return processor.Card{}, "", fromCardField(prefix, err)
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"holder_name", in.HolderName, 100}, {"address_line1", in.AddressLine1, 200}, {"address_postal_code", in.PostalCode, 200}, {"address_country", in.Country, 200}} {
		if err := checkText(prefix+f.name, f.v, f.max); err != nil {
			return processor.Card{}, "", err
		}
		// These fields are stored and shown in clear: a card number typed
		// into one (a common slip) must not be.
		if logging.HasCardNumber(f.v) {
			return processor.Card{}, "", invalid(prefix+f.name, "parameter_invalid", "%s%s must not contain a card number", prefix, f.name)
		}
	}
	return processor.Card{Number: pan, ExpMonth: m, ExpYear: y, CVC: in.CVC, HolderName: in.HolderName,
		AddressLine1: in.AddressLine1, PostalCode: in.PostalCode, Country: in.Country}, brand, nil
}

// CreateToken verifies a card (unless told not to) and stores it encrypted.
// created is false when the customer already had this card: its existing
// token is returned with the expiry brought up to date.
func (s *Tokens) CreateToken(ctx context.Context, m *store.Merchant, p TokenParams) (tok *store.Token, created bool, err error) {
	tok, created, _, err = s.CreateTokenRendered(ctx, m, p)
	return tok, created, err
}

// CreateTokenRendered is CreateToken that also returns the token's view as
// JSON when it is already rendered: the token.created event's data, rendered
// before the write, is the answer's body as well when the new token was
// stored as it is. view is nil otherwise (a token stored before came back).
func (s *Tokens) CreateTokenRendered(ctx context.Context, m *store.Merchant, p TokenParams) (tok *store.Token, created bool, view []byte, err error) {
	mode, err := checkTokenParams(p, m, s.auth != nil)
	if err != nil {
		return nil, false, nil, err
	}
	now := s.now()
	pc, brand, err := parseCard(p.Card, now, "card.")
	if err != nil {
		return nil, false, nil, err
	}
	if p.Customer != "" {
		if err := s.store.Read(ctx, func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, p.Customer); return err }); err != nil {
			if isNotFound(err) {
				return nil, false, nil, notFound("customer", "customer", p.Customer)
			}
			return nil, false, nil, err
		}
	}

	tid, derived, err := s.tokenID(ctx, m.ID)
	if err != nil {
		return nil, false, nil, err
	}
	if derived {
		// An earlier attempt of this keyed request stored the token, then
		// died before its answer was: that token is the answer.
		if t, err := s.priorToken(ctx, m.ID, tid); t != nil || err != nil {
			return t, t != nil, nil, err
		}
	}
	tok = &store.Token{ID: tid, MerchantID: m.ID, CustomerID: p.Customer, Status: store.TokenActive,
		Brand: string(brand), BIN: card.BIN(pc.Number), Last4: card.Last4(pc.Number), Mask: card.Mask(pc.Number),
		ExpMonth: pc.ExpMonth, ExpYear: pc.ExpYear, HolderName: pc.HolderName, Metadata: p.Metadata, Created: now, Updated: now}
	tok.Verification = store.Verification{Status: "unverified", ThreeDSecure: processor.AuthNotRequired, CVCCheck: "unchecked", AVSCheck: "unchecked"}
	verify := p.Verify == nil || *p.Verify
	if tok.Fingerprint, err = s.sealer.fingerprint(ctx, m.ID, pc.Number); err != nil {
		return nil, false, nil, err
	}
	// Before anything answers "same card": that answer is the oracle.
	if err := s.cards.admitCard(ctx, m, tok.BIN, tok.Last4, tok.Fingerprint, !verify); err != nil {
		return nil, false, nil, err
	}
	var authn *store.Authentication
	// 3-D Secure guards the verification authorization; a card stored
	// without one (verify:false) is authenticated only when required.
	if mode == ThreeDSRequired || mode == ThreeDSIfRequired && verify {
		a, err := s.challenges.authenticate(ctx, processor.AuthenticateRequest{MerchantID: m.ID, Reference: tok.ID, Card: pc,
			Amount: VerifyAmount, Currency: m.Settings.DefaultCurrency, Mandated: mode == ThreeDSRequired})
		if err != nil {
			return nil, false, nil, err
		}
		if a != nil {
			switch a.Status {
			case processor.AuthChallengeRequired:
				returnURL := p.ReturnURL
				if returnURL == "" {
					returnURL = m.Settings.TokenizationReturnURL
				}
				tok, created, err = s.tokenChallenge(ctx, m, tok, pc, a, returnURL, verify)
				return tok, created, nil, err
			case processor.AuthFailed:
				return nil, false, nil, &Error{Kind: KindCard, Code: processor.CodeAuthenticationFailed, DeclineCode: processor.CodeAuthenticationFailed,
					Message: msgAuthFailed}
			}
			authn = recorded(*a)
			tok.Verification.ThreeDSecure, tok.Verification.Authentication = a.Status, authn
		}
	}
	if verify {
		v, err := s.acquirers.verifyCard(ctx, p.ProcessorAccount, processor.VerifyRequest{MerchantID: m.ID, Reference: tok.ID, Card: pc,
			Amount: VerifyAmount, Currency: m.Settings.DefaultCurrency, Authentication: processorAuth(authn)})
		s.cards.cardOutcome(ctx, m, tok.BIN, tok.Last4, tok.Fingerprint, "", err)
		if err != nil {
			return nil, false, nil, fromDecline(err)
		}
		at := s.now()
		tok.Verification = store.Verification{Status: "verified", ThreeDSecure: threeDSStatus(authn), CVCCheck: v.CVCResult,
			AVSCheck: v.AVSResult, AuthCode: v.AuthCode, NetworkRef: v.AuthorizationID, VerifiedAt: &at, Authentication: authn}
	}

	if err := s.sealToken(ctx, tok, pc.Number); err != nil {
		return nil, false, nil, err
	}

	if created, view, err = s.storeNewToken(ctx, tok, derived, now); err != nil {
		return nil, false, nil, err
	}
	return tok, created, view, nil
}

// checkTokenParams refuses a tokenization request that cannot be served and
// returns its 3-D Secure mode; canAuthenticate says the processor offers
// 3-D Secure.
func checkTokenParams(p TokenParams, m *store.Merchant, canAuthenticate bool) (mode string, err error) {
	if p.EncryptedCard != "" {
		return "", invalid("encrypted_card", "parameter_unsupported", "encrypted_card needs a payment session's key; send card instead")
	}
	if p.Card == nil {
		return "", invalid("card", "parameter_missing", "card is required")
	}
	if mode, err = threeDSMode(p.ThreeDSecure, m, true); err != nil {
		return "", err
	}
	if mode == ThreeDSRequired && !canAuthenticate {
		return "", invalid("three_d_secure", "three_d_secure_unavailable", "3-D Secure is required but this server's processor does not support it")
	}
	if p.ReturnURL != "" && !isHTTPURL(p.ReturnURL) {
		return "", invalid("return_url", "url_invalid", "return_url must be an absolute http(s) URL"+urlHostRule)
	}
	if err := ValidateMetadata(p.Metadata); err != nil {
		return "", err
	}
	return mode, nil
}

// storeNewToken stores a sealed token, or finds the customer's existing
// token for the same card (created false; tok becomes it). A concurrent save
// of the same card can win the unique index between our lookup and insert
// (backends that do not serialise writers); the retry then finds its token
// and returns it.
func (s *Tokens) storeNewToken(ctx context.Context, tok *store.Token, derived bool, now time.Time) (created bool, view []byte, err error) {
	fresh := *tok
	// The token.created event's JSON, rendered before the write: work the
	// single writer does not do. Used only when the new token is stored as
	// it is (not when an existing token of the customer's is updated).
	tv := s.ViewToken(&fresh)
	rendered, err := renderToken(&tv)
	if err != nil {
		return false, nil, err
	}
	stored := false // fresh itself went in, with rendered as its event
	for attempt := 0; ; attempt++ {
		err = s.store.Write(ctx, func(tx store.Tx) error {
			*tok, stored = fresh, false // fn may be retried by the backend: start clean
			if derived {
				if old, err := tx.GetTokenAny(tok.MerchantID, tok.ID); err == nil {
					*tok, created = *old, true // stored meanwhile by an attempt presumed dead
					return nil
				} else if !isNotFound(err) {
					return err
				}
			}
			created, err = s.saveTokenRendered(tx, tok, now, rendered)
			stored = created // saveTokenRendered creates only by inserting tok as given
			return err
		})
		if !errors.Is(err, store.ErrConflict) || attempt == 2 {
			break
		}
	}
	if isNotFound(err) {
		return false, nil, notFound("customer", "customer", fresh.CustomerID)
	}
	if err != nil || !stored {
		return created, nil, err
	}
	return created, rendered, nil
}

// tokenID is a random token id, or under an Idempotency-Key one derived from
// the key's claim (as a payment's is), so that a tokenization retried after a
// crash finds the token its first attempt stored instead of storing the card
// a second time. The derivation is keyed with the merchant's digest key: a
// derived id is as unguessable as a random one, whatever the key's source.
func (s *Tokens) tokenID(ctx context.Context, merchantID string) (id string, derived bool, err error) {
	d := keyDigest(ctx)
	if d == "" {
		return vault.NewToken(), false, nil
	}
	mac, err := s.sealer.Digest(ctx, merchantID, "token-id", []byte(d))
	if err != nil {
		return "", false, err
	}
	return "tok_" + strings.ToLower(lowerB32.EncodeToString(mac[:20])), true, nil
}

// priorToken is the token with a derived id, or nil when none is stored.
func (s *Tokens) priorToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error) {
	var t *store.Token
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.GetTokenAny(merchantID, tokenID)
		return err
	})
	if isNotFound(err) {
		return nil, nil
	}
	return t, err
}

// tokenChallenge stores a token that waits for its card holder's 3-D Secure
// challenge: its card sealed as usual, its CVC sealed in the challenge until
// the verification after it. If the customer already has this card, that
// token is returned instead, as any save of a known card does.
func (s *Tokens) tokenChallenge(ctx context.Context, m *store.Merchant, tok *store.Token, pc processor.Card, a *processor.Authentication,
	returnURL string, verify bool) (*store.Token, bool, error) {
	if err := s.sealToken(ctx, tok, pc.Number); err != nil {
		return nil, false, err
	}
	c, err := s.challenges.newChallenge(ctx, m, "token", tok.ID, a, VerifyAmount, m.Settings.DefaultCurrency, tok.Brand, tok.Mask, tok.Fingerprint, returnURL, verify,
		challengeSecret{CVC: pc.CVC})
	if err != nil {
		return nil, false, err
	}
	tok.Status, tok.ChallengeID = store.TokenRequiresAction, c.ID
	tok.Verification = store.Verification{Status: "pending", ThreeDSecure: "pending", CVCCheck: "unchecked", AVSCheck: "unchecked"}
	fresh := *tok
	created := false
	for attempt := 0; ; attempt++ {
		err = s.store.Write(ctx, func(tx store.Tx) error {
			*tok, created = fresh, true
			if tok.CustomerID != "" {
				if _, err := tx.GetCustomer(tok.MerchantID, tok.CustomerID); err != nil {
					return err
				}
				old, err := tx.FindTokenByFingerprint(tok.MerchantID, tok.CustomerID, tok.Fingerprint)
				if err == nil && old.Verification.Status == "verified" {
					// Nothing is verified yet: the verified card stays as it is.
					*tok, created = *old, false
					return nil
				}
				if err == nil {
					old.ExpMonth, old.ExpYear, old.Updated = tok.ExpMonth, tok.ExpYear, s.now()
					*tok, created = *old, false
					return tx.UpdateToken(old)
				} else if !isNotFound(err) {
					return err
				}
			}
			if err := tx.InsertToken(tok); err != nil {
				return err
			}
			if err := tx.InsertChallenge(c); err != nil {
				return err
			}
			return s.tokenEvent(tx, tok, "token.created")
		})
		if !errors.Is(err, store.ErrConflict) || attempt == 2 {
			break
		}
	}
	if isNotFound(err) {
		return nil, false, notFound("customer", "customer", tok.CustomerID)
	}
	if err != nil {
		return nil, false, err
	}
	return tok, created, nil
}

// sealToken fills a token's fingerprint (unless the caller already made
// it from the same number, for the card-testing check) and its ciphertext.
func (s *Tokens) sealToken(ctx context.Context, tok *store.Token, pan string) error {
	var err error
	if tok.Fingerprint == "" {
		if tok.Fingerprint, err = s.sealer.fingerprint(ctx, tok.MerchantID, pan); err != nil {
			return err
		}
	}
	tok.CardCT, err = s.sealer.seal(ctx, tok.MerchantID, "token", tok.ID, []byte(pan))
	return err
}

// saveToken stores a sealed token inside a transaction. When its customer
// already has this card, the existing token is updated (expiry, holder,
// verification) and *tok becomes it; created is then false.
func (s *Tokens) saveToken(tx store.Tx, tok *store.Token, now time.Time) (created bool, err error) {
	return s.saveTokenRendered(tx, tok, now, nil)
}

// saveTokenRendered is saveToken with the token.created event's JSON
// already rendered from *tok (nil: render it here).
func (s *Tokens) saveTokenRendered(tx store.Tx, tok *store.Token, now time.Time, rendered []byte) (created bool, err error) {
	if tok.CustomerID != "" {
		// Checked inside the write: the customer may have been deleted meanwhile.
		if _, err := tx.GetCustomer(tok.MerchantID, tok.CustomerID); err != nil {
			return false, err
		}
		old, err := tx.FindTokenByFingerprint(tok.MerchantID, tok.CustomerID, tok.Fingerprint)
		if err == nil && old.Verification.Status == "verified" && tok.Verification.Status != "verified" {
			// What the issuer confirmed is not rewritten by what nobody
			// checked: the verified token is returned as it is.
			*tok = *old
			return false, nil
		}
		if err == nil {
			old.ExpMonth, old.ExpYear, old.Updated = tok.ExpMonth, tok.ExpYear, now
			if tok.HolderName != "" {
				old.HolderName = tok.HolderName
			}
			if tok.Verification.Status == "verified" {
				old.Verification = tok.Verification
			}
			if old.Status == store.TokenRequiresAction && tok.Status == store.TokenActive {
				// The card was just stored without waiting for the challenge
				// the older token waits for (a verified charge, or
				// three_d_secure: never): that token is the card now, and its
				// challenge — with the CVC kept for it — is over.
				old.Status = store.TokenActive
				if tok.Verification.Status != "verified" {
					old.Verification = tok.Verification
				}
				if err := endChallenge(tx, old.ChallengeID, store.ChallengeCanceled, now); err != nil {
					return false, err
				}
				*tok = *old
				if err := tx.UpdateToken(old); err != nil {
					return false, err
				}
				return false, s.tokenEvent(tx, old, "token.activated")
			}
			*tok = *old
			return false, tx.UpdateToken(old)
		}
		if !isNotFound(err) {
			return false, err
		}
	}
	if err := tx.InsertToken(tok); err != nil {
		return false, err
	}
	if rendered != nil {
		return true, s.events.eventData(tx, tok.MerchantID, "token.created", "token", tok.ID, rendered)
	}
	return true, s.tokenEvent(tx, tok, "token.created")
}

// BatchResult is one item of a batch: a token or an error.
type BatchResult struct {
	Token   *store.Token
	Created bool
	Err     error
}

// MaxBatch is the most cards one batch may carry.
const MaxBatch = 100

// CreateTokens tokenizes many cards; each succeeds or fails on its own.
// A few run at once, since each waits on the processor and on a commit.
func (s *Tokens) CreateTokens(ctx context.Context, m *store.Merchant, items []TokenParams) []BatchResult {
	out := make([]BatchResult, len(items))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	key := keyDigest(ctx)
	for i := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ictx := ctx
			if key != "" {
				// Each card's token id is derived from the batch's key and
				// its place in the batch.
				ictx = WithIdempotencyKey(ctx, key+"|batch item "+strconv.Itoa(i))
			}
			out[i].Token, out[i].Created, out[i].Err = s.CreateToken(ictx, m, items[i])
		}()
	}
	wg.Wait()
	return out
}

// GetToken reads a live token.
func (s *Tokens) GetToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error) {
	var t *store.Token
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.GetToken(merchantID, tokenID)
		return err
	})
	if isNotFound(err) {
		return nil, notFound("id", "token", tokenID)
	}
	return t, err
}

// ListTokens pages through a merchant's tokens, optionally one customer's.
func (s *Tokens) ListTokens(ctx context.Context, merchantID string, f store.TokenFilter) ([]*store.Token, bool, error) {
	var out []*store.Token
	var more bool
	missing := ""
	err := s.store.Read(ctx, func(tx store.Tx) error {
		if f.CustomerID != "" {
			if _, err := tx.GetCustomer(merchantID, f.CustomerID); err != nil {
				missing = "customer"
				return err
			}
		}
		var err error
		out, more, err = tx.ListTokens(merchantID, f)
		return err
	})
	if isNotFound(err) {
		if missing == "customer" {
			return nil, false, notFound("customer", "customer", f.CustomerID)
		}
		return nil, false, notFound("starting_after", "token", f.StartingAfter)
	}
	return out, more, err
}

// setStatus moves a token between active and disabled; asking for the
// state it is already in changes nothing.
func (s *Tokens) setStatus(ctx context.Context, merchantID, tokenID, to string) (*store.Token, error) {
	var t *store.Token
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		if t, err = tx.GetToken(merchantID, tokenID); err != nil {
			return err
		}
		if t.Status == to {
			return nil
		}
		if t.Status != store.TokenActive && t.Status != store.TokenDisabled {
			return badState("A token in status %s cannot be %s.", t.Status, map[string]string{store.TokenActive: "enabled", store.TokenDisabled: "disabled"}[to])
		}
		t.Status, t.Updated = to, s.now()
		if err := tx.UpdateToken(t); err != nil {
			return err
		}
		return s.tokenEvent(tx, t, map[string]string{store.TokenActive: "token.enabled", store.TokenDisabled: "token.disabled"}[to])
	})
	if isNotFound(err) {
		return nil, notFound("id", "token", tokenID)
	}
	return t, err
}

// DisableToken stops a token from being charged.
func (s *Tokens) DisableToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error) {
	return s.setStatus(ctx, merchantID, tokenID, store.TokenDisabled)
}

// EnableToken re-activates a disabled token.
func (s *Tokens) EnableToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error) {
	return s.setStatus(ctx, merchantID, tokenID, store.TokenActive)
}

// DeleteToken crypto-shreds a token: the ciphertext is erased, not flagged.
func (s *Tokens) DeleteToken(ctx context.Context, merchantID, tokenID string) error {
	err := s.store.Write(ctx, func(tx store.Tx) error {
		t, err := tx.GetToken(merchantID, tokenID)
		if err != nil {
			return err
		}
		now := s.now()
		t.Status, t.CardCT, t.Updated, t.Deleted = store.TokenDeleted, nil, now, &now
		if err := tx.UpdateToken(t); err != nil {
			return err
		}
		if err := endChallenge(tx, t.ChallengeID, store.ChallengeCanceled, now); err != nil {
			return err
		}
		return s.tokenEvent(tx, t, "token.deleted")
	})
	if isNotFound(err) {
		return notFound("id", "token", tokenID)
	}
	return err
}

// Validation is the answer of ValidateToken.
type Validation struct {
	Token    string  `json:"token"`
	Valid    bool    `json:"valid"`
	Reason   *string `json:"reason"`
	CVCCheck string  `json:"cvc_check"`
	AVSCheck string  `json:"avs_check"`
}

// reasonFor maps a decline to validate's reason vocabulary.
func reasonFor(err error) string {
	var d *processor.Decline
	if !errors.As(err, &d) {
		return "processing_error"
	}
	switch {
	case d.DeclineCode == "card_blocked":
		return "blocked"
	case d.Code == "expired_card":
		return "expired"
	case d.DeclineCode != "":
		return d.DeclineCode
	}
	return d.Code
}

// ValidateToken checks that a token can be charged: its status, its expiry,
// then the issuer, with a small authorization that is voided at once.
func (s *Tokens) ValidateToken(ctx context.Context, m *store.Merchant, tokenID, cvc string) (*Validation, error) {
	t, err := s.GetToken(ctx, m.ID, tokenID)
	if err != nil {
		return nil, err
	}
	if cvc != "" {
		if err := card.ValidateCVC(cvc, card.Brand(t.Brand)); err != nil {
			return nil, fromCardField("", err)
		}
	}
	res := &Validation{Token: t.ID, CVCCheck: "unchecked", AVSCheck: "unchecked"}
	no := func(reason string) (*Validation, error) { res.Reason = &reason; return res, nil }
	switch {
	case t.Status == store.TokenDisabled:
		return no("disabled")
	case t.Status != store.TokenActive:
		return no(t.Status)
	case card.Expired(t.ExpMonth, t.ExpYear, s.now()):
		return no("expired")
	}
	if cvc != "" {
		// A CVC answered right or wrong is an oracle too.
		if err := s.cards.admitCVC(ctx, m, t); err != nil {
			return nil, err
		}
	}
	pan, err := s.detokenize(ctx, t, "validate")
	if err != nil {
		return nil, err
	}
	v, err := s.acquirers.verifyCard(ctx, "", processor.VerifyRequest{MerchantID: m.ID, Reference: id.New("val"),
		Card:   processor.Card{Number: pan, ExpMonth: t.ExpMonth, ExpYear: t.ExpYear, CVC: cvc, HolderName: t.HolderName},
		Amount: VerifyAmount, Currency: m.Settings.DefaultCurrency})
	if cvc != "" {
		s.cards.cardOutcome(ctx, m, t.BIN, t.Last4, t.Fingerprint, t.ID, err)
	}
	if err != nil {
		var d *processor.Decline
		if !errors.As(err, &d) {
			return nil, fromDecline(err)
		}
		res.CVCCheck, res.AVSCheck = orDefault(d.CVCResult, res.CVCCheck), orDefault(d.AVSResult, "unavailable")
		return no(reasonFor(err))
	}
	res.Valid, res.CVCCheck, res.AVSCheck = true, v.CVCResult, v.AVSResult
	return res, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// detokenize decrypts a token's card number. The audit record is made
// durable first: no card leaves the vault without a trace.
func (s *Tokens) detokenize(ctx context.Context, t *store.Token, purpose string) (string, error) {
	if t.CardCT == nil {
		return "", badState("The token %s holds no card.", t.ID)
	}
	a := s.auditRecord(ctx, t, purpose)
	if err := s.store.Write(ctx, func(tx store.Tx) error { return tx.InsertAudit(a) }); err != nil {
		return "", err
	}
	return s.decryptToken(ctx, t)
}

func (s *Tokens) auditRecord(ctx context.Context, t *store.Token, purpose string) *store.Audit {
	return &store.Audit{ID: id.NewOrdered("aud"), MerchantID: t.MerchantID, Action: "detokenize", ObjectID: t.ID,
		Purpose: purpose, RequestID: RequestID(ctx), Created: s.now()}
}

// decryptToken opens a token's card; callers have made its audit record durable.
func (s *Tokens) decryptToken(ctx context.Context, t *store.Token) (string, error) {
	if t.CardCT == nil {
		return "", badState("The token %s holds no card.", t.ID)
	}
	pan, err := s.sealer.open(ctx, t.MerchantID, "token", t.ID, t.CardCT)
	if err != nil {
		return "", err
	}
	return string(pan), nil
}

// AuditTrail lists the audit records of one object.
func (s *Tokens) AuditTrail(ctx context.Context, merchantID, objectID string) ([]*store.Audit, error) {
	var out []*store.Audit
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.ListAudit(merchantID, objectID)
		return err
	})
	return out, err
}

// tokenEvent records a token's change.
func (s *Tokens) tokenEvent(tx store.Tx, t *store.Token, typ string) error {
	return s.events.event(tx, t.MerchantID, typ, "token", t.ID, s.ViewToken(t))
}
