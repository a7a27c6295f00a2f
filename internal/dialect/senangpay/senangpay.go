// Package senangpay offers senangPay's server-to-server Tokenization API
// (pay_cc, update_token_status, validate_token) and query_order_status, its
// hosted 3-D Secure get-token flow with its return and callback
// (gettoken.go), and the deprecated 2-D get_payment_token (paymenttoken.go)
// as a dialect over Coffer's payment service: it translates a request, calls
// the domain service, and translates the answer back. It never touches the
// store. docs/dialects.md lists every choice made where senangPay's
// documentation is silent.
//
// Credentials: senangPay's merchant_id is the Coffer merchant id, and the
// "secret key" of every hash is the merchant's hmac_secret. Every
// server-to-server call (the apiv1 POSTs and query_order_status) takes HTTP
// Basic auth with the merchant id as user name and the hmac_secret as
// password; senangPay's documented empty password only under the merchant's
// senangpay_legacy_auth setting, from its senangpay_legacy_auth_cidrs.
// Hashes are lowercase hex HMAC-SHA256, compared in constant time. After a
// roll of the hmac_secret (POST /v1/merchant/keys/roll), passwords and
// hashes under the old secret are accepted until it expires; Coffer's own
// hashes (answers, returns, callbacks) use the new one at once.
//
// Choices where senangPay's documentation is silent:
//   - Every error answer is JSON {"status":0,"msg":"…"}; bad credentials or a
//     bad hash are 401, malformed input 400, an unknown token 404, a token in
//     the wrong state 422, processor trouble 502.
//   - A declined pay_cc is HTTP 200 with status 0, the failed payment's id as
//     transaction_id, amount_paid 0 and the decline message, hashed like a
//     success.
//   - The amount in the pay_cc request hash is the amount string exactly as
//     sent (it must be integer cents: digits only).
//   - query_order_status lists every Coffer payment with that order_id,
//     newest first; payment_info.status is paid, failed or pending.
package senangpay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// Dialect serves senangPay's API shape.
type Dialect struct {
	svc Service
	log *slog.Logger
}

// New returns the senangPay dialect over svc.
func New(svc Service, log *slog.Logger) *Dialect {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialect{svc: svc, log: log}
}

// Messages of the dialect's answers.
const (
	msgPaid      = "Payment was successful"
	msgVerified  = "Card has been successfully verified."
	msgDisabled  = "Credit card successfully disabled"
	msgEnabled   = "Credit card successfully enabled"
	msgAuth      = "Unauthorized: wrong merchant_id or credentials"
	msgHash      = "Unauthorized: hash mismatch"
	msgQueryOK   = "Query was successful"
	msgInternal  = "Internal error; try again."
	myr          = "MYR"
	maxDetail    = 100
	maxName      = 100
	maxQueryPage = 100 // payments per page read for query_order_status
	maxQuery     = 10  // pages: at most 1000 payments per order
)

// Sign is senangPay's hash: lowercase hex HMAC-SHA256 of the concatenated
// parts, keyed with the merchant's secret.
func Sign(secret string, parts ...string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		mac.Write([]byte(p))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// hashOK compares a given hash with the expected one in constant time;
// upper-case hex is accepted.
func hashOK(secret, given string, parts ...string) bool {
	want := Sign(secret, parts...)
	return hmac.Equal([]byte(want), []byte(strings.ToLower(given)))
}

// verify reports whether an inbound password or hash checks out (ok) under
// the merchant's current HMAC secret or, while a roll's overlap lasts, one
// it replaced: those are read only when the current one does not match.
// Answers are signed with the current secret alone.
func (d *Dialect) verify(ctx context.Context, m *store.Merchant, current string, ok func(secret string) bool) bool {
	if ok(current) {
		return true
	}
	all, err := d.svc.HMACSecrets(ctx, m)
	if err != nil {
		d.log.ErrorContext(ctx, "senangpay: reading rolled secrets failed", "request_id", payment.RequestID(ctx), "error", err.Error())
		return false
	}
	for _, s := range all {
		if s != current && ok(s) {
			return true
		}
	}
	return false
}

// fail writes senangPay's error shape, the message cleaned of digit runs.
func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": 0, "msg": wire.Clean(msg)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, v, `{"status":0,"msg":"Internal error"}`)
}

