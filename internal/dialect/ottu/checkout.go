package ottu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// metaPrefix marks the session metadata this dialect keeps: the Ottu
// fields Coffer's session has no column for, given back as they came.
const metaPrefix = "ottu_"

// DefaultExpiration is a checkout's life when expiration_time is absent:
// Ottu's one day, which is also the longest Coffer allows.
const DefaultExpiration = 24 * time.Hour

// pgName is the "gateway" every pg_code is served by: Coffer's acquirer.
const pgName = "coffer"

// checkoutRequest is a validated checkout.
type checkoutRequest struct {
	params     payment.SessionParams
	instrument string // payment_instrument's token: pay at once
	cvv        string // payment_instrument's payload.cvv (holder-present charges)
	// merchantInitiated: an auto_debit checkout paid with a card saved
	// under its agreement; the card holder is absent.
	merchantInitiated bool
}

// parseCheckout validates a checkout body and builds the session. Every
// field's error is reported at once, as DRF does.
func (d *Dialect) parseCheckout(ctx context.Context, m *store.Merchant, body map[string]any) (checkoutRequest, *apiError) {
	f := fields{m: body, errs: fieldErrors{}}
	typ := f.choice("type", true, "", "e_commerce", "payment_request")
	ptype := f.choice("payment_type", false, "one_off", "one_off", "save_card", "auto_debit")
	cur := wire.NormalCurrency(f.str("currency_code", true, false), "")
	amountText := f.str("amount", true, true)
	pgCodes := f.strList("pg_codes", true)
	customer := strings.TrimSpace(f.str("customer_id", false, false))
	order := f.str("order_no", false, false)
	webhook := f.str("webhook_url", false, false)
	redirect := f.str("redirect_url", false, false)
	expText := f.str("expiration_time", false, true)
	op := f.choice("operation", false, "purchase", "purchase", "authorize")
	md := map[string]string{metaPrefix + "type": typ, metaPrefix + "payment_type": ptype}
	for _, k := range []string{"customer_email", "customer_first_name", "customer_last_name", "customer_phone"} {
		if v := strings.TrimSpace(f.str(k, false, false)); v != "" {
			md[metaPrefix+k] = v
		}
	}
	if e := md[metaPrefix+"customer_email"]; e != "" && (!strings.Contains(e, "@") || len(e) > 254) {
		f.errs.add("customer_email", "Enter a valid email address.")
	}

	cur, amount := checkoutMoney(f, cur, amountText, ptype)
	if customer == "" && ptype != "one_off" {
		f.errs.add("customer_id", "This field is required for payment_type %s.", ptype)
	}
	if customer != "" {
		md[metaPrefix+"customer_id"] = customer
	}

	agreement := checkoutAgreement(f, body, ptype, md)
	token, cvv := checkoutInstrument(f, m, ptype, customer)
	ttl := checkoutTTL(f, expText)
	if len(pgCodes) > 0 {
		b, _ := json.Marshal(pgCodes)
		md[metaPrefix+"pg_codes"] = string(b)
	}
	if redirect != "" {
		md[metaPrefix+"redirect_url"] = redirect
	}
	if ae := f.errs.err(); ae != nil {
		return checkoutRequest{}, ae
	}
	if token != "" {
		if ae := d.checkInstrument(ctx, m, customer, token, cvv, ptype, agreement); ae != nil {
			return checkoutRequest{}, ae
		}
	}

	saveMode := "off"
	switch {
	case ptype != "one_off":
		saveMode = "always" // save_card exists to save it; auto_debit charges it later
	case customer != "":
		saveMode = "optional" // the holder's "Save Your Card"
	}
	secs := int64(ttl / time.Second)
	capture := op == "purchase"
	back := returnURL(redirect, order)
	p := payment.SessionParams{Mode: "redirect", Amount: amount, Currency: &cur, CustomerReference: customer, SaveCard: saveMode,
		ShowSavedCards: customer != "" && amount > 0, Capture: &capture, OrderID: order, SuccessURL: back, FailureURL: back,
		ExpiredURL: back, CancelURL: back, CallbackURL: webhook, ExpiresIn: &secs, Metadata: md, CallbackFormat: Format}
	return checkoutRequest{params: p, instrument: token, cvv: cvv, merchantInitiated: ptype == "auto_debit"}, nil
}

