package pivot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Keys of the session metadata where the dialect keeps what Pivot's
// session object gives back and the core has no field for. They are
// hidden from the merchant's own metadata, which may not use the prefix.
const (
	metaPrefix      = "pivot."
	metaPaymentType = metaPrefix + "paymentType"
	metaOrder       = metaPrefix + "orderInformation"
	metaRefund      = metaPrefix + "refundPreference"
	metaSave        = metaPrefix + "saveForFutureUse"
	metaAutoConfirm = metaPrefix + "autoConfirm"
	metaMethod      = metaPrefix + "paymentMethod"
	// On customers: the names as sent.
	metaGiven   = metaPrefix + "givenName"
	metaSurname = metaPrefix + "sureName"
)

// maxMetadataValue is the core's bound on one metadata value.
const maxMetadataValue = 500

type amountIn struct {
	Value    json.RawMessage `json:"value"`
	Currency string          `json:"currency"`
}

type redirectIn struct {
	Success    string `json:"successReturnUrl"`
	Failure    string `json:"failureReturnUrl"`
	Expiration string `json:"expirationReturnUrl"`
}

type paymentMethodIn struct {
	Type string  `json:"type"`
	Card *cardIn `json:"card"`
}

type cardOptionsIn struct {
	CaptureMethod string `json:"captureMethod"`
	ThreeDsMethod string `json:"threeDsMethod"`
}

type methodOptionsIn struct {
	Card *cardOptionsIn `json:"card"`
}

type phoneIn struct {
	CountryCode string `json:"countryCode"`
	Number      string `json:"number"`
}

type customerIn struct {
	GivenName        string          `json:"givenName"`
	Surname          string          `json:"surname"`
	SureName         string          `json:"sureName"`
	Email            string          `json:"email"`
	PhoneNumber      *phoneIn        `json:"phoneNumber"`
	RefundPreference json.RawMessage `json:"refundPreference"`
}

// createRequest is POST /v2/payments's body.
type createRequest struct {
	ClientReferenceID    string           `json:"clientReferenceId"`
	Amount               *amountIn        `json:"amount"`
	PaymentType          string           `json:"paymentType"`
	Mode                 string           `json:"mode"`
	RedirectURL          *redirectIn      `json:"redirectUrl"`
	PaymentMethod        *paymentMethodIn `json:"paymentMethod"`
	PaymentMethodOptions *methodOptionsIn `json:"paymentMethodOptions"`
	AutoConfirm          *bool            `json:"autoConfirm"`
	ExpiryAt             string           `json:"expiryAt"`
	SaveForFutureUse     *bool            `json:"saveForFutureUse"`
	SaveForFuture        *bool            `json:"saveForFuture"`
	ShowSavedPayment     *bool            `json:"showSavedPayment"`
	CustomerID           string           `json:"customerId"`
	Customer             *customerIn      `json:"customer"`
	OrderInformation     json.RawMessage  `json:"orderInformation"`
	Metadata             json.RawMessage  `json:"metadata"`
	StatementDescriptor  string           `json:"statementDescriptor"`
	CallbackURL          string           `json:"callbackUrl"`
	WebhookURL           string           `json:"webhookUrl"`
}

// confirmRequest is POST /v2/payments/{id}/confirm's body.
type confirmRequest struct {
	PaymentMethod        *paymentMethodIn `json:"paymentMethod"`
	PaymentMethodOptions *methodOptionsIn `json:"paymentMethodOptions"`
	SaveForFutureUse     *bool            `json:"saveForFutureUse"`
	SaveForFuture        *bool            `json:"saveForFuture"`
}

