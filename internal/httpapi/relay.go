package httpapi

import (
	"errors"
	"net/http"

	"github.com/coffer-vault/coffer/internal/relay"
)

// relayHandlers: the outbound relay, which sends a vaulted card to an
// allowlisted third-party API.
type relayHandlers struct{ *API }

// relay answers POST /v1/relay: {"url","method","headers","body"} with
// placeholders for cards → the destination's {status, headers, body}, card
// numbers masked. The body is read by the one strict decoder, which refuses
// a card number in clear anywhere in it: cards come in as placeholders only.
func (a relayHandlers) relay(w http.ResponseWriter, r *http.Request) {
	var req relay.Request
	if e := decode(r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	res, err := a.svc.Relay(r.Context(), merchantOf(r), req)
	if err != nil {
		var re *relay.Error
		if errors.As(err, &re) {
			writeError(w, relayError(re))
			return
		}
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, res)
}

// relayError words a relay refusal in the native envelope: the client's
// request (400, 403) or the destination's failure (502, 504).
func relayError(e *relay.Error) *apiError {
	typ := "invalid_request_error"
	if e.Status >= 500 {
		typ = "api_error"
	}
	return &apiError{status: e.Status, Type: typ, Code: e.Code, Param: e.Param, Message: e.Message}
}
