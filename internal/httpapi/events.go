package httpapi

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

func (a eventHandlers) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var p payment.WebhookEndpointParams
	if e := decode(r, &p, false); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CreateWebhookEndpoint(r.Context(), merchantOf(r), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

func (a eventHandlers) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.ListWebhookEndpoints(r.Context(), merchantOf(r).ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, false))
}

func (a eventHandlers) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetWebhookEndpoint(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a eventHandlers) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.svc.DeleteWebhookEndpoint(r.Context(), merchantOf(r).ID, id); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"id": id, "object": "webhook_endpoint", "deleted": true})
}

func (a eventHandlers) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.RotateWebhookSecret(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a eventHandlers) listEvents(w http.ResponseWriter, r *http.Request) {
	limit, after, e := pageParams(r)
	if e != nil {
		writeError(w, e)
		return
	}
	q := r.URL.Query()
	v, more, err := a.svc.ListEvents(r.Context(), merchantOf(r).ID,
		store.EventFilter{Type: q.Get("type"), ObjectID: q.Get("object"), StartingAfter: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, more))
}

func (a eventHandlers) getEvent(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetEvent(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a eventHandlers) redeliverEvent(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.RedeliverEvent(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}