func absent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// saveFlag is saveForFutureUse, or its other spelling saveForFuture.
func saveFlag(a, b *bool) (*bool, *apiError) {
	if a != nil && b != nil && *a != *b {
		return nil, badRequest("saveForFutureUse and saveForFuture disagree; send one")
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

// ParseAmount reads amount.value: a JSON number or a string holding one,
// in the currency's major units (10000 IDR is Rp 10.000, 12.5 USD is
// $12.50), never rounded. It returns minor units.
func ParseAmount(raw json.RawMessage, currency string) (int64, *apiError) {
	if absent(raw) {
		return 0, badRequest("amount.value is required")
	}
	s, ok := scalarText(raw)
	switch {
	case !ok || s == "":
		return 0, badRequest("amount.value must be a number")
	case strings.HasPrefix(s, "-"):
		return 0, badRequest("amount.value must be greater than 0")
	case strings.ContainsAny(s, "eE") && strings.Trim(s, "0123456789.eE+-") == "":
		return 0, badRequest("amount.value must be a plain decimal number, without an exponent")
	}
	v, err := money.Parse(s, currency)
	if err != nil {
		var me *money.Error
		if errors.As(err, &me) && me.Field == "currency" {
			return 0, badRequest("amount.currency %s", me.Message)
		}
		if errors.As(err, &me) {
			return 0, badRequest("amount.value %s", me.Message)
		}
		return 0, badRequest("amount.value must be a decimal number such as 10000 or 12.50")
	}
	if v == 0 {
		return 0, badRequest("amount.value must be greater than 0")
	}
	return v, nil
}

// FormatAmount is minor units as Pivot's value: a JSON number in major
// units without trailing zeros (1000000 IDR → 10000, 1250 USD → 12.5).
func FormatAmount(minor int64, currency string) json.Number {
	s := money.Format(minor, currency)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return json.Number(s)
}

// ExpiresIn converts expiryAt (an absolute RFC 3339 time) to the core's
// seconds from now, refusing what the core cannot keep.
func ExpiresIn(expiryAt string, now time.Time) (*int64, *apiError) {
	if strings.TrimSpace(expiryAt) == "" {
		return nil, nil // the core's default: 15 minutes
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(expiryAt))
	if err != nil {
		return nil, badRequest("expiryAt must be a time in RFC 3339 form, such as 2030-01-02T15:04:05Z or 2030-01-02T22:04:05+07:00")
	}
	secs := int64(math.Round(t.Sub(now).Seconds()))
	lo, hi := int64(payment.MinSessionTTL/time.Second), int64(payment.MaxSessionTTL/time.Second)
	if secs < lo || secs > hi {
		return nil, badRequest("expiryAt must be between 1 minute and 24 hours from now")
	}
	return &secs, nil
}

// threeDS maps threeDsMethod to the session's three_d_secure.
func threeDS(method string) (string, *apiError) {
	switch strings.ToUpper(strings.TrimSpace(method)) {
	case "":
		return "", nil
	case "CHALLENGE":
		return payment.ThreeDSRequired, nil
	case "NEVER":
		return payment.ThreeDSNever, nil
	}
	return "", badRequest("paymentMethodOptions.card.threeDsMethod must be CHALLENGE or NEVER")
}

// compactText is a JSON value as stored in metadata: its compact text.
func compactText(name string, raw json.RawMessage) (string, *apiError) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", badRequest("%s must be valid JSON", name)
	}
	if b.Len() > maxMetadataValue || !utf8.Valid(b.Bytes()) {
		return "", badRequest("%s must be at most %d characters as compact JSON", name, maxMetadataValue)
	}
	return b.String(), nil
}

// merchantMetadata reads the merchant's metadata object: strings as they
// are, other values as their compact JSON.
func merchantMetadata(raw json.RawMessage, md map[string]string) *apiError {
	if absent(raw) {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return badRequest("metadata must be an object")
	}
	for k, v := range obj {
		if strings.HasPrefix(k, metaPrefix) {
			return badRequest("metadata keys must not start with %q (reserved)", metaPrefix)
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			var err *apiError
			if s, err = compactText("metadata."+k, v); err != nil {
				return err
			}
		}
		md[k] = s
	}
	return nil
}

