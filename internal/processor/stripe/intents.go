package stripe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

// Metadata keys the connector puts on PaymentIntents, SetupIntents and Refunds.
const (
	MetaReference = "coffer_reference"
	MetaMerchant  = "coffer_merchant"
)

// paymentIntent is the part of Stripe's PaymentIntent the connector reads.
type paymentIntent struct {
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	Amount           int64             `json:"amount"`
	AmountReceived   int64             `json:"amount_received"`
	Currency         string            `json:"currency"`
	Metadata         map[string]string `json:"metadata"`
	LatestCharge     expandable        `json:"latest_charge"`
	LastPaymentError *apiError         `json:"last_payment_error"`
	NextAction       *struct {
		Type          string `json:"type"`
		RedirectToURL *struct {
			URL string `json:"url"`
		} `json:"redirect_to_url"`
	} `json:"next_action"`
}

// charge is the part of a Charge the connector reads.
type charge struct {
	ID                   string `json:"id"`
	AmountRefunded       int64  `json:"amount_refunded"`
	PaymentMethodDetails struct {
		Card *cardDetails `json:"card"`
	} `json:"payment_method_details"`
}

type cardDetails struct {
	AuthorizationCode string  `json:"authorization_code"`
	Checks            *checks `json:"checks"`
}

type checks struct {
	AddressLine1Check      string `json:"address_line1_check"`
	AddressPostalCodeCheck string `json:"address_postal_code_check"`
	CVCCheck               string `json:"cvc_check"`
}

// expandable is an expandable field: an id, null, or (expanded) the charge.
type expandable struct{ charge *charge }

func (e *expandable) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return nil
	}
	e.charge = new(charge)
	return json.Unmarshal(b, e.charge)
}

// avs reads Stripe's address checks as Coffer's AVS result.
func avs(c *checks) string {
	if c == nil {
		return processor.CheckUnavailable
	}
	switch {
	case c.AddressLine1Check == "fail" || c.AddressPostalCodeCheck == "fail":
		return processor.CheckFail
	case c.AddressLine1Check == "pass" || c.AddressPostalCodeCheck == "pass":
		return processor.CheckPass
	}
	return processor.CheckUnavailable
}

// cvc reads Stripe's cvc_check as Coffer's CVC result.
func cvc(c *checks) string {
	if c != nil {
		switch c.CVCCheck {
		case "pass":
			return processor.CheckPass
		case "fail":
			return processor.CheckFail
		}
	}
	return processor.CheckUnchecked
}

func (pi *paymentIntent) checks() *checks {
	if ch := pi.LatestCharge.charge; ch != nil && ch.PaymentMethodDetails.Card != nil {
		return ch.PaymentMethodDetails.Card.Checks
	}
	return nil
}

// authorization maps a PaymentIntent to Coffer's answer: an Authorization
// (requires_capture, succeeded; with lookup also canceled, and the state
// fields), *ActionRequired (requires_action with a redirect URL), *Decline
// (requires_payment_method), or ErrUnavailable for a status that is not
// final (processing, requires_confirmation).
func (c *Client) authorization(pi *paymentIntent, lookup bool) (processor.Authorization, error) {
	a := processor.Authorization{
		ID:        pi.ID,
		Amount:    pi.Amount,
		Currency:  strings.ToUpper(pi.Currency),
		AVSResult: avs(pi.checks()),
		CVCResult: cvc(pi.checks()),
	}
	if ch := pi.LatestCharge.charge; ch != nil && ch.PaymentMethodDetails.Card != nil {
		a.AuthCode = ch.PaymentMethodDetails.Card.AuthorizationCode
	}
	switch pi.Status {
	case "requires_capture":
		return a, nil
	case "succeeded":
		if lookup {
			a.Captured, a.CaptureID = pi.AmountReceived, pi.ID
			if ch := pi.LatestCharge.charge; ch != nil {
				a.Refunded = ch.AmountRefunded
			}
		}
		return a, nil
	case "canceled":
		if lookup {
			a.Voided = true
			return a, nil
		}
		return processor.Authorization{}, c.fail(processor.ErrInvalidState, "stripe PaymentIntent %s is canceled", pi.ID)
	case "requires_action":
		if na := pi.NextAction; na != nil && na.RedirectToURL != nil && na.RedirectToURL.URL != "" {
			return processor.Authorization{}, &processor.ActionRequired{AuthorizationID: pi.ID, RedirectURL: na.RedirectToURL.URL}
		}
		return processor.Authorization{}, authenticationDecline()
	case "requires_payment_method":
		return processor.Authorization{}, c.decline(pi.LastPaymentError)
	}
	return processor.Authorization{}, c.fail(processor.ErrUnavailable, "stripe PaymentIntent %s is %q, not final yet", pi.ID, pi.Status)
}