// checkoutMoney checks currency_code and amount together: an amount is read
// in its currency's minor units, so a bad currency leaves it unread.
func checkoutMoney(f fields, cur, amountText, ptype string) (string, int64) {
	if cur != "" {
		if _, we := wire.Currency("currency_code", cur, ""); we != nil {
			f.errs.add("currency_code", "%s", worded("", we.Detail))
			cur = ""
		}
	}
	var amount int64
	if amountText != "" && cur != "" {
		v, err := ParseAmount(strings.TrimSpace(amountText), cur)
		switch {
		case err != nil:
			f.errs.add("amount", "%s", worded("", err.Error()))
		case ptype == "save_card" && v != 0:
			f.errs.add("amount", `Must be "0" for payment_type save_card: saving a card charges nothing.`)
		case ptype != "save_card" && v == 0:
			f.errs.add("amount", "Ensure this value is greater than 0.")
		}
		amount = v
	}
	return cur, amount
}

// checkoutAgreement checks and keeps the agreement, and returns its id.
func checkoutAgreement(f fields, body map[string]any, ptype string, md map[string]string) string {
	// An agreement is the merchant's standing permission to charge the
	// saved card later (auto_debit); its fields are kept as sent.
	if a, ok := f.object("agreement", ptype == "auto_debit"); ok {
		a.str("id", true, true)
		a.str("type", true, false)
		if b, err := json.Marshal(a.m); err == nil {
			if len(b) > 500 {
				f.errs.add("agreement", "Ensure the agreement has no more than 500 characters as JSON.")
			}
			md[metaPrefix+"agreement"] = string(b)
		}
	}
	var agreement string
	if a, ok := body["agreement"].(map[string]any); ok {
		agreement = idText(a["id"])
	}
	return agreement
}

// checkoutInstrument checks payment_instrument's shape against the
// payment type; whose card the token is, is checked once the body is valid.
func checkoutInstrument(f fields, m *store.Merchant, ptype, customer string) (token, cvv string) {
	if pi, ok := f.object("payment_instrument", false); ok {
		pi.choice("instrument_type", true, "", "token")
		if pl, ok := pi.object("payload", true); ok {
			token = strings.TrimSpace(pl.str("token", true, false))
			cvv = strings.TrimSpace(pl.str("cvv", false, false))
		}
		switch {
		case ptype == "auto_debit" && cvv != "":
			f.errs.add("payment_instrument.payload.cvv", "An auto_debit checkout is charged merchant initiated under its agreement; it takes no CVV.")
		case ptype == "one_off" && cvv == "" && m.Settings.RequireCVCForSavedCards:
			f.errs.add("payment_instrument.payload.cvv", "This field is required: the merchant requires the CVV to charge a saved card.")
		}
		switch {
		case ptype == "save_card":
			f.errs.add("payment_instrument", "A save_card checkout saves a new card; it cannot be paid with a token.")
		case customer == "":
			f.errs.add("customer_id", "This field is required to pay with a token.")
		}
	}
	return token, cvv
}

// checkoutTTL reads expiration_time, within the core's bounds.
func checkoutTTL(f fields, expText string) time.Duration {
	ttl := DefaultExpiration
	if expText != "" {
		t, err := ParseExpiration(expText)
		switch {
		case err != nil:
			f.errs.add("expiration_time", "%s", worded("", err.Error()))
		case t < payment.MinSessionTTL || t > payment.MaxSessionTTL:
			f.errs.add("expiration_time", "Must be between %s and %s.", FormatExpiration(payment.MinSessionTTL), FormatExpiration(payment.MaxSessionTTL))
		default:
			ttl = t
		}
	}
	return ttl
}

// checkInstrument checks that the token may pay this checkout: the
// customer's own card, and for auto_debit one saved under this agreement.
func (d *Dialect) checkInstrument(ctx context.Context, m *store.Merchant, customer, token, cvv, ptype, agreement string) *apiError {
	t, ae := d.ownedToken(ctx, m, customer, token)
	if ae != nil {
		return invalid("payment_instrument.payload.token", "No such saved card for this customer.")
	}
	if ptype == "auto_debit" {
		// Merchant initiated: only a card the holder saved under this
		// very agreement (an auto_debit checkout they paid).
		if _, id := d.tokenAgreement(ctx, m, t); id == "" || id != agreement {
			return invalid("payment_instrument.payload.token", "%s", notUnderAgreement)
		}
	} else if cvv != "" {
		if err := card.ValidateCVC(cvv, card.Brand(t.Brand)); err != nil {
			return invalid("payment_instrument.payload.cvv", "%s", worded("", err.Error()))
		}
	}
	return nil
}

// returnURL is where the card holder goes after the checkout, whatever
// its outcome: redirect_url with order_no added (the core adds session_id).
func returnURL(redirect, order string) string {
	if redirect == "" || order == "" {
		return redirect
	}
	u, err := url.Parse(redirect)
	if err != nil {
		return redirect // the core refuses it, naming redirect_url
	}
	q := u.Query()
	q.Set("order_no", order)
	u.RawQuery = q.Encode()
	return u.String()
}