// serviceError answers a domain failure in senangPay's shape. Domain
// messages never contain card data, and never echo an id that is not
// id-shaped.
func (d *Dialect) serviceError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var pe *payment.Error
	if errors.As(err, &pe) {
		if ra := payment.RetryAfterSeconds(pe); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		fail(w, pe.Kind.HTTPStatus(), pe.Message)
		return
	}
	if errors.Is(err, context.Canceled) {
		fail(w, 499, "Request canceled")
		return
	}
	d.log.ErrorContext(r.Context(), "senangpay: "+op+" failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
	fail(w, http.StatusInternalServerError, msgInternal)
}

// merchant authenticates a POST: HTTP Basic auth, user name the merchant
// id, password the merchant's hmac_secret (or, under the legacy setting,
// empty: see authenticate).
func (d *Dialect) merchant(w http.ResponseWriter, r *http.Request) (*store.Merchant, string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		unauthorized(w)
		return nil, "", false
	}
	return d.authenticate(w, r, user, pass)
}

// unauthorized is every failed authentication's one answer: the same
// status, headers and words whether the merchant is unknown, the password
// wrong or missing, or the caller outside the legacy allowlist, so that a
// refusal tells nothing about the merchant.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="senangpay", charset="UTF-8"`)
	fail(w, http.StatusUnauthorized, msgAuth)
}

// authenticate checks a server-to-server call's credentials for merchantID
// and returns the merchant and its secret. The password must be the
// merchant's hmac_secret (compared in constant time): the merchant id is
// public — it is in every hosted get-token URL — and token ids reach card
// holders' browsers, so the id alone must open nothing. senangPay's own
// form, an empty password, is taken only when the merchant turned on
// senangpay_legacy_auth and the connection comes from one of its
// senangpay_legacy_auth_cidrs (the peer address: forwarded headers are
// anybody's to write).
func (d *Dialect) authenticate(w http.ResponseWriter, r *http.Request, merchantID, password string) (*store.Merchant, string, bool) {
	m, err := d.svc.GetMerchant(r.Context(), merchantID)
	if err != nil {
		var pe *payment.Error
		if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
			unauthorized(w)
			return nil, "", false
		}
		d.serviceError(w, r, "merchant lookup", err)
		return nil, "", false
	}
	secret, err := d.svc.HMACSecret(r.Context(), m)
	if err != nil {
		d.serviceError(w, r, "merchant secret", err)
		return nil, "", false
	}
	switch {
	case password != "":
		if !d.verify(r.Context(), m, secret, func(s string) bool { return hmac.Equal([]byte(password), []byte(s)) }) {
			unauthorized(w)
			return nil, "", false
		}
	case !legacyAllowed(m.Settings, r.RemoteAddr):
		unauthorized(w)
		return nil, "", false
	}
	return m, secret, true
}

// legacyAllowed reports whether the merchant's legacy setting admits an
// empty password from the peer at remoteAddr (http.Request.RemoteAddr).
func legacyAllowed(st store.Settings, remoteAddr string) bool {
	if !st.SenangPayLegacyAuth {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().WithZone("").Unmap()
	for _, c := range st.SenangPayLegacyAuthCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && (p.Contains(a) || p.Contains(netip.AddrFrom16(a.As16()))) {
			return true
		}
	}
	return false
}

// pageLookup finds a merchant and its secret for the get-token pages; an
// unknown merchant is reported as nil with no error.
func (d *Dialect) pageLookup(r *http.Request, merchantID string) (*store.Merchant, string, error) {
	m, err := d.svc.GetMerchant(r.Context(), merchantID)
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	secret, err := d.svc.HMACSecret(r.Context(), m)
	if err != nil {
		return nil, "", err
	}
	return m, secret, nil
}

