package httpapi

import "net/http"

// access is who may call a route; routes applies the middleware it names,
// so that a route cannot be listed without saying how it is guarded.
type access int

const (
	// open routes take no API key: health checks, the OpenAPI document,
	// the card holder's pages (the unguessable id in the path is the only
	// credential), the session stream (which authenticates itself: a
	// secret key or the client secret) and the unknown-route answer.
	open access = iota
	// secretKey routes need the merchant's secret key (a.merchant).
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
	handler    http.HandlerFunc
}

// table lists every route of the native API in one place. Dialects are
// not here: app mounts each one's own routes (Config.Mount).
func (a *API) table() []route {
	const idem = true
	acc, tok, pay, ses, evt := accountHandlers{a}, tokenHandlers{a}, paymentHandlers{a}, sessionHandlers{a}, eventHandlers{a}
	rs := []route{
		{"GET /healthz", open, false, a.healthz},
		{"GET /readyz", open, false, a.readyz},
		{"GET /openapi.yaml", open, false, a.openAPI},

		{"GET /v1/merchant", secretKey, false, acc.getMerchant},
		{"PATCH /v1/merchant", secretKey, false, acc.updateMerchant},

		{"POST /v1/customers", secretKey, idem, acc.createCustomer},
		{"GET /v1/customers", secretKey, false, acc.findCustomers},
		{"GET /v1/customers/{id}", secretKey, false, acc.getCustomer},
		{"DELETE /v1/customers/{id}", secretKey, false, acc.deleteCustomer},

		{"POST /v1/tokens", secretKey, idem, tok.createToken},
		{"POST /v1/tokens/batch", secretKey, idem, tok.createTokens},
		{"GET /v1/tokens", secretKey, false, tok.listTokens},
		{"GET /v1/tokens/{id}", secretKey, false, tok.getToken},
		{"GET /v1/tokens/{id}/audit", secretKey, false, tok.tokenAudit},
		{"POST /v1/tokens/{id}/disable", secretKey, idem, tok.disableToken},
		{"POST /v1/tokens/{id}/enable", secretKey, idem, tok.enableToken},
		{"POST /v1/tokens/{id}/validate", secretKey, idem, tok.validateToken},
		{"DELETE /v1/tokens/{id}", secretKey, false, tok.deleteToken},
		{"POST /v1/relay", secretKey, idem, relayHandlers{a}.relay},

		{"POST /v1/payments", secretKey, idem, pay.createPayment},
		{"GET /v1/payments", secretKey, false, pay.listPayments},
		{"GET /v1/payments/{id}", secretKey, false, pay.getPayment},
		{"POST /v1/payments/{id}/capture", secretKey, idem, pay.capturePayment},
		{"POST /v1/payments/{id}/cancel", secretKey, idem, pay.cancelPayment},
		{"POST /v1/payments/{id}/refunds", secretKey, idem, pay.refundPayment},
		{"GET /v1/payments/{id}/refunds", secretKey, false, pay.listRefunds},

		{"POST /v1/sessions", secretKey, idem, ses.createSession},
		{"GET /v1/sessions/{id}", secretKey, false, ses.getSession},
		{"POST /v1/sessions/{id}/cancel", secretKey, idem, ses.cancelSession},
		{"POST /v1/sessions/{id}/confirm", sessionClient, idem, ses.confirmSession},
		{"GET /v1/sessions/{id}/stream", open, false, ses.sessionStream},

		{"POST /v1/webhook_endpoints", secretKey, idem, evt.createWebhookEndpoint},
		{"GET /v1/webhook_endpoints", secretKey, false, evt.listWebhookEndpoints},
		{"GET /v1/webhook_endpoints/{id}", secretKey, false, evt.getWebhookEndpoint},
		{"DELETE /v1/webhook_endpoints/{id}", secretKey, false, evt.deleteWebhookEndpoint},
		{"POST /v1/webhook_endpoints/{id}/rotate_secret", secretKey, idem, evt.rotateWebhookSecret},

		{"POST /v1/device_keys", secretKey, idem, acc.createDeviceKey},
		{"GET /v1/device_keys", secretKey, false, acc.listDeviceKeys},
		{"DELETE /v1/device_keys/{id}", secretKey, false, acc.revokeDeviceKey},

		{"POST /v1/processor_accounts", secretKey, idem, acc.createProcessorAccount},
		{"GET /v1/processor_accounts", secretKey, false, acc.listProcessorAccounts},
		{"GET /v1/processor_accounts/{id}", secretKey, false, acc.getProcessorAccount},
		{"DELETE /v1/processor_accounts/{id}", secretKey, false, acc.deleteProcessorAccount},

		{"GET /v1/events", secretKey, false, evt.listEvents},
		{"GET /v1/events/{id}", secretKey, false, evt.getEvent},
		{"POST /v1/events/{id}/redeliver", secretKey, idem, evt.redeliverEvent},

		{"/", open, false, a.notFoundRoute},
	}
	if a.pages == nil {
		return rs
	}
	// Card holders' pages.
	return append(rs, []route{
		{"GET /3ds/{id}", open, false, a.pages.Challenge},
		{"POST /3ds/{id}", open, false, a.pages.Challenge},
		{"GET /pay/{id}", open, false, a.pages.Checkout},
		{"POST /pay/{id}/confirm", open, false, a.pages.CheckoutConfirm},
		{"GET /pay/{id}/return", open, false, a.pages.CheckoutReturn},
		{"POST /pay/{id}/cancel", open, false, a.pages.CheckoutCancel},
		{"GET /pay/{id}/qr.png", open, false, a.pages.CheckoutQR},
		{"GET /assets/checkout.js", open, false, a.pages.Asset},
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
			mux.Handle(rt.pattern, a.merchant(h))
		case sessionClient:
			mux.Handle(rt.pattern, a.sessionClient(h))
		default:
			mux.Handle(rt.pattern, h)
		}
	}
}
