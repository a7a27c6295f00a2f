// Package pivot speaks Pivot Payment's API (seed 003) over the core:
// access tokens, payment sessions (REDIRECT and API mode), confirm with an
// encrypted card or a stored token + CVC, customers' stored payment methods
// and PAYMENT.* callbacks. See docs/dialects.md.
//
// Every answer is Pivot's envelope {"code","message","data"}: code "00" is
// success; errors carry a four-digit code whose first three digits are the
// HTTP status (4000 validation, 4010 bad credentials, 4011 bad or expired
// access token, 4020 card declined, 4040 not found, 4050 wrong method,
// 4090 conflict, 4130 body too large, 4220 session expired, 4221 session
// already confirmed, 4222 session cancelled or failed, 5000 internal, 5020
// processor trouble, 5030 credentials could not be checked).
package pivot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// Format is the delivery format of Pivot sessions' callbacks.
const Format = "pivot"

// maxBody bounds a request body: a session with a full orderInformation
// and metadata is a few KiB.
const maxBody = 64 << 10

// Dialect serves /pivot.
type Dialect struct {
	svc    Service
	keeper *idempotency.Keeper
	log    *slog.Logger
}

// New returns the dialect over svc; keeper serves X-REQUEST-ID.
func New(svc Service, keeper *idempotency.Keeper, log *slog.Logger) *Dialect {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialect{svc: svc, keeper: keeper, log: log}
}

// Response codes (see the package comment).
const (
	codeOK             = "00"
	codeInvalid        = "4000"
	codeBadCredentials = "4010"
	codeBadToken       = "4011"
	codeDeclined       = "4020"
	codeNotFound       = "4040"
	codeMethod         = "4050"
	codeConflict       = "4090"
	codeTooLarge       = "4130"
	codeExpired        = "4220"
	codeConfirmed      = "4221"
	codeClosed         = "4222"
	codeState          = "4229"
	codeRateLimit      = "4290"
	codeInternal       = "5000"
	codeUpstream       = "5020"
	codeUnavailable    = "5030"
)

// envelope is every answer's shape.
type envelope struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// apiError is a failure in Pivot's shape; data, when set, is what the
// client needs besides (the session a declined confirmation left open).
type apiError struct {
	status  int
	code    string
	message string
	data    any
	// retryAfter is the Retry-After header of a 429.
	retryAfter string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// newError builds an error; its message is cleaned of digit runs, since
// an argument may come from the request.
func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: wire.Clean(fmt.Sprintf(format, args...))}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeInvalid, format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, v, `{"code":"5000","message":"Internal error","data":null}`)
}

func writeOK(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, envelope{Code: codeOK, Message: "Success", Data: data})
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pivot"`)
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeJSON(w, e.status, envelope{Code: e.code, Message: wire.Clean(e.message), Data: e.data})
}

// fieldNames turn the core's parameter names into Pivot's, so that an
// error names the field the client sent.
var fieldNames = map[string]string{
	"amount": "amount.value", "currency": "amount.currency", "expires_in": "expiryAt", "expires_at": "expiryAt",
	"success_url": "redirectUrl.successReturnUrl", "failure_url": "redirectUrl.failureReturnUrl",
	"expired_url": "redirectUrl.expirationReturnUrl", "cancel_url": "redirectUrl.failureReturnUrl",
	"callback_url": "callbackUrl", "order_id": "clientReferenceId", "description": "statementDescriptor",
	"show_saved_cards": "showSavedPayment", "save_card": "saveForFutureUse", "customer": "customerId",
	"three_d_secure": "paymentMethodOptions.card.threeDsMethod", "mode": "mode",
	"encrypted_card": "paymentMethod.card.encryptedCard", "token": "paymentMethod.card.token", "cvc": "paymentMethod.card.cvc",
	"card.number": "card.number", "card.exp_month": "card.expiryMonth", "card.exp_year": "card.expiryYear",
	"card.cvc": "card.cvc", "card.holder_name": "card.nameOnCard",
	"email": "customer.email", "name": "customer.givenName", "phone": "customer.phoneNumber",
	"metadata." + metaOrder: "orderInformation", "metadata." + metaRefund: "customer.refundPreference",
	"metadata." + metaGiven: "customer.givenName", "metadata." + metaSurname: "customer.surname",
}

