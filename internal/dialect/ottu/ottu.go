// Package ottu speaks Ottu's checkout API (seed 004) over the core:
// checkout sessions (one_off, save_card, auto_debit), saved cards,
// auto-debit with a token and signed webhooks. See docs/dialects.md.
//
// Credentials: `Authorization: Api-Key <the merchant's secret key>`.
// Errors have the shape of Django REST framework, which Ottu runs on:
// {"detail":"…"} for authentication, unknown objects and wrong methods, and
// {"<field>":["…"]} (nested for objects such as agreement) for invalid
// input, so a client written for Ottu finds the field it sent.
package ottu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// Format is the delivery format of Ottu sessions' webhooks.
const Format = "ottu"

// maxBody bounds a request body. A multipart checkout may carry an
// attachment, which Coffer reads past but does not keep.
const maxBody = 1 << 20

// Dialect serves /ottu.
type Dialect struct {
	svc    Service
	keeper *idempotency.Keeper
	log    *slog.Logger
}

// New returns the dialect over svc.
func New(svc Service, keeper *idempotency.Keeper, log *slog.Logger) *Dialect {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialect{svc: svc, keeper: keeper, log: log}
}

// Callbacks is the "ottu" delivery format.
func (d *Dialect) Callbacks() event.Format { return callbacks{d: d} }

// apiError is an answer in Django REST framework's error shape.
type apiError struct {
	status int
	body   map[string]any
	// retryAfter is the Retry-After header of a 429.
	retryAfter string
}

func (e *apiError) Error() string { return fmt.Sprintf("ottu: HTTP %d", e.status) }

// detail is DRF's non-field error.
func detail(status int, format string, args ...any) *apiError {
	return &apiError{status: status, body: map[string]any{"detail": wire.Clean(fmt.Sprintf(format, args...))}}
}

var errNotFound = detail(http.StatusNotFound, "Not found.")

// fieldErrors collects validation messages by field path; "agreement.id"
// nests as DRF's nested serializers do.
type fieldErrors map[string]any

