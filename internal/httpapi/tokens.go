package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

func (a tokenHandlers) createToken(w http.ResponseWriter, r *http.Request) {
	var p payment.TokenParams
	if e := decode(r, &p, false, "card.number", "encrypted_card"); e != nil {
		writeError(w, e)
		return
	}
	t, created, view, err := a.svc.CreateTokenRendered(r.Context(), merchantOf(r), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := 200
	if created {
		status = 201
	}
	if view != nil {
		wire.WriteJSONBytes(w, status, view) // the token.created event's own rendering
		return
	}
	writeJSON(w, status, a.viewToken(t))
}

// batchRequest carries up to 100 cards; customer, verify and three_d_secure
// apply to every card.
type batchRequest struct {
	Cards        []payment.CardInput `json:"cards"`
	Customer     string              `json:"customer"`
	Verify       *bool               `json:"verify"`
	ThreeDSecure string              `json:"three_d_secure"`
}

type batchItem struct {
	Token *payment.TokenView `json:"token,omitempty"`
	Error *apiError          `json:"error,omitempty"`
}

func (a tokenHandlers) createTokens(w http.ResponseWriter, r *http.Request) {
	var req batchRequest
	if e := decode(r, &req, false, "cards[].number"); e != nil {
		writeError(w, e)
		return
	}
	if len(req.Cards) == 0 || len(req.Cards) > payment.MaxBatch {
		writeError(w, invalidParam("cards", "cards must hold 1 to 100 cards."))
		return
	}
	items := make([]payment.TokenParams, len(req.Cards))
	for i := range req.Cards {
		items[i] = payment.TokenParams{Card: &req.Cards[i], Customer: req.Customer, Verify: req.Verify, ThreeDSecure: req.ThreeDSecure}
	}
	res := a.svc.CreateTokens(r.Context(), merchantOf(r), items)
	out := make([]batchItem, len(res))
	for i, it := range res {
		if it.Err != nil {
			ae, ok := toAPIError(it.Err)
			if !ok {
				a.log.Error("batch item failed", "request_id", payment.RequestID(r.Context()), "index", i, "error", it.Err.Error())
				ae = &apiError{status: 500, Type: "api_error", Code: "internal_error", Message: "Internal error."}
			}
			if ae.Param != "" {
				ae.Param = "cards[" + strconv.Itoa(i) + "]." + trimCardPrefix(ae.Param)
			}
			if ae.retryAfter != "" {
				// Items answer on their own; the header tells a client
				// that some were refused for card testing, and when to retry.
				w.Header().Set("Retry-After", ae.retryAfter)
			}
			ae.clean()
			out[i].Error = ae
			continue
		}
		v := a.viewToken(it.Token)
		out[i].Token = &v
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": out})
}

func trimCardPrefix(p string) string {
	if len(p) > 5 && p[:5] == "card." {
		return p[5:]
	}
	return p
}

func (a tokenHandlers) listTokens(w http.ResponseWriter, r *http.Request) {
	limit, after, e := pageParams(r)
	if e != nil {
		writeError(w, e)
		return
	}
	toks, more, err := a.svc.ListTokens(r.Context(), merchantOf(r).ID,
		store.TokenFilter{CustomerID: r.URL.Query().Get("customer"), StartingAfter: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(a.viewTokens(toks), more))
}

func (a tokenHandlers) getToken(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.GetToken(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, a.viewToken(t))
}

func (a tokenHandlers) tokenAudit(w http.ResponseWriter, r *http.Request) {
	m := merchantOf(r)
	if _, err := a.svc.GetToken(r.Context(), m.ID, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	recs, err := a.svc.AuditTrail(r.Context(), m.ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	type auditView struct {
		ID        string `json:"id"`
		Action    string `json:"action"`
		Purpose   string `json:"purpose"`
		RequestID string `json:"request_id"`
		Created   string `json:"created"`
	}
	out := make([]auditView, 0, len(recs))
	for _, a := range recs {
		out = append(out, auditView{a.ID, a.Action, a.Purpose, a.RequestID, a.Created.Format("2006-01-02T15:04:05.000000Z07:00")})
	}
	writeJSON(w, 200, list(out, false))
}

func (a tokenHandlers) disableToken(w http.ResponseWriter, r *http.Request) {
	a.tokenStatus(w, r, a.svc.DisableToken)
}

func (a tokenHandlers) enableToken(w http.ResponseWriter, r *http.Request) {
	a.tokenStatus(w, r, a.svc.EnableToken)
}

func (a tokenHandlers) tokenStatus(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, m, t string) (*store.Token, error)) {
	if e := decode(r, &struct{}{}, true); e != nil {
		writeError(w, e)
		return
	}
	t, err := op(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, a.viewToken(t))
}

func (a tokenHandlers) validateToken(w http.ResponseWriter, r *http.Request) {
	var p struct {
		CVC string `json:"cvc"`
	}
	if e := decode(r, &p, true); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.ValidateToken(r.Context(), merchantOf(r), r.PathValue("id"), p.CVC)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a tokenHandlers) deleteToken(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("id")
	if err := a.svc.DeleteToken(r.Context(), merchantOf(r).ID, tid); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"id": tid, "object": "token", "deleted": true})
}
