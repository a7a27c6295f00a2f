// Package sensepass offers SensePass's Transaction API (transactions/init,
// tokenize, pay, token-validation, status, cancel, a live socket and the
// transaction_status callbacks) as a dialect over Coffer's payment service:
// it translates a request, calls the domain service and translates the
// answer back. It never touches the store.
//
// Credentials: apiKey or deviceId in the JSON body, each holding either the
// merchant's secret key (sk_…) or a device key (dk_live_…, POST
// /v1/device_keys). GET and cancel, whose body is optional, also read the
// same value from an apiKey or deviceId header when their body has none.
// Keys are never read from a URL.
//
// A transaction is a payment session (TransactionNumber = the session id,
// ps_…) paid on Coffer's hosted page, or a payment made by transactions/pay
// (transactionNumber = the payment id, pay_…); GET and cancel take either.
//
// Every error answer under /sensepass/api is {"success":false,"status":
// <HTTP status>,"code":"…","message":"…"}: 400 malformed input, 401 bad or
// revoked keys, 402 declined or invalid cards and tokens, 403 a refused
// option (accept_raw_card_data off), 404 unknown transactions, tokens and
// paths (NotFound), 405 a path served with another method, 409 a concurrent
// operation, 422 a wrong state, 426 a plain request to the socket, 502
// processor trouble.
package sensepass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// Format names SensePass's POST JSON callbacks: sessions created by this
// dialect record it as their CallbackFormat.
const Format = "sensepass"

// FormatGET names the callbackMethod GET variant: a GET of the callback URL
// with TransactionNumber and callbackType in its query.
const FormatGET = "sensepass_get"

// maxBody bounds a request body: a 100-card tokenize batch is about 15 KiB.
const maxBody = 256 << 10

// Dialect serves SensePass's API shape.
type Dialect struct {
	svc Service
	log *slog.Logger
}

// New returns the SensePass dialect over svc.
func New(svc Service, log *slog.Logger) *Dialect {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialect{svc: svc, log: log}
}

// apiError is an answer in the dialect's error shape. extra adds fields
// (a declined payment's transactionNumber, a validation's AVS and CVV).
type apiError struct {
	status  int
	code    string
	message string
	extra   map[string]any
	// retryAfter is the Retry-After header of a 429.
	retryAfter string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// newError builds an error; its message is cleaned of digit runs, since
// an argument may come from the request (a currency, an amount).
func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: wire.Clean(fmt.Sprintf(format, args...))}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "parameter_invalid", format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, v, `{"success":false,"status":500,"code":"internal_error","message":"Internal error"}`)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"success": false, "status": e.status, "code": e.code, "message": wire.Clean(e.message)}
	for k, v := range e.extra {
		body[k] = v
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `apiKey realm="sensepass"`)
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeJSON(w, e.status, body)
}

// fieldNames turn the core's parameter names into SensePass's, so that an
// error names the field the client sent.
var fieldNames = map[string]string{
	"expires_in": "timeOut", "success_url": "returnURL", "failure_url": "returnURL", "expired_url": "returnURL",
	"cancel_url": "cancelURL", "callback_url": "callbackURL", "description": "reason", "cvc": "securityCode",
	"card.number": "cardNumber", "card.exp_month": "cardExpiration", "card.exp_year": "cardExpiration",
	"card.cvc": "securityCode", "card.holder_name": "cardHolderName", "number": "cardNumber",
}

// renamed words a core message with SensePass's field name.
func renamed(param, msg string) string {
	if param == "" {
		return msg
	}
	name := param
	if n, ok := fieldNames[param]; ok {
		name = n
	} else if n, ok := strings.CutPrefix(param, "metadata."); ok {
		name = n
	}
	switch {
	case strings.HasPrefix(msg, param):
		return name + strings.TrimPrefix(msg, param)
	case msg != "" && msg[0] >= 'a' && msg[0] <= 'z':
		return name + " " + msg // the money package's "must be …"
	}
	return msg
}

// msgExpired words a card whose expiry is past.
const msgExpired = "The card has expired (cardExpiration is in the past)."