// request authenticates a POST and reads its body, answering the client
// itself when either fails; names are the fields it requires.
func (d *Dialect) request(w http.ResponseWriter, r *http.Request, names ...string) (*store.Merchant, string, map[string]string, bool) {
	m, secret, ok := d.merchant(w, r)
	if !ok {
		return nil, "", nil, false
	}
	f, err := form(w, r)
	if err == nil {
		err = require(f, names...)
	}
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return nil, "", nil, false
	}
	return m, secret, f, true
}

// opaque are the fields senangPay only compares with what Coffer computes:
// its hashes are hex HMACs, whose digits may run long enough to look like a
// card number.
var opaque = []string{"hash"}

// form reads a POST body as form-urlencoded, multipart/form-data or JSON
// into single string values. Query parameters are ignored. Every encoding
// passes wire's guard: a field given twice (or in two cases), text that is
// not UTF-8 or holds a NUL, or a card number in any field but those card
// lists is refused, naming the field.
func form(w http.ResponseWriter, r *http.Request, card ...string) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return nil, errors.New("unreadable Content-Type")
	}
	out := map[string]string{}
	switch ct {
	case "application/json":
		body, we := wire.ReadBody(w, r, 0)
		var raw map[string]any
		if we == nil {
			we = wire.DecodeJSON(body, &raw, wire.Rules{Card: card, Opaque: opaque, UseNumber: true})
		}
		if we != nil {
			return nil, bodyErr(we)
		}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				out[k] = v
			case json.Number:
				out[k] = v.String()
			case nil:
			default:
				return nil, fmt.Errorf("%s must be a string or a number", safeName(k))
			}
		}
		return out, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBody); err != nil {
			return nil, bodyErr(err, "the multipart body is malformed")
		}
		if r.MultipartForm != nil && len(r.MultipartForm.File) > 0 {
			r.MultipartForm.RemoveAll()
			return nil, errors.New("file uploads are not accepted")
		}
	case "application/x-www-form-urlencoded", "":
		if err := r.ParseForm(); err != nil {
			return nil, bodyErr(err, "the form body is malformed")
		}
	default:
		return nil, errors.New("Content-Type must be application/x-www-form-urlencoded, multipart/form-data or application/json")
	}
	return fields(r.PostForm, card...)
}

