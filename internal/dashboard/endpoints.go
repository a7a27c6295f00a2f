package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
)

var (
	endpointsTmpl      = page("endpoints.html")
	endpointSecretTmpl = page("endpoint_secret.html")
)

// endpointsView is the webhook endpoints page's data: the list and the
// form that adds one (its values kept when refused).
type endpointsView struct {
	Endpoints   []payment.WebhookEndpointView
	EventTypes  []string // what the form offers besides "*"
	URL         string
	Description string
	Chosen      []string
	Error       string
	ErrorField  string // the API's param at fault, to mark its input
	Notice      string
}

// Has reports whether the form had ev ticked.
func (v endpointsView) Has(ev string) bool { return slices.Contains(v.Chosen, ev) }

// endpointSecretView is the answer to a creation or a rotation: the only
// page that ever shows the signing secret.
type endpointSecretView struct {
	Endpoint payment.WebhookEndpointView
	Rotated  bool
}

// endpoints lists the webhook endpoints with the form that adds one.
func (d *Dashboard) endpoints(w http.ResponseWriter, r *http.Request) {
	v := endpointsView{Notice: doneNotice(r, "we_", map[string]string{"delete": "Endpoint %s deleted: it gets no more deliveries."})}
	d.showEndpoints(w, r, http.StatusOK, v)
}

func (d *Dashboard) showEndpoints(w http.ResponseWriter, r *http.Request, status int, v endpointsView) {
	su := userOf(r)
	eps, err := d.svc.ListWebhookEndpoints(r.Context(), su.user.MerchantID)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v.Endpoints, v.EventTypes = eps, payment.EventTypes
	d.render(w, r, status, endpointsTmpl, layoutData{Title: "Webhook endpoints", Nav: "webhooks", User: su.user, CSRF: su.csrf, Page: v})
}

// createEndpoint adds an endpoint through the service the API's POST
// /v1/webhook_endpoints uses, and answers with its secret, once.
func (d *Dashboard) createEndpoint(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	p := payment.WebhookEndpointParams{URL: strings.TrimSpace(r.PostFormValue("url")), Events: r.PostForm["events"],
		Description: strings.TrimSpace(r.PostFormValue("description"))}
	m, err := d.svc.GetMerchant(r.Context(), su.user.MerchantID)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	ep, err := d.svc.CreateWebhookEndpoint(r.Context(), m, p)
	var pe *payment.Error
	if errors.As(err, &pe) {
		d.showEndpoints(w, r, pe.Kind.HTTPStatus(), endpointsView{URL: p.URL, Description: p.Description, Chosen: p.Events,
			Error: pe.Message, ErrorField: pe.Param})
		return
	}
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, m.ID, su.user.ID, "dashboard.webhook_endpoint_create", ep.ID, ep.URL)
	d.render(w, r, http.StatusOK, endpointSecretTmpl, layoutData{Title: "Endpoint " + ep.ID, Nav: "webhooks", User: su.user, CSRF: su.csrf,
		Page: endpointSecretView{Endpoint: ep}})
}

// rotateEndpoint gives an endpoint a new secret (the old one signs beside
// it for payment.SecretRotationGrace) and shows it, once.
func (d *Dashboard) rotateEndpoint(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	ep, err := d.svc.RotateWebhookSecret(r.Context(), su.user.MerchantID, r.PathValue("id"))
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.webhook_secret_rotate", ep.ID, "")
	d.render(w, r, http.StatusOK, endpointSecretTmpl, layoutData{Title: "Endpoint " + ep.ID, Nav: "webhooks", User: su.user, CSRF: su.csrf,
		Page: endpointSecretView{Endpoint: ep, Rotated: true}})
}

// deleteEndpoint stops an endpoint once confirmed.
func (d *Dashboard) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	mid, eid := su.user.MerchantID, r.PathValue("id")
	if r.PostFormValue("confirm") != "yes" {
		d.renderError(w, r, http.StatusBadRequest, "Not deleted", "Tick the confirmation (confirm) to delete an endpoint.")
		return
	}
	if err := d.svc.DeleteWebhookEndpoint(r.Context(), mid, eid); err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, mid, su.user.ID, "dashboard.webhook_endpoint_delete", eid, "")
	http.Redirect(w, r, "/dashboard/webhooks/endpoints?"+url.Values{"done": {"delete"}, "ref": {eid}}.Encode(), http.StatusSeeOther)
}