// ownToken checks that a token is a live saved card of the customer with
// this reference: nobody else's card may pay.
func (d *Dialect) ownToken(ctx context.Context, m *store.Merchant, reference, token string) *apiError {
	_, ae := d.ownedToken(ctx, m, reference, token)
	return ae
}

// ownedToken is ownToken's token.
func (d *Dialect) ownedToken(ctx context.Context, m *store.Merchant, reference, token string) (*store.Token, *apiError) {
	c, err := d.svc.FindCustomer(ctx, m.ID, reference)
	if err != nil || c == nil {
		return nil, errNotFound
	}
	t, err := d.svc.GetToken(ctx, m.ID, token)
	if err != nil || t.CustomerID != c.ID {
		return nil, errNotFound
	}
	return t, nil
}

// notUnderAgreement refuses a merchant-initiated charge of a card the
// holder did not save under the checkout's agreement.
const notUnderAgreement = "This card was not saved under the checkout's agreement: only a card the customer saved by paying an " +
	"auto_debit checkout with the same agreement id can be charged without them."

// origin is the Ottu checkout that saved t: the session its metadata
// names, made by this dialect for the same customer, whose saved card is
// exactly t. The token's metadata alone proves nothing (the native API
// lets a merchant write any metadata); the session's own record does.
func (d *Dialect) origin(ctx context.Context, m *store.Merchant, t *store.Token) (payment.SessionView, bool) {
	sid := t.Metadata["session"]
	if sid == "" || len(sid) > 64 {
		return payment.SessionView{}, false
	}
	o, err := d.svc.GetSession(ctx, m.ID, sid)
	if err != nil || o.CallbackFormat != Format || o.Token == nil || *o.Token != t.ID || o.Customer == nil || *o.Customer != t.CustomerID {
		return payment.SessionView{}, false
	}
	return o, true
}

// tokenAgreement is the agreement t was saved under and its id: the
// agreement of the auto_debit checkout the holder paid to save it. A card
// saved otherwise (one_off "Save Your Card", save_card, the native API)
// has none ("").
func (d *Dialect) tokenAgreement(ctx context.Context, m *store.Merchant, t *store.Token) (map[string]any, string) {
	o, ok := d.origin(ctx, m, t)
	if !ok {
		return nil, ""
	}
	return savedUnder(o)
}

// savedUnder is the agreement a card saved by checkout o is under: o's,
// when o is an auto_debit checkout.
func savedUnder(o payment.SessionView) (map[string]any, string) {
	if meta(o, "payment_type") != "auto_debit" {
		return nil, ""
	}
	id := agreementID(o)
	a, _ := agreementOf(o).(map[string]any)
	if id == "" || a == nil {
		return nil, ""
	}
	return a, id
}