// renamed words a core message with Pivot's field names: the param it
// starts with, and any native field name it mentions in its text ("give
// either encrypted_card or token, not both").
func renamed(param, msg string) string {
	if param != "" {
		name, ok := fieldNames[param]
		if !ok {
			name = param // metadata.<key> is the merchant's own
		}
		switch {
		case strings.HasPrefix(msg, param):
			msg = name + strings.TrimPrefix(msg, param)
		case msg != "" && msg[0] >= 'a' && msg[0] <= 'z':
			msg = name + " " + msg // the money package's "must be …"
		}
	}
	return pivotWords(msg)
}

// nativeWord is a word of a message that may be a native field name:
// letters, digits and underscores, dot-joined (card.exp_month).
var nativeWord = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)

// pivotWords rewrites the native field names a text mentions as Pivot's.
// Only names no English sentence uses otherwise are rewritten (those with
// an underscore or a dot, and token and cvc); a word already in Pivot's
// form (paymentMethod.card.token) is one word and left alone.
func pivotWords(msg string) string {
	return nativeWord.ReplaceAllStringFunc(msg, func(w string) string {
		if !strings.ContainsAny(w, "_.") && w != "token" && w != "cvc" {
			return w
		}
		if name, ok := fieldNames[w]; ok {
			return name
		}
		return w
	})
}

var kindCode = map[payment.Kind]string{
	payment.KindInvalidRequest: codeInvalid,
	payment.KindCard:           codeDeclined,
	payment.KindNotFound:       codeNotFound,
	payment.KindConflict:       codeConflict,
	payment.KindInvalidState:   codeState,
	payment.KindUpstream:       codeUpstream,
	payment.KindRateLimit:      codeRateLimit,
}

// stateCodes word the core's refusals of a session that is not open.
var stateCodes = map[string]struct{ code, message string }{
	"session_expired":         {codeExpired, "The payment session has expired."},
	"session_completed":       {codeConfirmed, "The payment session is already confirmed and paid."},
	"session_requires_action": {codeConfirmed, "The payment session is already confirmed and waits for 3-D Secure (see paymentUrl)."},
	"session_canceled":        {codeClosed, "The payment session is cancelled."},
	"session_failed":          {codeClosed, "The payment session failed: too many declined cards."},
}

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
		status, code := pe.Kind.HTTPStatus(), kindCode[pe.Kind]
		if code == "" {
			status, code = http.StatusInternalServerError, codeInternal
		}
		msg := renamed(pe.Param, pe.Message)
		switch pe.Kind {
		case payment.KindNotFound:
			msg = notFoundMessage(op, pe.Param)
		case payment.KindInvalidState:
			if sc, ok := stateCodes[pe.Code]; ok {
				code, msg = sc.code, sc.message
			}
		case payment.KindCard:
			if msg == "" {
				msg = "The card was declined."
			}
		}
		return &apiError{status: status, code: code, message: msg, retryAfter: payment.RetryAfterSeconds(pe)}
	}
	if errors.Is(err, context.Canceled) {
		return newError(499, codeInternal, "The request was canceled.")
	}
	d.log.ErrorContext(r.Context(), "pivot: "+op+" failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
	return newError(http.StatusInternalServerError, codeInternal, "Internal error; the Request-Id header identifies it in the logs.")
}

// notFoundMessage never echoes the id asked for: a client may have put a
// card number where an id belongs. What was not found follows the core's
// Param and the call that failed (op "customer" reads a customer), never
// the core's message, which quotes the id.
func notFoundMessage(op, param string) string {
	switch {
	case param == "customer" || op == "customer":
		return msgCustomerNotFound
	case param == "token":
		return msgTokenNotFound
	}
	return "Payment session not found."
}

const (
	msgCustomerNotFound = "Customer not found."
	msgTokenNotFound    = "The stored payment method (paymentMethod.card.token) was not found for this customer."
)

func (d *Dialect) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	writeError(w, d.fromService(r, op, err))
}

// readJSON reads a request's JSON object into v through wire's guard,
// bounded; an empty body is {}. Unknown fields are ignored (Pivot clients
// send fields Coffer has no use for) but guarded like the rest: a key given
// twice in any case, text that is not UTF-8 or holds a NUL, or a card
// number outside the paths v's type declares as card data
// (wire.CardHolder) is refused naming the field, never echoing its value.
func readJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if e := wire.ReadJSON(w, r, maxBody, v, wire.Rules{Empty: true}); e != nil {
		return fromWire(e)
	}
	return nil
}

// fromWire words a refused body in Pivot's envelope.
func fromWire(e *wire.Error) *apiError {
	switch e.Code {
	case wire.CodeTooLarge:
		return newError(http.StatusRequestEntityTooLarge, codeTooLarge, "%s", e.Detail)
	}
	return badRequest("%s", e.Message())
}

