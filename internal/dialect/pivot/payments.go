package pivot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
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

// CardPaths are where create and confirm take card data: the encrypted
// card (base64, which may hold any digits). cvc and token need no entry.
func (*createRequest) CardPaths() []string  { return []string{"paymentMethod.card.encryptedCard"} }
func (*confirmRequest) CardPaths() []string { return []string{"paymentMethod.card.encryptedCard"} }

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
	if wire.Absent(raw) {
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
	v, err := money.Parse(exactDecimal(s), currency)
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

// exactDecimal drops the trailing zeros of a decimal's fraction ("12.500"
// → "12.5", "1000.0" → "1000"): they change nothing, and the currency's
// precision bounds only the digits that count. Anything else is left to
// money.Parse as it came.
func exactDecimal(s string) string {
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || frac == "" || strings.Trim(frac, "0123456789") != "" {
		return s
	}
	frac = strings.TrimRight(frac, "0")
	switch {
	case frac != "":
		return whole + "." + frac
	case whole == "" || whole == "+":
		return s // ".0": not a number money.Parse takes either way
	}
	return whole
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

// ExpiryTime reads expiryAt, an absolute RFC 3339 time in any zone, as
// the instant it names (in UTC): the core keeps it as given. It refuses
// what the core cannot keep (1 minute to 24 hours after now); the core
// checks again at its own now. The zero time is the core's default (15
// minutes).
func ExpiryTime(expiryAt string, now time.Time) (time.Time, *apiError) {
	if strings.TrimSpace(expiryAt) == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(expiryAt))
	if err != nil {
		return time.Time{}, badRequest("expiryAt must be a time in RFC 3339 form, such as 2030-01-02T15:04:05Z or 2030-01-02T22:04:05+07:00")
	}
	if ttl := t.Sub(now); ttl < payment.MinSessionTTL || ttl > payment.MaxSessionTTL {
		return time.Time{}, badRequest("expiryAt must be between 1 minute and 24 hours from now")
	}
	return t.UTC(), nil
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
	if wire.Absent(raw) {
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
	currency, we := wire.Currency("amount.currency", req.Amount.Currency, m.Settings.DefaultCurrency)
	if we != nil {
		return p, fromWire(we)
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
	if p.ExpiresAt, ae = ExpiryTime(req.ExpiryAt, now); ae != nil {
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
	if !wire.Absent(req.OrderInformation) {
		if t := bytes.TrimSpace(req.OrderInformation); t[0] != '{' {
			return p, badRequest("orderInformation must be an object")
		}
		s, ae := compactText("orderInformation", req.OrderInformation)
		if ae != nil {
			return p, ae
		}
		md[metaOrder] = s
	}
	if c := req.Customer; c != nil && !wire.Absent(c.RefundPreference) {
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
	var req createRequest
	ae := readJSON(w, r, &req)
	if ae != nil {
		writeError(w, ae)
		return
	}
	p, ae := sessionParams(m, &req, time.Now())
	if ae != nil {
		writeError(w, ae)
		return
	}
	var pc *cardIn
	if req.PaymentMethod != nil && req.PaymentMethod.Card != nil &&
		(req.PaymentMethod.Card.EncryptedCard != "" || req.PaymentMethod.Card.Token != "") {
		pc = req.PaymentMethod.Card
	}
	autoConfirm := req.AutoConfirm != nil && *req.AutoConfirm
	switch {
	case pc != nil && p.Mode != "api":
		writeError(w, badRequest("paymentMethod.card is for mode API; in REDIRECT mode the card holder enters the card on paymentUrl"))
		return
	case pc != nil && !autoConfirm:
		writeError(w, badRequest("paymentMethod.card needs autoConfirm true here; otherwise send it to POST /v2/payments/{id}/confirm"))
		return
	}
	save, _ := saveFlag(req.SaveForFutureUse, req.SaveForFuture)
	wantsSave := save != nil && *save
	cust, newCust, err := d.sessionCustomer(r.Context(), m, req.CustomerID, req.Customer)
	if err != nil {
		d.fail(w, r, "create", err)
		return
	}
	if wantsSave && cust == "" && newCust == nil {
		writeError(w, badRequest("saveForFutureUse needs customerId or customer: a stored payment method belongs to a customer"))
		return
	}
	p.Customer = cust
	owner := cust
	if newCust != nil {
		p.CustomerReference, p.NewCustomer = newCust.Reference, newCust
		owner = customerToCreate
	}
	if pc != nil {
		// Everything the confirmation can be refused for without the
		// processor is refused here, before a session exists.
		if err := d.checkCard(r.Context(), m, owner, pc); err != nil {
			d.fail(w, r, "create", err)
			return
		}
	}
	v, err := d.svc.CreateSession(r.Context(), m, p)
	if err != nil {
		d.fail(w, r, "create", err)
		return
	}
	if pc != nil {
		d.confirmAndAnswer(w, r, m, &v, pc, save, true)
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
	var req confirmRequest
	ae := readJSON(w, r, &req)
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
	d.confirmAndAnswer(w, r, m, &v, pm.Card, save, false)
}

// customerToCreate stands for a session's customer not created yet in
// checkCard: it owns no stored payment method, and no customer has this id.
const customerToCreate = "customer to be created"

// checkCard refuses what paymentMethod.card can be refused for without
// the processor, for a session of customerID: both or neither of
// encryptedCard and token; a token without its CVC (the card holder must
// be there to give it) or with a malformed one; a token that is not the
// customer's (404, as if it did not exist), or that cannot be charged
// (not active, expired: 402).
func (d *Dialect) checkCard(ctx context.Context, m *store.Merchant, customerID string, c *cardIn) error {
	switch {
	case c.EncryptedCard == "" && c.Token == "":
		return badRequest("paymentMethod.card.encryptedCard (or paymentMethod.card.token with paymentMethod.card.cvc) is required")
	case c.EncryptedCard != "" && c.Token != "":
		return badRequest("paymentMethod.card takes either encryptedCard or token (with cvc), not both")
	case c.Token == "":
		return nil
	case c.CVC == "":
		return badRequest("paymentMethod.card.cvc is required with paymentMethod.card.token: ask the card holder for the saved card's CVC")
	case customerID == "":
		return badRequest("paymentMethod.card.token needs a session with a customer (customerId or customer): a stored payment method belongs to a customer")
	}
	notFound := newError(http.StatusNotFound, codeNotFound, msgTokenNotFound)
	if len(c.Token) > 64 {
		return notFound
	}
	t, err := d.svc.GetToken(ctx, m.ID, c.Token)
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
		return notFound
	} else if err != nil {
		return err
	}
	if t.CustomerID != customerID {
		return notFound
	}
	if t.Status != store.TokenActive {
		return newError(http.StatusPaymentRequired, codeDeclined, "The stored payment method (paymentMethod.card.token) is not active and cannot be charged.")
	}
	if card.Expired(t.ExpMonth, t.ExpYear, time.Now()) {
		return newError(http.StatusPaymentRequired, codeDeclined, "The card of the stored payment method (paymentMethod.card.token) has expired.")
	}
	if err := card.ValidateCVC(c.CVC, card.Brand(t.Brand)); err != nil {
		var fe *card.FieldError
		if errors.As(err, &fe) {
			return badRequest("paymentMethod.card.cvc %s", fe.Message)
		}
		return badRequest("paymentMethod.card.cvc is not valid for this card")
	}
	return nil
}

// confirmAndAnswer confirms v with card and answers the session as it
// ends up. A declined card answers 402 with the session (open for another
// card) as data. created is a session this request just made (create with
// autoConfirm): when its confirmation is refused for anything but a
// decline it is cancelled, so that it does not linger, and answered as
// data; when the outcome is unknown (processor trouble) it is kept, and
// answered as data too.
func (d *Dialect) confirmAndAnswer(w http.ResponseWriter, r *http.Request, m *store.Merchant, v *payment.SessionView, c *cardIn, save *bool, created bool) {
	if save == nil {
		if s, ok := v.Metadata[metaSave]; ok {
			b := s == "true"
			save = &b
		}
	}
	cust := ""
	if v.Customer != nil {
		cust = *v.Customer
	}
	var perr error
	if save != nil && *save && cust == "" && c.EncryptedCard != "" {
		perr = badRequest("saveForFutureUse needs a session with a customer: a stored payment method belongs to a customer")
	} else {
		perr = d.checkCard(r.Context(), m, cust, c)
	}
	if perr != nil {
		ae := d.fromService(r, "confirm", perr)
		if created {
			d.cancelCreated(r, m, v, ae)
		} else if ae.code == codeDeclined {
			d.attachSession(r, m, v.ID, ae) // still open for another card
		}
		writeError(w, ae)
		return
	}
	cp := payment.ConfirmParams{EncryptedCard: c.EncryptedCard, Token: c.Token, CVC: c.CVC, SaveCard: save, Cipher: cipher}
	res, err := d.svc.ConfirmSession(r.Context(), m, v.ID, cp)
	if err != nil {
		ae := d.fromService(r, "confirm", err)
		var pe *payment.Error
		isPE := errors.As(err, &pe)
		switch {
		case isPE && (pe.Kind == payment.KindCard || pe.Kind == payment.KindInvalidState):
			d.attachSession(r, m, v.ID, ae)
		case created && isPE && (pe.Kind == payment.KindInvalidRequest || pe.Kind == payment.KindNotFound):
			d.cancelCreated(r, m, v, ae)
		case created:
			d.attachSession(r, m, v.ID, ae) // the outcome may be unknown: kept, and shown
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

// attachSession sets the session as it is now as ae's data.
func (d *Dialect) attachSession(r *http.Request, m *store.Merchant, id string, ae *apiError) {
	ctx := context.WithoutCancel(r.Context())
	if cur, err := d.svc.GetSession(ctx, m.ID, id); err == nil {
		if obj, err := d.render(ctx, m.ID, &cur); err == nil {
			ae.data = obj
		}
	}
}

// cancelCreated cancels a session this request created and could not
// confirm, and sets it (CANCELLED) as ae's data: the client learns its id,
// and no open session is left to expire unseen.
func (d *Dialect) cancelCreated(r *http.Request, m *store.Merchant, v *payment.SessionView, ae *apiError) {
	ctx := context.WithoutCancel(r.Context())
	if _, err := d.svc.CancelSession(ctx, m.ID, v.ID); err != nil {
		d.log.WarnContext(ctx, "pivot: cancelling a session whose autoConfirm failed", "request_id", payment.RequestID(ctx),
			"session", v.ID, "error", err.Error())
	}
	d.attachSession(r, m, v.ID, ae)
}