// sessionParams translates a create request into a session.
func sessionParams(m *store.Merchant, req *createRequest, now time.Time) (payment.SessionParams, *apiError) {
	var p payment.SessionParams
	switch strings.ToUpper(strings.TrimSpace(req.Mode)) {
	case "", "REDIRECT":
		p.Mode = "redirect"
	case "API":
		p.Mode = "api"
	default:
		return p, badRequest("mode must be REDIRECT or API")
	}
	if req.Amount == nil {
		return p, badRequest("amount is required: {\"value\":…,\"currency\":…}")
	}
	currency := strings.ToUpper(strings.TrimSpace(req.Amount.Currency))
	if currency == "" {
		currency = m.Settings.DefaultCurrency
	}
	if err := money.ValidateCurrency(currency); err != nil {
		var me *money.Error
		errors.As(err, &me)
		return p, badRequest("amount.currency %s", me.Message)
	}
	amount, ae := ParseAmount(req.Amount.Value, currency)
	if ae != nil {
		return p, ae
	}
	p.Amount, p.Currency = amount, &currency
	md := map[string]string{}
	switch t := strings.ToUpper(strings.TrimSpace(req.PaymentType)); t {
	case "", "SINGLE":
		if t != "" {
			md[metaPaymentType] = t
		}
	default:
		return p, badRequest("paymentType must be SINGLE: a Coffer payment session is paid once")
	}
	if pm := req.PaymentMethod; pm != nil {
		if t := strings.ToUpper(strings.TrimSpace(pm.Type)); t != "" && t != "CARD" {
			return p, badRequest("paymentMethod.type must be CARD: Coffer takes cards only")
		}
		md[metaMethod] = "CARD"
	}
	if o := req.PaymentMethodOptions; o != nil && o.Card != nil {
		switch strings.ToLower(strings.TrimSpace(o.Card.CaptureMethod)) {
		case "", "automatic":
		case "manual":
			manual := false
			p.Capture = &manual
		default:
			return p, badRequest("paymentMethodOptions.card.captureMethod must be automatic or manual")
		}
		var ae *apiError
		if p.ThreeDSecure, ae = threeDS(o.Card.ThreeDsMethod); ae != nil {
			return p, ae
		}
	}
	if req.AutoConfirm != nil {
		md[metaAutoConfirm] = boolText(*req.AutoConfirm)
	}
	save, ae := saveFlag(req.SaveForFutureUse, req.SaveForFuture)
	if ae != nil {
		return p, ae
	}
	switch {
	case p.Mode == "api":
		// The merchant's page asks the card holder and may tell at confirm.
		p.SaveCard = "optional"
	case save != nil && *save:
		p.SaveCard = "optional" // the hosted page's "save for future use" box
	default:
		p.SaveCard = "off"
	}
	if save != nil {
		md[metaSave] = boolText(*save)
	}
	p.ShowSavedCards = req.ShowSavedPayment != nil && *req.ShowSavedPayment
	if p.ExpiresIn, ae = ExpiresIn(req.ExpiryAt, now); ae != nil {
		return p, ae
	}
	if r := req.RedirectURL; r != nil {
		p.SuccessURL, p.FailureURL, p.ExpiredURL = r.Success, r.Failure, r.Expiration
		// The hosted page offers to cancel only with a place to go.
		p.CancelURL = r.Failure
	}
	switch {
	case req.CallbackURL != "" && req.WebhookURL != "" && req.CallbackURL != req.WebhookURL:
		return p, badRequest("callbackUrl and webhookUrl disagree; send one")
	case req.CallbackURL != "":
		p.CallbackURL = req.CallbackURL
	default:
		p.CallbackURL = req.WebhookURL
	}
	p.CallbackFormat = Format
	p.OrderID = req.ClientReferenceID
	p.Description = req.StatementDescriptor
	if !absent(req.OrderInformation) {
		if t := bytes.TrimSpace(req.OrderInformation); t[0] != '{' {
			return p, badRequest("orderInformation must be an object")
		}
		s, ae := compactText("orderInformation", req.OrderInformation)
		if ae != nil {
			return p, ae
		}
		md[metaOrder] = s
	}
	if c := req.Customer; c != nil && !absent(c.RefundPreference) {
		s, ae := compactText("customer.refundPreference", c.RefundPreference)
		if ae != nil {
			return p, ae
		}
		md[metaRefund] = s
	}
	if ae := merchantMetadata(req.Metadata, md); ae != nil {
		return p, ae
	}
	if len(md) > 0 {
		p.Metadata = md
	}
	return p, nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// CreatePayment opens a payment session: POST /v2/payments. With
// autoConfirm and a card (or stored token + CVC) in API mode it is
// confirmed at once, as Pivot's "Use Saved Payment" flow asks.
func (d *Dialect) CreatePayment(w http.ResponseWriter, r *http.Request) {
	m, ok := d.authorize(w, r)
	if !ok {
		return
	}
	d.idempotent(w, r, m, "create", func(w http.ResponseWriter, r *http.Request) { d.create(w, r, m) })
}

func (d *Dialect) create(w http.ResponseWriter, r *http.Request, m *store.Merchant) {
	b, ae := readBody(w, r)
	var req createRequest
	if ae == nil {
		ae = decodeJSON(b, &req)
	}
	if ae != nil {
		writeError(w, ae)
		return
	}
	p, ae := sessionParams(m, &req, time.Now())
	if ae != nil {
		writeError(w, ae)
		return
	}
	var card *cardIn
	if req.PaymentMethod != nil && req.PaymentMethod.Card != nil &&
		(req.PaymentMethod.Card.EncryptedCard != "" || req.PaymentMethod.Card.Token != "") {
		card = req.PaymentMethod.Card
	}
	autoConfirm := req.AutoConfirm != nil && *req.AutoConfirm
	switch {
	case card != nil && p.Mode != "api":
		writeError(w, badRequest("paymentMethod.card is for mode API; in REDIRECT mode the card holder enters the card on paymentUrl"))
		return
	case card != nil && !autoConfirm:
		writeError(w, badRequest("paymentMethod.card needs autoConfirm true here; otherwise send it to POST /v2/payments/{id}/confirm"))
		return
	}
	save, _ := saveFlag(req.SaveForFutureUse, req.SaveForFuture)
	wantsSave := save != nil && *save
	cust, err := d.sessionCustomer(r.Context(), m, req.CustomerID, req.Customer)
	if err != nil {
		d.fail(w, r, "create", err)
		return
	}
	if wantsSave && cust == "" {
		writeError(w, badRequest("saveForFutureUse needs customerId or customer: a stored payment method belongs to a customer"))
		return
	}
	p.Customer = cust
	v, err := d.svc.CreateSession(r.Context(), m, p)
	if err != nil {
		d.fail(w, r, "create", err)
		return
	}
	if card != nil {
		d.confirmAndAnswer(w, r, m, &v, card, save)
		return
	}
	obj, err := d.render(r.Context(), m.ID, &v)
	if err != nil {
		d.fail(w, r, "create", err)
		return
	}
	writeOK(w, obj)
}

// pivotSession reads a session the dialect made; any other is not found,
// so the dialect never shows or pays a session it did not shape.
func (d *Dialect) pivotSession(ctx context.Context, merchantID, id string) (payment.SessionView, error) {
	if len(id) > 64 {
		return payment.SessionView{}, newError(http.StatusNotFound, codeNotFound, "Payment session not found.")
	}
	v, err := d.svc.GetSession(ctx, merchantID, id)
	if err != nil {
		return v, err
	}
	if v.CallbackFormat != Format {
		return v, newError(http.StatusNotFound, codeNotFound, "Payment session not found.")
	}
	return v, nil
}

// GetPayment reads a payment session: GET /v2/payments/{id}.
func (d *Dialect) GetPayment(w http.ResponseWriter, r *http.Request) {
	m, ok := d.authorize(w, r)
	if !ok {
		return
	}
	v, err := d.pivotSession(r.Context(), m.ID, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, "get", err)
		return
	}
	obj, err := d.render(r.Context(), m.ID, &v)
	if err != nil {
		d.fail(w, r, "get", err)
		return
	}
	writeOK(w, obj)
}

