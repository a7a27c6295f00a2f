package senangpay

// senangPay's 3-D Secure "get token" flow, over a Coffer payment session:
//
//	merchant page ──form POST / GET──▶ /senangpay/tokenization/{merchant_id}
//	  ──303──▶ /pay/{session}            (Coffer's hosted page, save-card only)
//	  ──▶ /3ds/{challenge} (OTP)  ──▶ /pay/{session}/return
//	  ──303──▶ /senangpay/tokenization/{merchant_id}/return?session_id=…
//	  ──303──▶ the merchant's tokenization_return_url?order_id&status_id&token&cc_num&cc_type&msg&hash
//
// and the merchant's tokenization_callback_url gets the same seven fields as
// a form POST once the session ends.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// Format names senangPay's tokenization callbacks: sessions created by the
// get-token flow record it as their CallbackFormat.
const Format = "senangpay"

// Limits of the get-token request. senangPay documents only name's; the
// others are the core's for the same data (order ids, customers' e-mail and
// phone), so that nothing passes here that the session would refuse.
const (
	maxOrderID = 255
	maxEmail   = 254
	maxPhone   = 40
	maxHash    = 128
	// Phone digits: the shortest national number to E.164's 15, with room
	// for a trunk prefix and an extension.
	minPhoneDigits = 6
	maxPhoneDigits = 20
)

// The msg of the return and the callback. None holds '+' or '%': senangPay's
// own sample URL-decodes the (already decoded) query a second time, which
// would change such a message and so break its hash.
const (
	msgTokenized     = "Card has been successfully validated."
	msgTokenFailed   = "Card validation failed."
	msgTokenCanceled = "Card validation was canceled by the card holder."
	msgTokenExpired  = "Card validation expired before it was completed."
	msgTokenGone     = "The saved card has since been deleted."
)

const (
	tokenizationPath = "/senangpay/tokenization/"
	statusOK         = "1"
	statusNo         = "0"
)

// tokenFields are the get-token request's fields, all required, in the
// order a missing one is reported.
var tokenFields = []string{"order_id", "name", "email", "phone", "hash"}

// tokenRequest is a get-token request that passed validation.
type tokenRequest struct {
	OrderID, Name, Email, Phone, Hash string
}

// fieldError says which field of a get-token request is wrong and how. It
// never quotes the value, which may hold anything (a card number typed in
// the wrong box).
type fieldError struct{ Field, Problem string }

func (e *fieldError) Error() string { return e.Field + " " + e.Problem }

// missingField reports the first required field that is absent or blank.
func missingField(f map[string]string) *fieldError {
	for _, n := range tokenFields {
		if strings.TrimSpace(f[n]) == "" {
			return &fieldError{n, "is required"}
		}
	}
	return nil
}

// parseTokenRequest validates a get-token request's fields. order_id is kept
// exactly as sent: the merchant's hash covers it, and it goes back in the
// result. The others are trimmed.
func parseTokenRequest(f map[string]string) (tokenRequest, *fieldError) {
	if e := missingField(f); e != nil {
		return tokenRequest{}, e
	}
	req := tokenRequest{OrderID: f["order_id"], Name: strings.TrimSpace(f["name"]), Email: strings.TrimSpace(f["email"]),
		Phone: strings.TrimSpace(f["phone"]), Hash: strings.TrimSpace(f["hash"])}
	for _, c := range []struct {
		name, v string
		max     int
	}{{"order_id", req.OrderID, maxOrderID}, {"name", req.Name, maxName}, {"email", req.Email, maxEmail}, {"phone", req.Phone, maxPhone}} {
		if e := checkField(c.name, c.v, c.max); e != nil {
			return tokenRequest{}, e
		}
	}
	if a, err := mail.ParseAddress(req.Email); err != nil || a.Address != req.Email {
		return tokenRequest{}, &fieldError{"email", "must be an e-mail address, like abu@example.my"}
	}
	digits := 0
	for _, r := range req.Phone {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() .", r):
		default:
			return tokenRequest{}, &fieldError{"phone", "may hold only digits, spaces and + - ( ) ."}
		}
	}
	if digits < minPhoneDigits || digits > maxPhoneDigits {
		return tokenRequest{}, &fieldError{"phone", fmt.Sprintf("must have %d to %d digits", minPhoneDigits, maxPhoneDigits)}
	}
	if len(req.Hash) > maxHash {
		return tokenRequest{}, &fieldError{"hash", fmt.Sprintf("must be at most %d characters", maxHash)}
	}
	return req, nil
}

