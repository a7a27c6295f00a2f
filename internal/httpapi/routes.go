package httpapi

import "net/http"

// routes lists every route of the native API in one place.
func (a *API) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)

	mux.Handle("GET /v1/merchant", a.merchant(a.getMerchant))
	mux.Handle("PATCH /v1/merchant", a.merchant(a.updateMerchant))

	mux.Handle("POST /v1/customers", a.merchant(a.idempotent(a.createCustomer)))
	mux.Handle("GET /v1/customers", a.merchant(a.findCustomers))
	mux.Handle("GET /v1/customers/{id}", a.merchant(a.getCustomer))
	mux.Handle("DELETE /v1/customers/{id}", a.merchant(a.deleteCustomer))

	mux.Handle("POST /v1/tokens", a.merchant(a.idempotent(a.createToken)))
	mux.Handle("POST /v1/tokens/batch", a.merchant(a.idempotent(a.createTokens)))
	mux.Handle("GET /v1/tokens", a.merchant(a.listTokens))
	mux.Handle("GET /v1/tokens/{id}", a.merchant(a.getToken))
	mux.Handle("GET /v1/tokens/{id}/audit", a.merchant(a.tokenAudit))
	mux.Handle("POST /v1/tokens/{id}/disable", a.merchant(a.idempotent(a.disableToken)))
	mux.Handle("POST /v1/tokens/{id}/enable", a.merchant(a.idempotent(a.enableToken)))
	mux.Handle("POST /v1/tokens/{id}/validate", a.merchant(a.idempotent(a.validateToken)))
	mux.Handle("DELETE /v1/tokens/{id}", a.merchant(a.deleteToken))

	mux.Handle("POST /v1/payments", a.merchant(a.idempotent(a.createPayment)))
	mux.Handle("GET /v1/payments", a.merchant(a.listPayments))
	mux.Handle("GET /v1/payments/{id}", a.merchant(a.getPayment))
	mux.Handle("POST /v1/payments/{id}/capture", a.merchant(a.idempotent(a.capturePayment)))
	mux.Handle("POST /v1/payments/{id}/cancel", a.merchant(a.idempotent(a.cancelPayment)))
	mux.Handle("POST /v1/payments/{id}/refunds", a.merchant(a.idempotent(a.refundPayment)))
	mux.Handle("GET /v1/payments/{id}/refunds", a.merchant(a.listRefunds))

	mux.Handle("POST /v1/sessions", a.merchant(a.idempotent(a.createSession)))
	mux.Handle("GET /v1/sessions/{id}", a.merchant(a.getSession))
	mux.Handle("POST /v1/sessions/{id}/cancel", a.merchant(a.idempotent(a.cancelSession)))
	mux.Handle("POST /v1/sessions/{id}/confirm", a.sessionClient(a.idempotent(a.confirmSession)))
	mux.HandleFunc("GET /v1/sessions/{id}/stream", a.sessionStream)

	mux.Handle("POST /v1/webhook_endpoints", a.merchant(a.idempotent(a.createWebhookEndpoint)))
	mux.Handle("GET /v1/webhook_endpoints", a.merchant(a.listWebhookEndpoints))
	mux.Handle("GET /v1/webhook_endpoints/{id}", a.merchant(a.getWebhookEndpoint))
	mux.Handle("DELETE /v1/webhook_endpoints/{id}", a.merchant(a.deleteWebhookEndpoint))
	mux.Handle("POST /v1/webhook_endpoints/{id}/rotate_secret", a.merchant(a.idempotent(a.rotateWebhookSecret)))

	mux.Handle("POST /v1/device_keys", a.merchant(a.idempotent(a.createDeviceKey)))
	mux.Handle("GET /v1/device_keys", a.merchant(a.listDeviceKeys))
	mux.Handle("DELETE /v1/device_keys/{id}", a.merchant(a.revokeDeviceKey))

	mux.Handle("GET /v1/events", a.merchant(a.listEvents))
	mux.Handle("GET /v1/events/{id}", a.merchant(a.getEvent))
	mux.Handle("POST /v1/events/{id}/redeliver", a.merchant(a.idempotent(a.redeliverEvent)))

	// Card holders' pages: no API key; the unguessable id in the path is
	// the only credential.
	mux.HandleFunc("GET /3ds/{id}", a.pages.Challenge)
	mux.HandleFunc("POST /3ds/{id}", a.pages.Challenge)
	mux.HandleFunc("GET /pay/{id}", a.pages.Checkout)
	mux.HandleFunc("POST /pay/{id}/confirm", a.pages.CheckoutConfirm)
	mux.HandleFunc("GET /pay/{id}/return", a.pages.CheckoutReturn)
	mux.HandleFunc("POST /pay/{id}/cancel", a.pages.CheckoutCancel)
	mux.HandleFunc("GET /pay/{id}/qr.png", a.pages.CheckoutQR)
	mux.HandleFunc("GET /assets/checkout.js", a.pages.Asset)

	// Provider dialects: each translates a provider's API shape to the core.
	sp := a.dialects.SenangPay
	mux.HandleFunc("GET /senangpay/tokenization/{merchant_id}", sp.GetToken)
	mux.HandleFunc("POST /senangpay/tokenization/{merchant_id}", sp.GetToken)
	mux.HandleFunc("GET /senangpay/tokenization/{merchant_id}/return", sp.TokenizationReturn)
	mux.HandleFunc("POST /senangpay/apiv1/get_payment_token", sp.GetPaymentToken)
	mux.HandleFunc("POST /senangpay/apiv1/pay_cc", sp.PayCC)
	mux.HandleFunc("POST /senangpay/apiv1/update_token_status", sp.UpdateTokenStatus)
	mux.HandleFunc("POST /senangpay/apiv1/validate_token", sp.ValidateToken)
	mux.HandleFunc("GET /senangpay/apiv1/query_order_status", sp.QueryOrderStatus)

	sn := a.dialects.SensePass
	mux.HandleFunc("POST /sensepass/api/transactions/init", sn.Init)
	mux.HandleFunc("POST /sensepass/api/transactions/tokenize", sn.Tokenize)
	mux.HandleFunc("POST /sensepass/api/transactions/pay", sn.Pay)
	mux.HandleFunc("POST /sensepass/api/transactions/token-validation", sn.ValidateToken)
	mux.HandleFunc("GET /sensepass/api/transactions/{transactionNumber}", sn.Get)
	mux.HandleFunc("POST /sensepass/api/transactions/cancel/{transactionNumber}", sn.Cancel)
	mux.HandleFunc("GET /sensepass/api/transactions/{transactionNumber}/socket", sn.Socket)
	mux.HandleFunc("/sensepass/api/", sn.NotFound)

	pv := a.dialects.Pivot
	mux.HandleFunc("POST /pivot/v1/access-token", pv.AccessToken)
	mux.HandleFunc("POST /pivot/v2/payments", pv.CreatePayment)
	mux.HandleFunc("GET /pivot/v2/payments/{id}", pv.GetPayment)
	mux.HandleFunc("POST /pivot/v2/payments/{id}/confirm", pv.ConfirmPayment)
	mux.HandleFunc("GET /pivot/v1/customers/{customerId}", pv.GetCustomer)
	mux.HandleFunc("/pivot/", pv.NotFound)

	// Ottu's SDK sends some paths without the trailing slash its docs show
	// and does not follow redirects: both spellings are served.
	ot := a.dialects.Ottu
	for _, sl := range []string{"", "/{$}"} {
		mux.HandleFunc("POST /ottu/b/checkout/v1/pymt-txn"+sl, ot.CreateCheckout)
		mux.HandleFunc("GET /ottu/b/checkout/v1/pymt-txn/{session_id}"+sl, ot.GetCheckout)
		mux.HandleFunc("GET /ottu/b/pbl/v2/card"+sl, ot.ListCards)
		mux.HandleFunc("POST /ottu/b/pbl/v2/card"+sl, ot.ListCards)
		mux.HandleFunc("DELETE /ottu/b/pbl/v2/card/{token}"+sl, ot.DeleteCard)
		mux.HandleFunc("POST /ottu/b/pbl/v2/auto-debit"+sl, ot.AutoDebit)
	}
	mux.HandleFunc("/ottu/", ot.NotFound)

	mux.HandleFunc("/", a.notFoundRoute)
}
