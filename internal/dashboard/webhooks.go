package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// recentEvents is how many of the newest events the webhooks page shows
// with their deliveries.
const recentEvents = 25

// webhooksView is the webhooks page's data.
type webhooksView struct {
	Endpoints []payment.WebhookEndpointView
	Events    []payment.EventView // newest first, each with its deliveries
	Notice    string
}

// webhooks shows the endpoints and the newest events' deliveries, each
// attempt with its status, latency and error.
func (d *Dashboard) webhooks(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	mid := su.user.MerchantID
	eps, err := d.svc.ListWebhookEndpoints(r.Context(), mid)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	evs, _, err := d.svc.ListEvents(r.Context(), mid, store.EventFilter{Limit: recentEvents})
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := webhooksView{Endpoints: eps}
	for _, e := range evs {
		full, err := d.svc.GetEvent(r.Context(), mid, e.ID)
		if err != nil {
			d.failed(w, r, err)
			return
		}
		if len(full.Deliveries) > 0 {
			v.Events = append(v.Events, full)
		}
	}
	if ev := r.FormValue("redelivered"); strings.HasPrefix(ev, "evt_") {
		v.Notice = "Event " + ev + " is being redelivered."
	}
	d.render(w, r, http.StatusOK, webhooksTmpl, layoutData{Title: "Webhooks", Nav: "webhooks", User: su.user, CSRF: su.csrf, Page: v})
}

// redeliver sends an event again to every endpoint that wants it, with
// the redelivery the API offers (POST /v1/events/{id}/redeliver).
func (d *Dashboard) redeliver(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	ev, err := d.svc.RedeliverEvent(r.Context(), su.user.MerchantID, r.PathValue("id"))
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.redeliver", ev.ID, "")
	http.Redirect(w, r, "/dashboard/webhooks?redelivered="+url.QueryEscape(ev.ID), http.StatusSeeOther)
}