// fromService turns a domain failure into the dialect's error; anything
// that is not a *payment.Error is logged and hidden behind a 500. Domain
// messages never contain card data.
func (d *Dialect) fromService(r *http.Request, op string, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var pe *payment.Error
	if errors.As(err, &pe) {
		status := pe.Kind.HTTPStatus()
		code := pe.Code
		if pe.DeclineCode != "" && pe.Kind == payment.KindCard {
			code = pe.DeclineCode
		}
		msg := renamed(pe.Param, pe.Message)
		if pe.Kind == payment.KindInvalidRequest && pe.Code == card.CodeExpiredCard {
			msg = msgExpired // the core's "card.exp_year the card has expired"
		}
		if pe.Kind == payment.KindNotFound {
			msg = notFoundMessage(pe.Param)
			if strings.HasPrefix(pe.Message, "No such token") {
				msg = notFoundMessage("token")
			}
		}
		return &apiError{status: status, code: code, message: msg, retryAfter: payment.RetryAfterSeconds(pe)}
	}
	if errors.Is(err, context.Canceled) {
		return newError(499, "request_canceled", "The request was canceled.")
	}
	d.log.ErrorContext(r.Context(), "sensepass: "+op+" failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
	return newError(http.StatusInternalServerError, "internal_error", "Internal error; the Request-Id header identifies it in the logs.")
}

// notFoundMessage never echoes the id asked for: a client may have put a
// card number where an id belongs.
func notFoundMessage(param string) string {
	if param == "token" {
		return "Token not found."
	}
	return "Transaction not found."
}

func (d *Dialect) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	writeError(w, d.fromService(r, op, err))
}

// credentials are the two ways SensePass names the caller.
type credentials struct {
	APIKey   string `json:"apiKey"`
	DeviceID string `json:"deviceId"`
}

const (
	msgNoKey  = "apiKey or deviceId is required: the merchant's secret key or one of its device keys"
	msgBadKey = "Invalid apiKey or deviceId (unknown or revoked key)."
)

// authenticate finds the merchant of a secret key or a live device key,
// whichever of the two fields carries it. A device key is looked up afresh
// every time, so a revocation takes effect at once.
func (d *Dialect) authenticate(ctx context.Context, c credentials) (*store.Merchant, *apiError) {
	key := c.APIKey
	switch {
	case c.APIKey == "" && c.DeviceID == "":
		return nil, newError(http.StatusUnauthorized, "api_key_missing", msgNoKey)
	case c.APIKey != "" && c.DeviceID != "" && c.APIKey != c.DeviceID:
		return nil, newError(http.StatusBadRequest, "parameter_invalid", "send apiKey or deviceId, not both")
	case key == "":
		key = c.DeviceID
	}
	var m *store.Merchant
	var err error
	switch {
	case len(key) > 200:
		return nil, newError(http.StatusUnauthorized, "api_key_invalid", msgBadKey)
	case strings.HasPrefix(key, "sk_"):
		m, err = d.svc.Authenticate(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, newError(http.StatusUnauthorized, "api_key_invalid", msgBadKey)
		}
	case strings.HasPrefix(key, "dk_"):
		m, err = d.svc.AuthenticateDevice(ctx, key)
		if errors.Is(err, payment.ErrUnknownKey) {
			return nil, newError(http.StatusUnauthorized, "api_key_invalid", msgBadKey)
		}
	case strings.HasPrefix(key, "pk_"):
		return nil, newError(http.StatusUnauthorized, "secret_key_required",
			"A publishable key cannot be used here; send the secret key or a device key.")
	default:
		return nil, newError(http.StatusUnauthorized, "api_key_invalid", msgBadKey)
	}
	if err != nil {
		if ctx.Err() != nil { // the client left (a socket's recheck, say)
			return nil, newError(499, "request_canceled", "The request was canceled.")
		}
		d.log.ErrorContext(ctx, "sensepass: authentication failed", "request_id", payment.RequestID(ctx), "error", err.Error())
		return nil, newError(http.StatusServiceUnavailable, "authentication_unavailable", "Credentials could not be checked; try again.")
	}
	return m, nil
}

// headerCredentials are the credentials of a request without a body.
func headerCredentials(r *http.Request) credentials {
	return credentials{APIKey: strings.TrimSpace(r.Header.Get("apiKey")), DeviceID: strings.TrimSpace(r.Header.Get("deviceId"))}
}