// fields is a guarded form's single values.
func fields(f url.Values, card ...string) (map[string]string, error) {
	if we := wire.CheckForm(f, wire.Rules{Card: card, Opaque: opaque}); we != nil {
		return nil, we
	}
	out := make(map[string]string, len(f))
	for k, vs := range f {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out, nil
}

// bodyErr is a read failure's error: a body over the limit says so, any
// other says msg (a *wire.Error says itself).
func bodyErr(err error, msg ...string) error {
	var we *wire.Error
	if errors.As(err, &we) && we.Code != wire.CodeTooLarge {
		return we
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) || (we != nil && we.Code == wire.CodeTooLarge) {
		return fmt.Errorf("the body exceeds %d bytes", maxBody)
	}
	if len(msg) == 0 {
		return errors.New("the body could not be read")
	}
	return errors.New(msg[0])
}

// safeName is a field name fit to echo: short and free of digits runs.
func safeName(k string) string {
	if len(k) > 40 || strings.ContainsAny(k, "0123456789") || !utf8.ValidString(k) {
		return "a field"
	}
	return strconv.Quote(k)
}

// require checks that every named field is present and non-empty.
func require(f map[string]string, names ...string) error {
	for _, n := range names {
		if strings.TrimSpace(f[n]) == "" {
			return fmt.Errorf("%s is required", n)
		}
	}
	return nil
}

// PayCC charges a token: POST /apiv1/pay_cc.
func (d *Dialect) PayCC(w http.ResponseWriter, r *http.Request) {
	m, secret, f, ok := d.request(w, r, "name", "email", "phone", "detail", "order_id", "amount", "token", "hash")
	if !ok {
		return
	}
	if !d.verify(r.Context(), m, secret, func(s string) bool {
		return hashOK(s, f["hash"], m.ID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	}) {
		fail(w, http.StatusUnauthorized, msgHash)
		return
	}
	amount, err := strconv.ParseInt(f["amount"], 10, 64)
	if err != nil || amount <= 0 || strings.TrimLeft(f["amount"], "0123456789") != "" {
		fail(w, http.StatusBadRequest, "amount must be a positive whole number of cents (RM2.00 is 200)")
		return
	}
	if utf8.RuneCountInString(f["detail"]) > maxDetail {
		fail(w, http.StatusBadRequest, fmt.Sprintf("detail must be at most %d characters", maxDetail))
		return
	}
	if utf8.RuneCountInString(f["name"]) > maxName {
		fail(w, http.StatusBadRequest, fmt.Sprintf("name must be at most %d characters", maxName))
		return
	}
	cur, capture := myr, true
	v, err := d.svc.CreatePayment(r.Context(), m, payment.PaymentParams{Amount: amount, Currency: &cur, Token: f["token"],
		OrderID: f["order_id"], Description: f["detail"], Capture: &capture,
		Metadata: map[string]string{"name": f["name"], "email": f["email"], "phone": f["phone"]}})
	status, msg := 1, msgPaid
	if err != nil {
		var pe *payment.Error
		if !errors.As(err, &pe) || pe.Kind != payment.KindCard || pe.Payment == nil {
			d.serviceError(w, r, "pay_cc", err)
			return
		}
		v, status, msg = *pe.Payment, 0, pe.Message
		if msg == "" {
			msg = "The card was declined."
		}
	} else if v.Status != store.PaymentSucceeded {
		// Neither paid nor declined (the acquirer's answer is unknown, or
		// the merchant requires 3-D Secure on every charge): not paid.
		status, msg = 0, "Payment is pending ("+v.Status+")"
	}
	paid := int64(0)
	if status == 1 {
		paid = v.AmountCaptured
	}
	sp := strconv.Itoa(status)
	ap := strconv.FormatInt(paid, 10)
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "transaction_id": v.ID, "order_id": f["order_id"],
		"amount_paid": paid, "msg": msg, "hash": Sign(secret, m.ID, sp, f["order_id"], v.ID, ap, msg)})
}

// UpdateTokenStatus toggles a token between enabled and disabled:
// POST /apiv1/update_token_status.
func (d *Dialect) UpdateTokenStatus(w http.ResponseWriter, r *http.Request) {
	m, _, f, ok := d.request(w, r, "token")
	if !ok {
		return
	}
	t, err := d.svc.GetToken(r.Context(), m.ID, f["token"])
	if err != nil {
		d.serviceError(w, r, "update_token_status", err)
		return
	}
	var msg string
	switch t.Status {
	case store.TokenActive:
		t, err = d.svc.DisableToken(r.Context(), m.ID, t.ID)
		msg = msgDisabled
	case store.TokenDisabled:
		t, err = d.svc.EnableToken(r.Context(), m.ID, t.ID)
		msg = msgEnabled
	default:
		fail(w, http.StatusUnprocessableEntity, "A token in status "+t.Status+" cannot be enabled or disabled.")
		return
	}
	if err != nil {
		d.serviceError(w, r, "update_token_status", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"msg": msg, "token": t.ID})
}

// reasons turns ValidateToken's reason codes into messages.
var reasons = map[string]string{
	"disabled":           "Card is disabled.",
	"deleted":            "Card has been deleted.",
	"failed":             "Card failed verification when it was saved.",
	"requires_action":    "Card has not completed 3-D Secure.",
	"expired":            "Card has expired.",
	"blocked":            "Card is blocked.",
	"insufficient_funds": "Card has insufficient funds.",
	"processing_error":   "Card could not be verified; try again.",
}

