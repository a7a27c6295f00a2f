package httpapi

import "net/http"

// access is who may call a route; routes applies the middleware it names,
// so that a route cannot be listed without saying how it is guarded.
type access int

const (
	// open routes take no API key: health checks, the card holder's pages
	// (the unguessable id in the path is the only credential), the session
	// stream (which authenticates itself: a secret key or the client
	// secret) and the unknown-route answer.
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
	rs := []route{
		{"GET /healthz", open, false, a.healthz},
		{"GET /readyz", open, false, a.readyz},

		{"GET /v1/merchant", secretKey, false, a.getMerchant},
		{"PATCH /v1/merchant", secretKey, false, a.updateMerchant},

		{"POST /v1/customers", secretKey, idem, a.createCustomer},
		{"GET /v1/customers", secretKey, false, a.findCustomers},
		{"GET /v1/customers/{id}", secretKey, false, a.getCustomer},
		{"DELETE /v1/customers/{id}", secretKey, false, a.deleteCustomer},

		{"POST /v1/tokens", secretKey, idem, a.createToken},
		{"POST /v1/tokens/batch", secretKey, idem, a.createTokens},
		{"GET /v1/tokens", secretKey, false, a.listTokens},
		{"GET /v1/tokens/{id}", secretKey, false, a.getToken},
		{"GET /v1/tokens/{id}/audit", secretKey, false, a.tokenAudit},
		{"POST /v1/tokens/{id}/disable", secretKey, idem, a.disableToken},
		{"POST /v1/tokens/{id}/enable", secretKey, idem, a.enableToken},
		{"POST /v1/tokens/{id}/validate", secretKey, idem, a.validateToken},
		{"DELETE /v1/tokens/{id}", secretKey, false, a.deleteToken},

		{"POST /v1/payments", secretKey, idem, a.createPayment},
		{"GET /v1/payments", secretKey, false, a.listPayments},
		{"GET /v1/payments/{id}", secretKey, false, a.getPayment},
		{"POST /v1/payments/{id}/capture", secretKey, idem, a.capturePayment},
		{"POST /v1/payments/{id}/cancel", secretKey, idem, a.cancelPayment},
		{"POST /v1/payments/{id}/refunds", secretKey, idem, a.refundPayment},
		{"GET /v1/payments/{id}/refunds", secretKey, false, a.listRefunds},

		{"POST /v1/sessions", secretKey, idem, a.createSession},
		{"GET /v1/sessions/{id}", secretKey, false, a.getSession},
		{"POST /v1/sessions/{id}/cancel", secretKey, idem, a.cancelSession},
		{"POST /v1/sessions/{id}/confirm", sessionClient, idem, a.confirmSession},
		{"GET /v1/sessions/{id}/stream", open, false, a.sessionStream},

		{"POST /v1/webhook_endpoints", secretKey, idem, a.createWebhookEndpoint},
		{"GET /v1/webhook_endpoints", secretKey, false, a.listWebhookEndpoints},
		{"GET /v1/webhook_endpoints/{id}", secretKey, false, a.getWebhookEndpoint},
		{"DELETE /v1/webhook_endpoints/{id}", secretKey, false, a.deleteWebhookEndpoint},
		{"POST /v1/webhook_endpoints/{id}/rotate_secret", secretKey, idem, a.rotateWebhookSecret},

		{"POST /v1/device_keys", secretKey, idem, a.createDeviceKey},
		{"GET /v1/device_keys", secretKey, false, a.listDeviceKeys},
		{"DELETE /v1/device_keys/{id}", secretKey, false, a.revokeDeviceKey},

		{"GET /v1/events", secretKey, false, a.listEvents},
		{"GET /v1/events/{id}", secretKey, false, a.getEvent},
		{"POST /v1/events/{id}/redeliver", secretKey, idem, a.redeliverEvent},

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