// paymentMethod creates the card PaymentMethod (idempotent by reference+"-pm").
func (c *Client) paymentMethod(ctx context.Context, reference string, card processor.Card) (string, error) {
	f := url.Values{}
	f.Set("type", "card")
	f.Set("card[number]", card.Number)
	f.Set("card[exp_month]", strconv.Itoa(card.ExpMonth))
	f.Set("card[exp_year]", strconv.Itoa(card.ExpYear))
	if card.CVC != "" {
		f.Set("card[cvc]", card.CVC)
	}
	if card.HolderName != "" {
		f.Set("billing_details[name]", card.HolderName)
	}
	if card.AddressLine1 != "" {
		f.Set("billing_details[address][line1]", card.AddressLine1)
	}
	if card.PostalCode != "" {
		f.Set("billing_details[address][postal_code]", card.PostalCode)
	}
	if card.Country != "" {
		f.Set("billing_details[address][country]", card.Country)
	}
	var pm struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, http.MethodPost, "/v1/payment_methods", f, reference+"-pm", &pm); err != nil {
		return "", err
	}
	if pm.ID == "" {
		return "", c.fail(processor.ErrUnavailable, "stripe created a PaymentMethod without an id")
	}
	return pm.ID, nil
}

// confirm creates and confirms the PaymentIntent for r (Idempotency-Key = r.Reference).
func (c *Client) confirm(ctx context.Context, r processor.AuthorizeRequest, captureMethod string) (*paymentIntent, error) {
	if r.Reference == "" {
		return nil, c.fail(processor.ErrInvalidRequest, "a reference is required (it is Stripe's Idempotency-Key)")
	}
	if r.Amount <= 0 {
		return nil, c.fail(processor.ErrInvalidRequest, "amount must be positive")
	}
	pm, err := c.paymentMethod(ctx, r.Reference, r.Card)
	if err != nil {
		return nil, err
	}
	f := url.Values{}
	f.Set("amount", strconv.FormatInt(r.Amount, 10))
	f.Set("currency", strings.ToLower(r.Currency))
	f.Set("payment_method", pm)
	f.Set("payment_method_types[]", "card")
	f.Set("confirm", "true")
	f.Set("capture_method", captureMethod)
	f.Set("metadata["+MetaReference+"]", r.Reference)
	if r.MerchantID != "" {
		f.Set("metadata["+MetaMerchant+"]", r.MerchantID)
	}
	if r.ReturnURL != "" {
		f.Set("return_url", r.ReturnURL)
	} else {
		// No card holder present: decline rather than ask for action.
		f.Set("error_on_requires_action", "true")
	}
	// r.Authentication is not sent: Stripe's
	// payment_method_options[card][three_d_secure] requires the
	// authentication value (cryptogram), which processor.Authentication
	// does not carry.
	f.Set("expand[]", "latest_charge")
	pi := new(paymentIntent)
	if err := c.call(ctx, http.MethodPost, "/v1/payment_intents", f, r.Reference, pi); err != nil {
		return nil, err
	}
	return pi, nil
}

// Authorize confirms a PaymentIntent with capture_method=manual.
func (c *Client) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	pi, err := c.confirm(ctx, r, "manual")
	if err != nil {
		return processor.Authorization{}, err
	}
	return c.authorization(pi, false)
}

// Sale confirms a PaymentIntent with capture_method=automatic; an intent
// that a replay finds only authorized is captured in full.
func (c *Client) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	pi, err := c.confirm(ctx, r, "automatic")
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	a, err := c.authorization(pi, false)
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	if pi.Status == "requires_capture" {
		cp, err := c.Capture(ctx, pi.ID, pi.Amount)
		if err != nil {
			return processor.Authorization{}, processor.Capture{}, err
		}
		return a, cp, nil
	}
	return a, processor.Capture{ID: pi.ID, AuthorizationID: pi.ID, Amount: pi.AmountReceived}, nil
}

// Capture captures amount of the PaymentIntent authorizationID. The
// capture's id is the PaymentIntent's (Refund takes it).
func (c *Client) Capture(ctx context.Context, authorizationID string, amount int64) (processor.Capture, error) {
	if authorizationID == "" {
		return processor.Capture{}, c.fail(processor.ErrNotFound, "empty PaymentIntent id")
	}
	if amount <= 0 {
		return processor.Capture{}, c.fail(processor.ErrInvalidRequest, "amount must be positive")
	}
	f := url.Values{}
	f.Set("amount_to_capture", strconv.FormatInt(amount, 10))
	f.Set("expand[]", "latest_charge")
	pi := new(paymentIntent)
	key := authorizationID + "-capture-" + strconv.FormatInt(amount, 10)
	if err := c.call(ctx, http.MethodPost, "/v1/payment_intents/"+url.PathEscape(authorizationID)+"/capture", f, key, pi); err != nil {
		return processor.Capture{}, err
	}
	if pi.Status != "succeeded" {
		return processor.Capture{}, c.fail(processor.ErrUnavailable, "stripe PaymentIntent %s is %q after capture", pi.ID, pi.Status)
	}
	return processor.Capture{ID: pi.ID, AuthorizationID: pi.ID, Amount: pi.AmountReceived}, nil
}