// decodeJSON reads a JSON object into v through wire's guard. Unknown
// fields are ignored (a SensePass client may send fields Coffer has no use
// for) but guarded like the rest: a key given twice in any case, text that
// is not UTF-8 or holds a NUL, or a card number outside the paths v's type
// declares as card data (wire.CardHolder) is refused naming the field,
// never echoing its value.
func decodeJSON(b []byte, v any) *apiError {
	if e := wire.DecodeJSON(b, v, wire.Rules{}); e != nil {
		return fromWire(e)
	}
	return nil
}

// fromWire words a refused body in the dialect's error shape.
func fromWire(e *wire.Error) *apiError {
	switch e.Code {
	case wire.CodeTooLarge:
		return newError(http.StatusRequestEntityTooLarge, e.Code, "%s", e.Detail)
	case wire.CodeUnreadable:
		return newError(http.StatusBadRequest, e.Code, "%s", e.Detail)
	case wire.CodeType:
		return badRequest("%s", e.Message())
	case wire.CodeSyntax, wire.CodeEmpty:
		return newError(http.StatusBadRequest, "json_invalid", "%s", e.Detail)
	}
	return newError(http.StatusBadRequest, e.Code, "%s", e.Message())
}

// request reads a request's JSON body into v, then its credentials (from
// the body, or from headers when the body has none). It answers the client
// itself when either fails.
func (d *Dialect) request(w http.ResponseWriter, r *http.Request, v any, c *credentials, optional bool) (*store.Merchant, bool) {
	// An optional body left empty is {}: no fields.
	if we := wire.ReadJSON(w, r, maxBody, v, wire.Rules{Empty: optional}); we != nil {
		writeError(w, fromWire(we))
		return nil, false
	}
	if c.APIKey == "" && c.DeviceID == "" {
		*c = headerCredentials(r)
	}
	m, ae := d.authenticate(r.Context(), *c)
	if ae != nil {
		writeError(w, ae)
		return nil, false
	}
	return m, true
}

// iso is SensePass's time format: UTC with milliseconds, as JavaScript's
// toISOString writes it.
func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// mmyy is an expiry as SensePass answers it: "1234" for December 2034.
func mmyy(month, year int) string {
	if month < 1 || month > 12 || year < 0 {
		return ""
	}
	return fmt.Sprintf("%02d%02d", month, year%100)
}

// The dialect's routes under /sensepass/api, for NotFound's 405.
const pathPrefix = "/sensepass/api/transactions/"

var postEndpoints = map[string]bool{"init": true, "tokenize": true, "pay": true, "token-validation": true}

// allowedMethods are the methods the dialect serves at path ("" when none
// does): what routes.go registers.
func allowedMethods(path string) string {
	rest, ok := strings.CutPrefix(path, pathPrefix)
	if !ok || rest == "" {
		return ""
	}
	var get, post bool
	switch seg := strings.Split(rest, "/"); {
	case len(seg) == 1:
		get, post = true, postEndpoints[seg[0]]
	case len(seg) == 2 && seg[1] != "":
		post = seg[0] == "cancel"
		get = seg[1] == "socket" && seg[0] != ""
	}
	switch {
	case get && post:
		return "GET, HEAD, POST"
	case get:
		return "GET, HEAD"
	case post:
		return "POST"
	}
	return ""
}

// NotFound answers, in the dialect's error shape, every request under
// /sensepass/api that no route of the dialect takes: 405 where the path
// is served with another method, else 404. Neither echoes the path, which
// may hold anything a client put there.
func (d *Dialect) NotFound(w http.ResponseWriter, r *http.Request) {
	if allow := allowedMethods(r.URL.Path); allow != "" {
		w.Header().Set("Allow", allow)
		writeError(w, newError(http.StatusMethodNotAllowed, "method_not_allowed", "This endpoint takes %s only.", allow))
		return
	}
	writeError(w, newError(http.StatusNotFound, "endpoint_not_found",
		"No such endpoint in Coffer's SensePass API (transactions/init, tokenize, pay, token-validation, cancel/{transactionNumber}, {transactionNumber}, {transactionNumber}/socket)."))
}