// checkField applies the rules every text field shares. A card number is
// refused because these fields are stored and shown in clear.
func checkField(name, v string, max int) *fieldError {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return &fieldError{name, fmt.Sprintf("must be text of at most %d characters", max)}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return &fieldError{name, "must not contain control characters"}
		}
	}
	if logging.HasCardNumber(v) {
		return &fieldError{name, "must not contain a card number"}
	}
	return nil
}

// tokenForm reads a get-token request: the query string of a GET, the body
// (form-urlencoded or multipart; JSON too, as every senangPay endpoint here
// takes it) of a POST.
func tokenForm(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	if r.Method != http.MethodGet {
		return form(w, r)
	}
	if len(r.URL.RawQuery) > maxBody {
		return nil, fmt.Errorf("the query string exceeds %d bytes", maxBody)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errors.New("the query string is malformed")
	}
	return fields(q) // stored in the session: guarded like a body
}

// returnURL is where the hosted page sends the card holder once the session
// ends: the dialect's return hop, which adds senangPay's fields.
func (d *Dialect) returnURL(merchantID string) string {
	return d.svc.PublicURL() + tokenizationPath + url.PathEscape(merchantID) + "/return"
}

// GetToken starts the 3-D Secure get-token flow:
// GET|POST /senangpay/tokenization/{merchant_id}. It is a card holder's
// browser that calls, so every answer is a page: 401 for an unknown
// merchant or a wrong hash, 400 for a missing or invalid field (named),
// 409 when the merchant has no tokenization_return_url; on success, a 303 to
// the hosted page.
func (d *Dialect) GetToken(w http.ResponseWriter, r *http.Request) {
	m, secret, err := d.pageLookup(r, r.PathValue("merchant_id"))
	if err != nil {
		d.log.ErrorContext(r.Context(), "senangpay: merchant lookup failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		errorPage(w, http.StatusInternalServerError, pageInternal, msgInternal, "")
		return
	}
	f, err := tokenForm(w, r)
	var we *wire.Error
	if errors.As(err, &we) && we.Param != "" {
		fieldPage(w, &fieldError{we.Param, we.Detail})
		return
	}
	if err != nil {
		errorPage(w, http.StatusBadRequest, pageBadRequest, strings.TrimSuffix(err.Error(), ".")+".", "")
		return
	}
	if fe := missingField(f); fe != nil {
		fieldPage(w, fe)
		return
	}
	// The hash is checked before the fields: nobody but the merchant learns
	// what this endpoint accepts. An unknown merchant fails here exactly as
	// a wrong hash does, so that a refusal does not tell whether it exists.
	if m == nil || !d.verify(r.Context(), m, secret, func(s string) bool { return hashOK(s, strings.TrimSpace(f["hash"]), m.ID, f["order_id"]) }) {
		errorPage(w, http.StatusUnauthorized, "This request could not be verified",
			"The request's hash does not match. The shop must sign merchant_id and order_id with its secret key.", "hash")
		return
	}
	req, fe := parseTokenRequest(f)
	if fe != nil {
		fieldPage(w, fe)
		return
	}
	back := m.Settings.TokenizationReturnURL
	if back == "" {
		notSetUp(w)
		return
	}
	hop, cur := d.returnURL(m.ID), myr
	v, err := d.svc.CreateSession(r.Context(), m, payment.SessionParams{Mode: "redirect", Amount: 0, Currency: &cur,
		OrderID: req.OrderID, Metadata: map[string]string{"name": req.Name, "email": req.Email, "phone": req.Phone},
		CallbackURL: m.Settings.TokenizationCallbackURL, CallbackFormat: Format,
		SuccessURL: hop, FailureURL: hop, ExpiredURL: hop, CancelURL: hop, ForwardURLs: []string{back},
		// senangPay's flow exists to make the card holder pass 3-D Secure.
		ThreeDSecure: payment.ThreeDSRequired})
	if err != nil {
		d.sessionError(w, r, err)
		return
	}
	if v.URL == nil {
		d.log.ErrorContext(r.Context(), "senangpay: a redirect session has no page", "session", v.ID)
		errorPage(w, http.StatusInternalServerError, pageInternal, msgInternal, "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, *v.URL, http.StatusSeeOther)
}

// sessionError answers CreateSession's refusal: the holder's data (order_id,
// name, email, phone) is theirs to fix; a URL or 3-D Secure problem is the
// shop's setup.
func (d *Dialect) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindInvalidRequest {
		switch p := pe.Param; {
		case p == "order_id":
			fieldPage(w, &fieldError{"order_id", "is not accepted"})
			return
		case strings.HasPrefix(p, "metadata."):
			fieldPage(w, &fieldError{strings.TrimPrefix(p, "metadata."), "is not accepted"})
			return
		case strings.HasSuffix(p, "_url"):
			d.log.WarnContext(r.Context(), "senangpay: a tokenization URL of the merchant is refused", "param", p, "code", pe.Code)
			notSetUp(w)
			return
		case p == "three_d_secure":
			errorPage(w, http.StatusServiceUnavailable, "Card saving is unavailable",
				"This server cannot run 3-D Secure, which saving a card here requires.", "")
			return
		}
	}
	d.log.ErrorContext(r.Context(), "senangpay: get-token session failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
	errorPage(w, http.StatusInternalServerError, pageInternal, msgInternal, "")
}

// TokenizationReturn is the hosted page's last hop:
// GET /senangpay/tokenization/{merchant_id}/return?session_id=…. A session
// still open goes back to its page; an ended one goes on to the merchant's
// tokenization_return_url with senangPay's fields.
func (d *Dialect) TokenizationReturn(w http.ResponseWriter, r *http.Request) {
	m, secret, err := d.pageLookup(r, r.PathValue("merchant_id"))
	if err != nil {
		d.log.ErrorContext(r.Context(), "senangpay: merchant lookup failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		errorPage(w, http.StatusInternalServerError, pageInternal, msgInternal, "")
		return
	}
	sid := r.URL.Query().Get("session_id")
	if sid == "" {
		fieldPage(w, &fieldError{"session_id", "is required"})
		return
	}
	if m == nil {
		noSession(w) // as for an unknown session: the merchant's existence is not told
		return
	}
	v, err := d.svc.GetSession(r.Context(), m.ID, sid)
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
		noSession(w)
		return
	} else if err != nil {
		d.log.ErrorContext(r.Context(), "senangpay: reading a session failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		errorPage(w, http.StatusInternalServerError, pageInternal, msgInternal, "")
		return
	}
	// Only the sessions this flow made: another session's outcome must not
	// be dressed up as senangPay's (nor signed with the merchant's secret).
	// Its URLs prove nothing (any API client or till may point a session at
	// this hop); the format only this dialect sets does.
	if v.CallbackFormat != Format || v.SuccessURL == nil || *v.SuccessURL != d.returnURL(m.ID) {
		noSession(w)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if v.Status == store.SessionOpen || v.Status == store.SessionRequiresAction {
		if v.URL != nil {
			http.Redirect(w, r, *v.URL, http.StatusSeeOther)
			return
		}
	}
	back := m.Settings.TokenizationReturnURL
	if back == "" {
		notSetUp(w)
		return
	}
	vals, err := d.outcome(r.Context(), m.ID, secret, endOf(v))
	if err != nil {
		d.log.ErrorContext(r.Context(), "senangpay: tokenization result failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		errorPage(w, http.StatusInternalServerError, pageInternal, msgInternal, "")
		return
	}
	http.Redirect(w, r, withQuery(back, vals), http.StatusSeeOther)
}

// ending is what the return and the callback tell of a session.
type ending struct {
	status, orderID, tokenID string
	failure                  *store.Failure
}

func endOf(v payment.SessionView) ending {
	e := ending{status: v.Status, failure: v.LastError}
	if v.OrderID != nil {
		e.orderID = *v.OrderID
	}
	if v.Token != nil {
		e.tokenID = *v.Token
	}
	return e
}

// outcome is senangPay's seven fields for an ended session. A decline is
// not an end: the holder may try other cards on the page, up to
// payment.MaxSessionAttempts; the session fails after the last, and cancel
// and expiry end it as failures too.
func (d *Dialect) outcome(ctx context.Context, merchantID, secret string, e ending) (url.Values, error) {
	statusID, token, num, typ := statusNo, "0", "0000", "xx"
	var msg string
	switch e.status {
	case store.SessionSucceeded:
		t, err := d.svc.GetToken(ctx, merchantID, e.tokenID)
		var pe *payment.Error
		switch {
		case errors.As(err, &pe) && pe.Kind == payment.KindNotFound:
			msg = msgTokenGone // deleted by the merchant since: nothing to charge
		case err != nil:
			return nil, err
		default:
			statusID, token, num, typ, msg = statusOK, t.ID, ccNum(t.Last4), brand(t.Brand), msgTokenized
		}
	case store.SessionCanceled:
		msg = msgTokenCanceled
	case store.SessionExpired:
		msg = msgTokenExpired
	case store.SessionFailed:
		msg = msgTokenFailed
		if e.failure != nil && e.failure.Message != "" {
			msg = logging.Redact(e.failure.Message)
		}
	default:
		return nil, fmt.Errorf("senangpay: a session in status %s has no outcome yet", e.status)
	}
	return url.Values{"order_id": {e.orderID}, "status_id": {statusID}, "token": {token}, "cc_num": {num}, "cc_type": {typ},
		"msg": {msg}, "hash": {Sign(secret, merchantID, e.orderID, statusID, token, num, typ, msg)}}, nil
}

// withQuery adds fields to the merchant's URL, keeping its own query.
func withQuery(raw string, add url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // checked as an absolute URL when the setting was saved
	}
	q := u.Query()
	for k, vs := range add {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ---- the callback

// Callbacks renders senangPay's tokenization callbacks.
func (d *Dialect) Callbacks() event.Format { return callbacks{d} }

type callbacks struct{ d *Dialect }

// finalEvents are the session events senangPay tells of: its callback
// reports a result, never progress.
var finalEvents = map[string]bool{"session.succeeded": true, "session.failed": true, "session.expired": true, "session.canceled": true}

// Request renders the callback: a form POST of the same seven fields the
// return carries. Its retries are the dispatcher's (backoff for 72 h):
// senangPay documents none.
func (c callbacks) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	if !finalEvents[ev.Type] {
		return nil, event.ErrSkip
	}
	var v payment.SessionView
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		return nil, fmt.Errorf("senangpay: reading the session of event %s: %w", ev.ID, err)
	}
	m, err := c.d.svc.GetMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	secret, err := c.d.svc.HMACSecret(ctx, m)
	if err != nil {
		return nil, err
	}
	vals, err := c.d.outcome(ctx, m.ID, secret, endOf(v))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// Delivered: senangPay's receiver must answer a plain OK; any other answer,
// even a 2xx, is tried again.
func (c callbacks) Delivered(status int, body []byte) string {
	if why := event.Delivered2xx(status, body); why != "" {
		return why
	}
	if !bytes.Equal(bytes.TrimSpace(body), []byte("OK")) {
		return "HTTP " + strconv.Itoa(status) + " without the plain OK senangPay's callback needs"
	}
	return ""
}

// ---- pages

const (
	pageBadRequest = "This request cannot be processed"
	pageNotFound   = "Not found"
	pageInternal   = "Something went wrong"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body>
<main>
<h1 id="title">{{.Title}}</h1>
<p id="message">{{.Message}}</p>
{{- if .Field}}
<p>Field: <code id="field">{{.Field}}</code></p>
{{- end}}
<p>Please go back to the shop and try again, or contact the shop.</p>
</main>
</body>
</html>
`))

// errorPage answers a browser with a small page that loads nothing and can
// be neither cached nor framed. field names the request field at fault.
func errorPage(w http.ResponseWriter, status int, title, message, field string) {
	var b bytes.Buffer
	message, field = wire.Clean(message), wire.Clean(field) // the field may be a client's key
	if err := pageTmpl.Execute(&b, struct{ Title, Message, Field string }{title, message, field}); err != nil {
		http.Error(w, title, status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func fieldPage(w http.ResponseWriter, fe *fieldError) {
	errorPage(w, http.StatusBadRequest, pageBadRequest, "The field "+strconv.Quote(fe.Field)+" "+fe.Problem+".", fe.Field)
}

func noSession(w http.ResponseWriter) {
	errorPage(w, http.StatusNotFound, pageNotFound, "There is no such card-saving session.", "")
}

func notSetUp(w http.ResponseWriter) {
	errorPage(w, http.StatusConflict, "Card saving is not set up",
		"This shop has not finished setting up card saving: its Tokenization Return URL is missing or not accepted.", "")
}
