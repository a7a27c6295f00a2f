package httpapi

import (
	"errors"
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
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
}

func invalidParam(param, msg string) *apiError {
	return &apiError{status: 400, Type: "invalid_request_error", Code: "parameter_invalid", Param: param, Message: msg}
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]any{"error": e})
}

var kindStatus = map[payment.Kind]struct {
	status int
	typ    string
}{
	payment.KindInvalidRequest: {400, "invalid_request_error"},
	payment.KindCard:           {402, "card_error"},
	payment.KindNotFound:       {404, "not_found"},
	payment.KindConflict:       {409, "invalid_request_error"},
	payment.KindInvalidState:   {422, "invalid_request_error"},
	payment.KindUpstream:       {502, "api_error"},
}

// toAPIError maps a domain error; anything unexpected is a 500 whose details
// go to the log only.
func toAPIError(err error) (*apiError, bool) {
	var pe *payment.Error
	if errors.As(err, &pe) {
		ks := kindStatus[pe.Kind]
		ae := &apiError{status: ks.status, Type: ks.typ, Code: pe.Code, Message: pe.Message, Param: pe.Param, DeclineCode: pe.DeclineCode}
		if pe.Payment != nil {
			ae.Payment = pe.Payment
		}
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