// ValidateToken checks that a token can be charged: POST /apiv1/validate_token.
func (d *Dialect) ValidateToken(w http.ResponseWriter, r *http.Request) {
	m, _, f, ok := d.request(w, r, "token")
	if !ok {
		return
	}
	v, err := d.svc.ValidateToken(r.Context(), m, f["token"], "")
	if err != nil {
		d.serviceError(w, r, "validate_token", err)
		return
	}
	if v.Valid {
		writeJSON(w, http.StatusOK, map[string]any{"status": 1, "msg": msgVerified, "token": v.Token})
		return
	}
	reason := "unknown"
	if v.Reason != nil {
		reason = *v.Reason
	}
	msg, ok := reasons[reason]
	if !ok {
		msg = "Card verification failed (" + reason + ")."
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": 0, "msg": msg, "token": v.Token})
}

// orderEntry is one payment in query_order_status's data.
type orderEntry struct {
	OrderID       string      `json:"order_id"`
	TransactionID string      `json:"transaction_id"`
	Amount        int64       `json:"amount"`
	AmountPaid    int64       `json:"amount_paid"`
	Currency      string      `json:"currency"`
	PaymentInfo   paymentInfo `json:"payment_info"`
	Created       int64       `json:"transaction_date"`
}

type paymentInfo struct {
	Status     string `json:"status"`
	StatusID   int    `json:"status_id"` // 1 paid, 0 failed, 2 pending
	CardMask   string `json:"cc_num"`
	CardBrand  string `json:"cc_type"`
	FailureMsg string `json:"msg,omitempty"`
}

// QueryOrderStatus lists an order's payments:
// GET /apiv1/query_order_status?merchant_id&order_id&hash.
func (d *Dialect) QueryOrderStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, err := fields(q); err != nil { // order_id comes back in the answer
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	mid, order, hash := q.Get("merchant_id"), q.Get("order_id"), q.Get("hash")
	if mid == "" || order == "" || hash == "" {
		fail(w, http.StatusBadRequest, "merchant_id, order_id and hash are required")
		return
	}
	// The merchant's secret as the Basic password, like the POSTs. Under
	// the legacy setting senangPay's own form is taken too: no
	// Authorization at all (its docs show none here), or an empty password.
	user, pass, basic := r.BasicAuth()
	if (basic && user != mid) || (!basic && r.Header.Get("Authorization") != "") {
		unauthorized(w)
		return
	}
	m, secret, ok := d.authenticate(w, r, mid, pass)
	if !ok {
		return
	}
	if !d.verify(r.Context(), m, secret, func(s string) bool { return hashOK(s, hash, m.ID, s, order) }) {
		fail(w, http.StatusUnauthorized, msgHash)
		return
	}
	data := []orderEntry{}
	after := ""
	for range maxQuery {
		ps, more, err := d.svc.ListPayments(r.Context(), m.ID, store.PaymentFilter{OrderID: order, StartingAfter: after, Limit: maxQueryPage})
		if err != nil {
			d.serviceError(w, r, "query_order_status", err)
			return
		}
		for _, p := range ps {
			data = append(data, entry(order, p))
		}
		if !more || len(ps) == 0 {
			break
		}
		after = ps[len(ps)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": 1, "msg": msgQueryOK, "data": data})
}

func entry(order string, p payment.PaymentView) orderEntry {
	e := orderEntry{OrderID: order, TransactionID: p.ID, Amount: p.Amount, Currency: p.Currency, Created: p.Created.Unix(),
		PaymentInfo: paymentInfo{CardMask: ccNum(p.Card.Last4), CardBrand: brand(p.Card.Brand)}}
	switch p.Status {
	case store.PaymentSucceeded:
		e.AmountPaid, e.PaymentInfo.Status, e.PaymentInfo.StatusID = p.AmountCaptured, "paid", 1
	case store.PaymentFailed, store.PaymentCanceled:
		e.PaymentInfo.Status, e.PaymentInfo.StatusID = "failed", 0
		if p.Failure != nil {
			e.PaymentInfo.FailureMsg = p.Failure.Message
		}
	default:
		e.PaymentInfo.Status, e.PaymentInfo.StatusID = "pending", 2
	}
	return e
}

// ccNum is senangPay's masked card number, like XXXXXXXXXXXX1118.
func ccNum(last4 string) string {
	if last4 == "" {
		return "0000"
	}
	return "XXXXXXXXXXXX" + last4
}

// brand is senangPay's cc_type: vs, mc, or xx for anything else.
func brand(b string) string {
	switch b {
	case "visa":
		return "vs"
	case "mastercard":
		return "mc"
	}
	return "xx"
}