// authorize finds the merchant of a request's access token, answering the
// client itself when there is none or it is not valid.
func (d *Dialect) authorize(w http.ResponseWriter, r *http.Request) (*store.Merchant, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		writeError(w, newError(http.StatusUnauthorized, codeBadToken,
			"Authorization: Bearer <accessToken> is required; get one from POST /v1/access-token."))
		return nil, false
	}
	m, err := d.verifyToken(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		if errors.Is(err, errBadToken) {
			writeError(w, newError(http.StatusUnauthorized, codeBadToken, msgBadToken))
			return nil, false
		}
		if r.Context().Err() != nil {
			writeError(w, newError(499, codeInternal, "The request was canceled."))
			return nil, false
		}
		d.log.ErrorContext(r.Context(), "pivot: checking an access token failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		writeError(w, newError(http.StatusServiceUnavailable, codeUnavailable, "The access token could not be checked; try again."))
		return nil, false
	}
	return m, true
}

// idempotent runs next under the client's X-REQUEST-ID in its own key
// space per endpoint ("create", "confirm|<session id>"), so that one
// request id reused on another endpoint is not a mismatch.
func (d *Dialect) idempotent(w http.ResponseWriter, r *http.Request, m *store.Merchant, scope string, next http.HandlerFunc) {
	idempotency.HTTP{Keeper: d.keeper, Sealer: d.svc, Log: d.log, Fail: d.idempotencyFailure, Scope: "pivot:" + scope,
		// "Retry shortly" answers must not be frozen under the key.
		Retryable: func(status int, _ []byte) bool { return status == http.StatusConflict || status == 499 },
		Mark:      payment.WithIdempotencyKey}.Serve(w, r, m.ID, strings.TrimSpace(r.Header.Get("X-REQUEST-ID")), next)
}

func (d *Dialect) idempotencyFailure(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, idempotency.ErrKeyTooLong):
		writeError(w, badRequest("X-REQUEST-ID must be at most %d characters.", idempotency.MaxKey))
	case errors.Is(err, idempotency.ErrBody):
		writeError(w, fromWire(wire.BodyError(err)))
	case errors.Is(err, idempotency.ErrMismatch):
		writeError(w, newError(http.StatusConflict, codeConflict, "This X-REQUEST-ID was already used with a different request."))
	case errors.Is(err, idempotency.ErrInProgress):
		writeError(w, newError(http.StatusConflict, codeConflict, "A request with this X-REQUEST-ID is still in progress; retry later."))
	default:
		d.fail(w, r, "idempotency", err)
	}
}

// allowedMethods are the methods the dialect serves at path ("" when none
// does): what routes.go registers.
func allowedMethods(path string) string {
	switch seg := strings.Split(strings.TrimPrefix(path, "/pivot/"), "/"); {
	case len(seg) == 2 && seg[0] == "v1" && seg[1] == "access-token":
		return "POST"
	case len(seg) == 2 && seg[0] == "v2" && seg[1] == "payments":
		return "POST"
	case len(seg) == 3 && seg[0] == "v2" && seg[1] == "payments" && seg[2] != "":
		return "GET"
	case len(seg) == 4 && seg[0] == "v2" && seg[1] == "payments" && seg[2] != "" && seg[3] == "confirm":
		return "POST"
	case len(seg) == 3 && seg[0] == "v1" && seg[1] == "customers" && seg[2] != "":
		return "GET"
	}
	return ""
}

// NotFound answers, in Pivot's shape, every request under /pivot that no
// route takes: 405 where the path is served with another method, else 404.
// Neither echoes the path, which may hold anything a client put there.
func (d *Dialect) NotFound(w http.ResponseWriter, r *http.Request) {
	if allow := allowedMethods(r.URL.Path); allow != "" {
		w.Header().Set("Allow", allow)
		writeError(w, newError(http.StatusMethodNotAllowed, codeMethod, "This endpoint takes %s only.", allow))
		return
	}
	writeError(w, newError(http.StatusNotFound, codeNotFound,
		"No such endpoint in Coffer's Pivot API (POST /v1/access-token, POST /v2/payments, GET /v2/payments/{id}, POST /v2/payments/{id}/confirm, GET /v1/customers/{customerId})."))
}

// Callbacks is the "pivot" delivery format.
func (d *Dialect) Callbacks() event.Format { return callbacks{d: d} }
