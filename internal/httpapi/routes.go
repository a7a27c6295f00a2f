package httpapi

import "net/http"

// access is who may call a route; routes applies the middleware it names,
// so that a route cannot be listed without saying how it is guarded.
type access int

const (
	// open routes take no API key: health checks, the OpenAPI document,
	// the card holder's pages (the unguessable id in the path is the only
	// credential), the session stream (which authenticates itself: a
	// secret or restricted key, or the client secret) and the
	// unknown-route answer.
	open access = iota
	// secretKey routes need the merchant's secret key, or a restricted key
	// with the route's scope (a.merchant).
	secretKey
	// sessionClient routes take the secret key, or the publishable key
	// with the session's client_secret (a.sessionClient).
	sessionClient
)

// route is one line of the native API's table.
type route struct {
	pattern string
	access  access
	// idempotent routes honour Idempotency-Key (every POST under /v1).
	idempotent bool
	// scope is what a key must hold to call the route: restricted keys
	// hold a list (payment.Scopes), secret keys every scope; the keys:
	// scopes (payment.KeyScopes) only the current secret key. Every /v1
	// route names one, open ones too when they take a key themselves.
	scope   string
	handler http.HandlerFunc
}

// noScope marks the routes that take no API key.
const noScope = ""

// table lists every route of the native API in one place. Dialects are
// not here: app mounts each one's own routes (Config.Mount).
func (a *API) table() []route {
	const idem = true
	acc, tok, pay, ses, evt := accountHandlers{a}, tokenHandlers{a}, paymentHandlers{a}, sessionHandlers{a}, eventHandlers{a}
	key := keyHandlers{a}
	rs := []route{
		{"GET /healthz", open, false, noScope, a.healthz},
		{"GET /readyz", open, false, noScope, a.readyz},
		{"GET /openapi.yaml", open, false, noScope, a.openAPI},

		{"GET /v1/merchant", secretKey, false, "merchant:read", acc.getMerchant},
		{"PATCH /v1/merchant", secretKey, false, "merchant:write", acc.updateMerchant},
		{"GET /v1/merchant/keys", secretKey, false, "keys:read", key.listMerchantKeys},
		{"POST /v1/merchant/keys/roll", secretKey, idem, "keys:write", key.rollKey},

		{"POST /v1/api_keys", secretKey, idem, "keys:write", key.createAPIKey},
		{"GET /v1/api_keys", secretKey, false, "keys:read", key.listAPIKeys},
		{"DELETE /v1/api_keys/{id}", secretKey, false, "keys:write", key.deleteAPIKey},

		{"POST /v1/customers", secretKey, idem, "customers:write", acc.createCustomer},
		{"GET /v1/customers", secretKey, false, "customers:read", acc.findCustomers},
		{"GET /v1/customers/{id}", secretKey, false, "customers:read", acc.getCustomer},
		{"DELETE /v1/customers/{id}", secretKey, false, "customers:write", acc.deleteCustomer},

		{"POST /v1/tokens", secretKey, idem, "tokens:write", tok.createToken},
		{"POST /v1/tokens/batch", secretKey, idem, "tokens:write", tok.createTokens},
		{"GET /v1/tokens", secretKey, false, "tokens:read", tok.listTokens},
		{"GET /v1/tokens/{id}", secretKey, false, "tokens:read", tok.getToken},
		{"GET /v1/tokens/{id}/audit", secretKey, false, "tokens:read", tok.tokenAudit},
		{"POST /v1/tokens/{id}/disable", secretKey, idem, "tokens:write", tok.disableToken},
		{"POST /v1/tokens/{id}/enable", secretKey, idem, "tokens:write", tok.enableToken},
		{"POST /v1/tokens/{id}/validate", secretKey, idem, "tokens:write", tok.validateToken},
		{"DELETE /v1/tokens/{id}", secretKey, false, "tokens:write", tok.deleteToken},
		{"POST /v1/relay", secretKey, idem, "relay:write", relayHandlers{a}.relay},

		{"POST /v1/payments", secretKey, idem, "payments:write", pay.createPayment},
		{"GET /v1/payments", secretKey, false, "payments:read", pay.listPayments},
		{"GET /v1/payments/{id}", secretKey, false, "payments:read", pay.getPayment},
		{"POST /v1/payments/{id}/capture", secretKey, idem, "payments:write", pay.capturePayment},
		{"POST /v1/payments/{id}/cancel", secretKey, idem, "payments:write", pay.cancelPayment},
		{"POST /v1/payments/{id}/refunds", secretKey, idem, "payments:write", pay.refundPayment},
		{"GET /v1/payments/{id}/refunds", secretKey, false, "payments:read", pay.listRefunds},

		{"POST /v1/sessions", secretKey, idem, "sessions:write", ses.createSession},
		{"GET /v1/sessions/{id}", secretKey, false, "sessions:read", ses.getSession},
		{"POST /v1/sessions/{id}/cancel", secretKey, idem, "sessions:write", ses.cancelSession},
		{"POST /v1/sessions/{id}/confirm", sessionClient, idem, "sessions:write", ses.confirmSession},
		{"GET /v1/sessions/{id}/stream", open, false, "sessions:read", ses.sessionStream},

		{"POST /v1/webhook_endpoints", secretKey, idem, "webhooks:write", evt.createWebhookEndpoint},
		{"GET /v1/webhook_endpoints", secretKey, false, "webhooks:read", evt.listWebhookEndpoints},
		{"GET /v1/webhook_endpoints/{id}", secretKey, false, "webhooks:read", evt.getWebhookEndpoint},
		{"DELETE /v1/webhook_endpoints/{id}", secretKey, false, "webhooks:write", evt.deleteWebhookEndpoint},
		{"POST /v1/webhook_endpoints/{id}/rotate_secret", secretKey, idem, "webhooks:write", evt.rotateWebhookSecret},

		{"POST /v1/device_keys", secretKey, idem, "keys:write", acc.createDeviceKey},
		{"GET /v1/device_keys", secretKey, false, "keys:read", acc.listDeviceKeys},
		{"DELETE /v1/device_keys/{id}", secretKey, false, "keys:write", acc.revokeDeviceKey},

		{"POST /v1/processor_accounts", secretKey, idem, "processor_accounts:write", acc.createProcessorAccount},
		{"GET /v1/processor_accounts", secretKey, false, "processor_accounts:read", acc.listProcessorAccounts},
		{"GET /v1/processor_accounts/{id}", secretKey, false, "processor_accounts:read", acc.getProcessorAccount},
		{"DELETE /v1/processor_accounts/{id}", secretKey, false, "processor_accounts:write", acc.deleteProcessorAccount},

		{"GET /v1/events", secretKey, false, "events:read", evt.listEvents},
		{"GET /v1/events/{id}", secretKey, false, "events:read", evt.getEvent},
		{"POST /v1/events/{id}/redeliver", secretKey, idem, "events:write", evt.redeliverEvent},

		{"/", open, false, noScope, a.notFoundRoute},
	}
	if a.pages == nil {
		return rs
	}
	// Card holders' pages.
	return append(rs, []route{
		{"GET /3ds/{id}", open, false, noScope, a.pages.Challenge},
		{"POST /3ds/{id}", open, false, noScope, a.pages.Challenge},
		{"GET /pay/{id}", open, false, noScope, a.pages.Checkout},
		{"POST /pay/{id}/confirm", open, false, noScope, a.pages.CheckoutConfirm},
		{"GET /pay/{id}/return", open, false, noScope, a.pages.CheckoutReturn},
		{"POST /pay/{id}/cancel", open, false, noScope, a.pages.CheckoutCancel},
		{"GET /pay/{id}/qr.png", open, false, noScope, a.pages.CheckoutQR},
		{"GET /assets/checkout.js", open, false, noScope, a.pages.Asset},
		// The drop-in card fields: the script a merchant's page loads and
		// the Coffer-served frame of each field.
		{"GET /v1/coffer.js", open, false, noScope, a.pages.CofferJS},
		{"GET /v1/fields/{field}", open, false, noScope, a.pages.Field},
	}...)
}

// routes registers the table on mux, each route behind the middleware its
// access and idempotency name.
func (a *API) routes(mux *http.ServeMux) {
	for _, rt := range a.table() {
		h := rt.handler
		if rt.idempotent {
			h = a.idempotent(h)
		}
		switch rt.access {
		case secretKey:
			mux.Handle(rt.pattern, a.merchant(rt.scope, h))
		case sessionClient:
			mux.Handle(rt.pattern, a.sessionClient(rt.scope, h))
		default:
			mux.Handle(rt.pattern, h)
		}
	}
}