// Void cancels the PaymentIntent; one already canceled is a success.
func (c *Client) Void(ctx context.Context, authorizationID string) error {
	if authorizationID == "" {
		return c.fail(processor.ErrNotFound, "empty PaymentIntent id")
	}
	path := "/v1/payment_intents/" + url.PathEscape(authorizationID)
	pi := new(paymentIntent)
	err := c.call(ctx, http.MethodPost, path+"/cancel", url.Values{}, authorizationID+"-cancel", pi)
	if errors.Is(err, processor.ErrInvalidState) {
		// Already canceled (a repeat), or captured: ask which.
		cur := new(paymentIntent)
		if err2 := c.call(ctx, http.MethodGet, path, nil, "", cur); err2 != nil {
			return err2
		}
		if cur.Status == "canceled" {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if pi.Status != "canceled" {
		return c.fail(processor.ErrUnavailable, "stripe PaymentIntent %s is %q after cancel", pi.ID, pi.Status)
	}
	return nil
}

// refund is the part of a Refund the connector reads.
type refund struct {
	ID       string            `json:"id"`
	Amount   int64             `json:"amount"`
	Status   string            `json:"status"`
	Metadata map[string]string `json:"metadata"`
}

// Refund refunds amount of the PaymentIntent captureID (Idempotency-Key =
// reference, also kept in the refund's metadata for LookupRefund).
func (c *Client) Refund(ctx context.Context, captureID string, amount int64, reference string) (processor.Refund, error) {
	if captureID == "" {
		return processor.Refund{}, c.fail(processor.ErrNotFound, "empty PaymentIntent id")
	}
	if amount <= 0 {
		return processor.Refund{}, c.fail(processor.ErrInvalidRequest, "amount must be positive")
	}
	f := url.Values{}
	f.Set("payment_intent", captureID)
	f.Set("amount", strconv.FormatInt(amount, 10))
	if reference != "" {
		f.Set("metadata["+MetaReference+"]", reference)
	}
	var re refund
	if err := c.call(ctx, http.MethodPost, "/v1/refunds", f, reference, &re); err != nil {
		return processor.Refund{}, err
	}
	if re.Status == "failed" || re.Status == "canceled" {
		return processor.Refund{}, c.fail(processor.ErrInvalidState, "stripe refund %s is %s", re.ID, re.Status)
	}
	return processor.Refund{ID: re.ID, CaptureID: captureID, Amount: re.Amount}, nil
}

// maxPages bounds the pages a list walk reads (100 objects each).
const maxPages = 10

// LookupRefund lists the PaymentIntent's refunds for the one whose metadata
// holds reference.
func (c *Client) LookupRefund(ctx context.Context, captureID, reference string) (processor.Refund, error) {
	if captureID == "" || reference == "" {
		return processor.Refund{}, c.fail(processor.ErrNotFound, "no refund under an empty reference")
	}
	after := ""
	for range maxPages {
		q := url.Values{}
		q.Set("payment_intent", captureID)
		q.Set("limit", "100")
		if after != "" {
			q.Set("starting_after", after)
		}
		var list struct {
			Data    []refund `json:"data"`
			HasMore bool     `json:"has_more"`
		}
		if err := c.call(ctx, http.MethodGet, "/v1/refunds", q, "", &list); err != nil {
			return processor.Refund{}, err
		}
		for _, re := range list.Data {
			if re.Metadata[MetaReference] == reference {
				return processor.Refund{ID: re.ID, CaptureID: captureID, Amount: re.Amount}, nil
			}
		}
		if !list.HasMore || len(list.Data) == 0 {
			return processor.Refund{}, c.fail(processor.ErrNotFound, "no stripe refund of %s under reference %s", captureID, reference)
		}
		after = list.Data[len(list.Data)-1].ID
	}
	return processor.Refund{}, c.fail(processor.ErrUnavailable, "stripe PaymentIntent %s has over %d refunds; reference %s not among the first", captureID, maxPages*100, reference)
}

// recentWindow is how far back Lookup lists PaymentIntents when search has
// not found the reference: Stripe's search index lags writes (under a
// minute, normally), the list does not.
const recentWindow = 15 * time.Minute

// Lookup finds the PaymentIntent whose metadata holds merchantID and
// reference: by Stripe's search, then (search lags) by listing those created
// in the last 15 minutes.
func (c *Client) Lookup(ctx context.Context, merchantID, reference string) (processor.Authorization, error) {
	if reference == "" {
		return processor.Authorization{}, c.fail(processor.ErrNotFound, "no authorization under an empty reference")
	}
	match := func(list []paymentIntent) *paymentIntent {
		for i := range list {
			if list[i].Metadata[MetaReference] == reference && list[i].Metadata[MetaMerchant] == merchantID {
				return &list[i]
			}
		}
		return nil
	}
	query := "metadata['" + MetaReference + "']:'" + searchEscape(reference) + "'"
	if merchantID != "" {
		query += " AND metadata['" + MetaMerchant + "']:'" + searchEscape(merchantID) + "'"
	}
	q := url.Values{}
	q.Set("query", query)
	q.Set("limit", "10")
	q.Set("expand[]", "data.latest_charge")
	var found struct {
		Data []paymentIntent `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, "/v1/payment_intents/search", q, "", &found); err != nil {
		return processor.Authorization{}, err
	}
	if pi := match(found.Data); pi != nil {
		return c.authorization(pi, true)
	}
	after := ""
	since := time.Now().Add(-recentWindow).Unix()
	for range maxPages {
		q := url.Values{}
		q.Set("created[gte]", strconv.FormatInt(since, 10))
		q.Set("limit", "100")
		q.Set("expand[]", "data.latest_charge")
		if after != "" {
			q.Set("starting_after", after)
		}
		var list struct {
			Data    []paymentIntent `json:"data"`
			HasMore bool            `json:"has_more"`
		}
		if err := c.call(ctx, http.MethodGet, "/v1/payment_intents", q, "", &list); err != nil {
			return processor.Authorization{}, err
		}
		if pi := match(list.Data); pi != nil {
			return c.authorization(pi, true)
		}
		if !list.HasMore || len(list.Data) == 0 {
			return processor.Authorization{}, c.fail(processor.ErrNotFound, "no stripe PaymentIntent under reference %s", reference)
		}
		after = list.Data[len(list.Data)-1].ID
	}
	// Too many recent intents to rule it out: not a safe "never happened".
	return processor.Authorization{}, c.fail(processor.ErrUnavailable, "reference %s: not in Stripe's search, and over %d PaymentIntents in the last %v to list", reference, maxPages*100, recentWindow)
}

// searchEscape quotes a value for Stripe's search query language.
func searchEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// setupIntent is the part of a SetupIntent the connector reads.
type setupIntent struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"`
	LastSetupError *apiError       `json:"last_setup_error"`
	LatestAttempt  json.RawMessage `json:"latest_attempt"` // an id, null, or (expanded) the attempt
}

type setupAttempt struct {
	PaymentMethodDetails struct {
		Card *cardDetails `json:"card"`
	} `json:"payment_method_details"`
}

// Verify confirms a SetupIntent (usage=off_session) for the card: Stripe
// checks the card with the issuer without charging it. r.Amount is not
// used: Stripe chooses how to check. Nothing is held, so Voided is true.
func (c *Client) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	if r.Reference == "" {
		return processor.Verification{}, c.fail(processor.ErrInvalidRequest, "a reference is required (it is Stripe's Idempotency-Key)")
	}
	pm, err := c.paymentMethod(ctx, r.Reference, r.Card)
	if err != nil {
		return processor.Verification{}, err
	}
	f := url.Values{}
	f.Set("payment_method", pm)
	f.Set("payment_method_types[]", "card")
	f.Set("confirm", "true")
	f.Set("usage", "off_session")
	f.Set("metadata["+MetaReference+"]", r.Reference)
	if r.MerchantID != "" {
		f.Set("metadata["+MetaMerchant+"]", r.MerchantID)
	}
	f.Set("expand[]", "latest_attempt")
	var si setupIntent
	if err := c.call(ctx, http.MethodPost, "/v1/setup_intents", f, r.Reference, &si); err != nil {
		return processor.Verification{}, err
	}
	switch si.Status {
	case "succeeded":
		v := processor.Verification{AuthorizationID: si.ID, AVSResult: avs(nil), CVCResult: cvc(nil), Voided: true}
		var at setupAttempt
		if bytes.HasPrefix(bytes.TrimSpace(si.LatestAttempt), []byte("{")) && json.Unmarshal(si.LatestAttempt, &at) == nil && at.PaymentMethodDetails.Card != nil {
			v.AVSResult = avs(at.PaymentMethodDetails.Card.Checks)
			v.CVCResult = cvc(at.PaymentMethodDetails.Card.Checks)
		}
		return v, nil
	case "requires_payment_method":
		return processor.Verification{}, c.decline(si.LastSetupError)
	case "requires_action":
		// Verification has no card holder page to send to.
		return processor.Verification{}, authenticationDecline()
	}
	return processor.Verification{}, c.fail(processor.ErrUnavailable, "stripe SetupIntent %s is %q, not final yet", si.ID, si.Status)
}
