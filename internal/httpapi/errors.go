package httpapi

import (
	"errors"
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// apiError is API.md's error envelope body.
type apiError struct {
	status      int
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	Message     string `json:"message"`
	Param       string `json:"param,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	Payment     any    `json:"payment,omitempty"`
	retryAfter  string // Retry-After header of a 429
}

func invalidParam(param, msg string) *apiError {
	return &apiError{status: 400, Type: "invalid_request_error", Code: "parameter_invalid", Param: param, Message: msg}
}

// writeError answers e in the native envelope, its message and param
// cleaned of digit runs: no error echoes what could be a card number.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	e.clean()
	writeJSON(w, e.status, map[string]any{"error": e})
}

// clean passes the client-visible texts through wire's sanitizer; batch
// items, which are not written by writeError, call it too.
func (e *apiError) clean() {
	e.Message, e.Param = wire.Clean(e.Message), wire.Clean(e.Param)
}

// kindType is the error type of each kind in the native envelope.
var kindType = map[payment.Kind]string{
	payment.KindInvalidRequest: "invalid_request_error",
	payment.KindCard:           "card_error",
	payment.KindNotFound:       "not_found",
	payment.KindConflict:       "invalid_request_error",
	payment.KindInvalidState:   "invalid_request_error",
	payment.KindUpstream:       "api_error",
	payment.KindRateLimit:      "rate_limit_error",
}

// toAPIError maps a domain error; anything unexpected is a 500 whose details
// go to the log only.
func toAPIError(err error) (*apiError, bool) {
	var pe *payment.Error
	if errors.As(err, &pe) {
		ae := &apiError{status: pe.Kind.HTTPStatus(), Type: kindType[pe.Kind], Code: pe.Code, Message: pe.Message, Param: pe.Param, DeclineCode: pe.DeclineCode}
		if pe.Payment != nil {
			ae.Payment = pe.Payment
		}
		ae.retryAfter = payment.RetryAfterSeconds(pe)
		return ae, true
	}
	return nil, false
}

// fail answers err. Unexpected errors are logged with the request id and
// answered generically, so internals never reach the client.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if ae, ok := toAPIError(err); ok {
		writeError(w, ae)
		return
	}
	if errors.Is(err, store.ErrContention) {
		// Retryable, and not frozen under an Idempotency-Key (see idempotent).
		writeError(w, &apiError{status: 409, Type: "invalid_request_error", Code: "operation_in_progress",
			Message: "Too many concurrent changes to the same object; retry shortly."})
		return
	}
	a.log.Error("request failed", "request_id", payment.RequestID(r.Context()), "path", r.URL.Path, "error", err.Error())
	writeError(w, &apiError{status: 500, Type: "api_error", Code: "internal_error", Message: "Internal error; the request id identifies it in the logs."})
}