// ConfirmPayment pays an open session with an encrypted card or a stored
// token + CVC: POST /v2/payments/{id}/confirm.
func (d *Dialect) ConfirmPayment(w http.ResponseWriter, r *http.Request) {
	m, ok := d.authorize(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	d.idempotent(w, r, m, "confirm|"+id, func(w http.ResponseWriter, r *http.Request) { d.confirm(w, r, m, id) })
}

func (d *Dialect) confirm(w http.ResponseWriter, r *http.Request, m *store.Merchant, id string) {
	b, ae := readBody(w, r)
	var req confirmRequest
	if ae == nil {
		ae = decodeJSON(b, &req)
	}
	if ae != nil {
		writeError(w, ae)
		return
	}
	pm := req.PaymentMethod
	switch {
	case pm == nil || pm.Card == nil || (pm.Card.EncryptedCard == "" && pm.Card.Token == ""):
		writeError(w, badRequest("paymentMethod.card.encryptedCard (or paymentMethod.card.token with paymentMethod.card.cvc) is required"))
		return
	case pm.Type != "" && !strings.EqualFold(strings.TrimSpace(pm.Type), "CARD"):
		writeError(w, badRequest("paymentMethod.type must be CARD: Coffer takes cards only"))
		return
	}
	save, ae := saveFlag(req.SaveForFutureUse, req.SaveForFuture)
	if ae != nil {
		writeError(w, ae)
		return
	}
	v, err := d.pivotSession(r.Context(), m.ID, id)
	if err != nil {
		d.fail(w, r, "confirm", err)
		return
	}
	d.confirmAndAnswer(w, r, m, &v, pm.Card, save)
}

// confirmAndAnswer confirms v with card and answers the session as it
// ends up. A declined card answers 402 with the session (open for another
// card) as data.
func (d *Dialect) confirmAndAnswer(w http.ResponseWriter, r *http.Request, m *store.Merchant, v *payment.SessionView, c *cardIn, save *bool) {
	if save == nil {
		if s, ok := v.Metadata[metaSave]; ok {
			b := s == "true"
			save = &b
		}
	}
	if save != nil && *save && v.Customer == nil && c.EncryptedCard != "" {
		writeError(w, badRequest("saveForFutureUse needs a session with a customer: a stored payment method belongs to a customer"))
		return
	}
	cp := payment.ConfirmParams{EncryptedCard: c.EncryptedCard, Token: c.Token, CVC: c.CVC, SaveCard: save, Cipher: cipher}
	res, err := d.svc.ConfirmSession(r.Context(), m, v.ID, cp)
	if err != nil {
		ae := d.fromService(r, "confirm", err)
		var pe *payment.Error
		if errors.As(err, &pe) && (pe.Kind == payment.KindCard || pe.Kind == payment.KindInvalidState) {
			if cur, gerr := d.svc.GetSession(r.Context(), m.ID, v.ID); gerr == nil {
				if obj, rerr := d.render(r.Context(), m.ID, &cur); rerr == nil {
					ae.data = obj
				}
			}
		}
		writeError(w, ae)
		return
	}
	obj, err := d.render(r.Context(), m.ID, &res)
	if err != nil {
		d.fail(w, r, "confirm", err)
		return
	}
	writeOK(w, obj)
}