// Path and message are cleaned of digit runs: either may quote the request.
func (fe fieldErrors) add(path, format string, args ...any) {
	msg := wire.Clean(fmt.Sprintf(format, args...))
	m := map[string]any(fe)
	parts := strings.Split(wire.Clean(path), ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			if _, taken := m[p]; taken {
				return // the object itself is already wrong
			}
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	last := parts[len(parts)-1]
	if l, ok := m[last].([]string); ok {
		m[last] = append(l, msg)
	} else if _, ok := m[last]; !ok {
		m[last] = []string{msg}
	}
}

func (fe fieldErrors) err() *apiError {
	if len(fe) == 0 {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, body: fe}
}

func invalid(path, format string, args ...any) *apiError {
	fe := fieldErrors{}
	fe.add(path, format, args...)
	return fe.err()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, v, `{"detail":"A server error occurred."}`)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Api-Key realm="ottu"`)
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeJSON(w, e.status, e.body)
}

// fieldNames turn the core's parameter names into Ottu's.
var fieldNames = map[string]string{
	"amount": "amount", "currency": "currency_code", "order_id": "order_no", "callback_url": "webhook_url",
	"success_url": "redirect_url", "failure_url": "redirect_url", "expired_url": "redirect_url", "cancel_url": "redirect_url",
	"expires_in": "expiration_time", "customer_reference": "customer_id", "customer": "customer_id", "token": "token",
	"cvc": "token", "three_d_secure": "detail",
}

// ottuField is the request field a core parameter came from.
func ottuField(param string) string {
	if n, ok := fieldNames[param]; ok {
		return n
	}
	if k, ok := strings.CutPrefix(param, "metadata."); ok {
		if f, ok := strings.CutPrefix(k, metaPrefix); ok {
			return f
		}
		return k
	}
	return ""
}

// worded drops the core's leading parameter name from its message: the
// field is the key of DRF's error object already.
func worded(param, msg string) string {
	msg = strings.TrimSpace(strings.TrimPrefix(msg, param))
	if msg == "" {
		return "Invalid value."
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
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
		switch pe.Kind {
		case payment.KindInvalidRequest:
			if f := ottuField(pe.Param); f != "" && f != "detail" {
				return invalid(f, "%s", worded(pe.Param, pe.Message))
			}
			return detail(http.StatusBadRequest, "%s", worded(pe.Param, pe.Message))
		case payment.KindNotFound:
			if pe.Param == "token" {
				return invalid("token", "No such saved card for this customer.")
			}
			return errNotFound
		case payment.KindConflict:
			return detail(http.StatusConflict, "%s", pe.Message)
		case payment.KindInvalidState:
			return detail(http.StatusBadRequest, "%s", pe.Message)
		case payment.KindCard:
			return detail(http.StatusBadRequest, "%s", pe.Message)
		case payment.KindUpstream:
			return detail(http.StatusBadGateway, "%s", pe.Message)
		case payment.KindRateLimit:
			e := detail(http.StatusTooManyRequests, "%s", pe.Message)
			e.retryAfter = payment.RetryAfterSeconds(pe)
			return e
		}
	}
	if errors.Is(err, context.Canceled) {
		return detail(499, "The request was canceled.")
	}
	d.log.ErrorContext(r.Context(), "ottu: "+op+" failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
	return detail(http.StatusInternalServerError, "A server error occurred; the Request-Id header identifies it in the logs.")
}

func (d *Dialect) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	writeError(w, d.fromService(r, op, err))
}

// authenticate reads `Authorization: Api-Key <sk_…>`. Ottu's other
// scheme (Basic, for its dashboard users) has no Coffer counterpart.
func (d *Dialect) authenticate(r *http.Request) (*store.Merchant, *apiError) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return nil, detail(http.StatusUnauthorized, "Authentication credentials were not provided.")
	}
	scheme, key, _ := strings.Cut(h, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Api-Key") {
		return nil, detail(http.StatusUnauthorized, "Authentication credentials were not provided: send Authorization: Api-Key <secret key>.")
	}
	if !strings.HasPrefix(key, "sk_") || len(key) > 200 {
		return nil, detail(http.StatusUnauthorized, "Invalid API key.")
	}
	m, err := d.svc.Authenticate(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, detail(http.StatusUnauthorized, "Invalid API key.")
	}
	if err != nil {
		if r.Context().Err() != nil {
			return nil, detail(499, "The request was canceled.")
		}
		d.log.ErrorContext(r.Context(), "ottu: authentication failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		return nil, detail(http.StatusServiceUnavailable, "Credentials could not be checked; try again.")
	}
	return m, nil
}

// readBody reads a request body into a map of fields: JSON, or a
// multipart or urlencoded form (whose values are strings; objects and
// lists may be sent as JSON text). Either way the body passes wire's guard
// first: no key given twice (in any case; pg_codes may repeat in a form),
// no text that is not UTF-8 or holds a NUL, no card number anywhere (Ottu
// never takes one), each refusal naming the field.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, *apiError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data", "application/x-www-form-urlencoded":
		var err error
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return nil, bodyError(err, "The form could not be read.")
		}
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll() // attachments are not kept
		}
		return formFields(r.PostForm)
	}
	b, we := wire.ReadBody(w, r, 0)
	var out map[string]any
	if we == nil {
		we = wire.DecodeJSON(b, &out, wire.Rules{Empty: true, UseNumber: true})
	}
	if we != nil {
		return nil, fromWire(we)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// formFields reads a guarded form (or query) into fields: a value that
// looks like a JSON object or list and is one is taken as JSON, guarded too.
func formFields(form url.Values) (map[string]any, *apiError) {
	if we := wire.CheckForm(form, wire.Rules{Repeat: []string{"pg_codes"}}); we != nil {
		return nil, fromWire(we)
	}
	out := map[string]any{}
	for k, vs := range form {
		if len(vs) == 0 {
			continue
		}
		v := vs[0]
		switch {
		case k == "pg_codes" && len(vs) > 1:
			l := make([]any, len(vs))
			for i, s := range vs {
				l[i] = s
			}
			out[k] = l
			continue
		case strings.HasPrefix(strings.TrimSpace(v), "{") || strings.HasPrefix(strings.TrimSpace(v), "["):
			var j any
			if json.Unmarshal([]byte(v), &j) == nil {
				if we := wire.CheckJSON([]byte(v), wire.Rules{}); we != nil {
					if we.Code == wire.CodeSyntax {
						return nil, invalid(k, "Nests too deeply.")
					}
					return nil, fromWire(under(k, we))
				}
				out[k] = j
				continue
			}
		}
		if k == "pg_codes" {
			out[k] = []any{v}
			continue
		}
		out[k] = v
	}
	return out, nil
}

// under puts a guard error found in the JSON of form field k under k.
func under(k string, we *wire.Error) *wire.Error {
	e := *we
	switch {
	case e.Param == "": // a key of the top object: "The request body must not have a key that …."
		e.Param = k
		e.Detail = strings.TrimSuffix(strings.TrimPrefix(e.Detail, "The request body "), ".")
	case strings.HasPrefix(e.Param, "["):
		e.Param = k + e.Param
	default:
		e.Param = k + "." + e.Param
	}
	return &e
}

// fromWire words a refused body in DRF's shape: a field's problem under
// its path ("agreement.id", a list's item by its index), the body's as
// detail.
func fromWire(e *wire.Error) *apiError {
	switch {
	case e.Code == wire.CodeTooLarge:
		return detail(http.StatusRequestEntityTooLarge, "%s", e.Detail)
	case e.Code == wire.CodeSyntax || e.Code == wire.CodeEmpty:
		return detail(http.StatusBadRequest, "JSON parse error: %s", strings.ToLower(e.Detail[:1])+e.Detail[1:])
	case e.Param == "":
		return detail(http.StatusBadRequest, "%s", e.Detail)
	}
	path := strings.NewReplacer("[", ".", "]", "").Replace(e.Param)
	return invalid(path, "%s", worded("", e.Detail))
}

func bodyError(err error, msg string) *apiError {
	if we := wire.BodyError(err); we.Code == wire.CodeTooLarge {
		return fromWire(we)
	}
	return detail(http.StatusBadRequest, "%s", msg)
}

// The dialect's paths, for NotFound's 405.
var routes = []struct {
	prefix, rest string // rest: "" the path itself, "*" one more segment
	allow        string
}{
	{"/ottu/b/checkout/v1/pymt-txn", "", "POST"},
	{"/ottu/b/checkout/v1/pymt-txn", "*", "GET, HEAD"},
	{"/ottu/b/pbl/v2/card", "", "GET, HEAD, POST"},
	{"/ottu/b/pbl/v2/card", "*", "DELETE"},
	{"/ottu/b/pbl/v2/auto-debit", "", "POST"},
}

func allowedMethods(path string) string {
	path = strings.TrimSuffix(path, "/")
	for _, rt := range routes {
		rest, ok := strings.CutPrefix(path, rt.prefix)
		if !ok {
			continue
		}
		if rt.rest == "" && rest == "" {
			return rt.allow
		}
		if rt.rest == "*" && len(rest) > 1 && rest[0] == '/' && !strings.Contains(rest[1:], "/") {
			return rt.allow
		}
	}
	return ""
}

// NotFound answers every request under /ottu that no route takes: 405
// where the path is served with another method, else 404 — never echoing
// the path, which may hold anything a client put there.
func (d *Dialect) NotFound(w http.ResponseWriter, r *http.Request) {
	if allow := allowedMethods(r.URL.Path); allow != "" {
		w.Header().Set("Allow", allow)
		method := r.Method
		if len(method) > 10 {
			method = method[:10]
		}
		writeError(w, detail(http.StatusMethodNotAllowed, "Method %q not allowed.", method))
		return
	}
	writeError(w, errNotFound)
}