// CreateCheckout serves POST /b/checkout/v1/pymt-txn/: a hosted-page
// session (201). With payment_instrument it charges the token at once.
func (d *Dialect) CreateCheckout(w http.ResponseWriter, r *http.Request) {
	m, ae := d.authenticate(r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	body, ae := readBody(w, r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	req, ae := d.parseCheckout(r.Context(), m, body)
	if ae != nil {
		writeError(w, ae)
		return
	}
	ctx := r.Context()
	v, err := d.svc.CreateSession(ctx, m, req.params)
	if err != nil {
		d.fail(w, r, "create checkout", err)
		return
	}
	if req.instrument != "" {
		// Merchant initiated only on an auto_debit checkout (the card is
		// under its agreement, checked above); otherwise it is the
		// holder's own charge: CVV and 3-D Secure as on the page.
		cp := payment.ConfirmParams{Token: req.instrument, MerchantInitiated: req.merchantInitiated}
		if !req.merchantInitiated {
			cp.CVC = req.cvv
		}
		if v, err = d.pay(ctx, m, v.ID, cp); err != nil {
			d.fail(w, r, "pay checkout", err)
			return
		}
	}
	writeJSON(w, http.StatusCreated, d.checkoutBody(ctx, m, v))
}

// pay confirms a checkout with a saved card. A decline is the checkout's
// state (attempted; the notification says failed), not a failed request:
// the session is read back either way.
func (d *Dialect) pay(ctx context.Context, m *store.Merchant, sid string, cp payment.ConfirmParams) (payment.SessionView, error) {
	v, err := d.svc.ConfirmSession(ctx, m, sid, cp)
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindCard {
		return d.svc.GetSession(ctx, m.ID, sid)
	}
	return v, err
}

// GetCheckout serves GET /b/checkout/v1/pymt-txn/{session_id}[/].
func (d *Dialect) GetCheckout(w http.ResponseWriter, r *http.Request) {
	m, ae := d.authenticate(r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	v, ae := d.session(r, m, r.PathValue("session_id"))
	if ae != nil {
		writeError(w, ae)
		return
	}
	writeJSON(w, http.StatusOK, d.checkoutBody(r.Context(), m, v))
}

// session reads one of this dialect's sessions: a session made through
// another API is not an Ottu checkout (404).
func (d *Dialect) session(r *http.Request, m *store.Merchant, id string) (payment.SessionView, *apiError) {
	if id == "" || len(id) > 64 {
		return payment.SessionView{}, errNotFound
	}
	v, err := d.svc.GetSession(r.Context(), m.ID, id)
	if err != nil {
		return payment.SessionView{}, d.fromService(r, "read checkout", err)
	}
	if v.CallbackFormat != Format {
		return payment.SessionView{}, errNotFound
	}
	return v, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// meta reads one of the dialect's metadata fields.
func meta(v payment.SessionView, k string) string { return v.Metadata[metaPrefix+k] }

func pgCodes(v payment.SessionView) []string {
	var l []string
	if json.Unmarshal([]byte(meta(v, "pg_codes")), &l) != nil || len(l) == 0 {
		return []string{pgName}
	}
	return l
}

func agreementOf(v payment.SessionView) any {
	dec := json.NewDecoder(strings.NewReader(meta(v, "agreement")))
	dec.UseNumber() // a numeric id is echoed as sent
	var a map[string]any
	if dec.Decode(&a) != nil || a == nil {
		return nil
	}
	return a
}

// agreementID is the id of a checkout's agreement ("" without one).
func agreementID(v payment.SessionView) string {
	a, _ := agreementOf(v).(map[string]any)
	return idText(a["id"])
}

// idText is an agreement id as text: a string or a JSON number's literal.
func idText(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	}
	return ""
}

// checkoutBody is a checkout as Ottu answers it: the request's fields,
// the session and where to pay it.
func (d *Dialect) checkoutBody(ctx context.Context, m *store.Merchant, v payment.SessionView) map[string]any {
	page := d.svc.SessionURL(v.ID)
	amount := FormatAmount(v.Amount, v.Currency)
	op := "purchase"
	if v.CaptureMethod == "manual" {
		op = "authorize"
	}
	var methods []map[string]any
	for _, pg := range pgCodes(v) {
		methods = append(methods, map[string]any{"code": pg, "name": pg, "pg": pgName, "amount": amount, "currency_code": v.Currency,
			"fee": FormatAmount(0, v.Currency), "fee_description": "", "icon": "", "flow": "redirect", "redirect_url": page})
	}
	return map[string]any{
		"session_id": v.ID, "type": meta(v, "type"), "payment_type": meta(v, "payment_type"), "amount": amount,
		"currency_code": v.Currency, "pg_codes": pgCodes(v), "customer_id": meta(v, "customer_id"),
		"customer_email": meta(v, "customer_email"), "customer_first_name": meta(v, "customer_first_name"),
		"customer_last_name": meta(v, "customer_last_name"), "customer_phone": meta(v, "customer_phone"),
		"order_no": deref(v.OrderID), "webhook_url": deref(v.CallbackURL), "redirect_url": meta(v, "redirect_url"),
		"expiration_time": FormatExpiration(v.ExpiresAt.Sub(v.Created)), "operation": op, "agreement": agreementOf(v),
		"checkout_url": page, "checkout_short_url": page, "qr_code_url": page + "/qr.png",
		"state": d.state(ctx, m, v, true), "payment_methods": methods,
	}
}

// state is Ottu's payment state of a session. live also reads the
// payment, which moves on after the session ends (captured, refunded,
// voided); a webhook tells the state its event saw.
func (d *Dialect) state(ctx context.Context, m *store.Merchant, v payment.SessionView, live bool) string {
	switch v.Status {
	case store.SessionOpen:
		if v.Attempts > 0 {
			return "attempted"
		}
		return "created"
	case store.SessionRequiresAction:
		return "pending"
	case store.SessionFailed:
		return "failed"
	case store.SessionCanceled:
		return "canceled"
	case store.SessionExpired:
		return "expired"
	case store.SessionSucceeded:
		st := "paid"
		if v.CaptureMethod == "manual" {
			st = "authorized"
		}
		if live && v.Payment != nil {
			p, err := d.svc.GetPayment(ctx, m.ID, *v.Payment)
			switch {
			case err != nil:
			case p.Refunded:
				st = "refunded"
			case p.Status == store.PaymentCanceled:
				st = "voided"
			case p.AmountCaptured > 0:
				st = "paid"
			}
		}
		return st
	}
	return v.Status
}
