package dashboard

import "net/http"

// Register serves the dashboard's routes on mux. Every POST checks the
// session's CSRF token (the sign-in form its own pre-session token).
func (d *Dashboard) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /dashboard", d.home)
	mux.HandleFunc("GET /dashboard/{$}", d.home)
	mux.HandleFunc("GET /dashboard/signin", d.signInPage)
	mux.HandleFunc("POST /dashboard/signin", d.signIn)
	mux.HandleFunc("POST /dashboard/signout", d.signedIn(d.signOut))
	mux.HandleFunc("GET /dashboard/payments", d.signedIn(d.payments))
	mux.HandleFunc("GET /dashboard/payments/{id}", d.signedIn(d.payment))
	mux.HandleFunc("POST /dashboard/payments/{id}/refund", d.signedIn(d.act(refundAction)))
	mux.HandleFunc("POST /dashboard/payments/{id}/capture", d.signedIn(d.act(captureAction)))
	mux.HandleFunc("POST /dashboard/payments/{id}/cancel", d.signedIn(d.act(cancelAction)))
	mux.HandleFunc("GET /dashboard/tokens", d.signedIn(d.tokens))
	mux.HandleFunc("POST /dashboard/tokens/{id}/disable", d.signedIn(d.tokenAction("disable")))
	mux.HandleFunc("POST /dashboard/tokens/{id}/enable", d.signedIn(d.tokenAction("enable")))
	mux.HandleFunc("POST /dashboard/tokens/{id}/delete", d.signedIn(d.tokenAction("delete")))
	mux.HandleFunc("GET /dashboard/webhooks", d.signedIn(d.webhooks))
	mux.HandleFunc("POST /dashboard/events/{id}/redeliver", d.signedIn(d.redeliver))
	// Overview (issue 20): charts of the merchant's payments.
	mux.HandleFunc("GET /dashboard/overview", d.signedIn(d.overview))
	// Keys and processor accounts (keys.go, processors.go).
	mux.HandleFunc("GET /dashboard/keys", d.signedIn(d.keys))
	mux.HandleFunc("POST /dashboard/keys/roll", d.signedIn(d.rollKey))
	mux.HandleFunc("POST /dashboard/keys/restricted", d.signedIn(d.createKey))
	mux.HandleFunc("POST /dashboard/keys/{id}/delete", d.signedIn(d.deleteKey))
	mux.HandleFunc("GET /dashboard/processors", d.signedIn(d.processors))
	mux.HandleFunc("POST /dashboard/processors", d.signedIn(d.createProcessor))
	mux.HandleFunc("POST /dashboard/processors/{id}/delete", d.signedIn(d.deleteProcessor))
	// Customers, webhook endpoints and merchant settings (customers.go, endpoints.go, settings.go).
	mux.HandleFunc("GET /dashboard/customers", d.signedIn(d.customers))
	mux.HandleFunc("GET /dashboard/customers/{id}", d.signedIn(d.customer))
	mux.HandleFunc("POST /dashboard/customers/{id}/delete", d.signedIn(d.deleteCustomer))
	mux.HandleFunc("GET /dashboard/webhooks/endpoints", d.signedIn(d.endpoints))
	mux.HandleFunc("POST /dashboard/webhooks/endpoints", d.signedIn(d.createEndpoint))
	mux.HandleFunc("POST /dashboard/webhooks/endpoints/{id}/rotate", d.signedIn(d.rotateEndpoint))
	mux.HandleFunc("POST /dashboard/webhooks/endpoints/{id}/delete", d.signedIn(d.deleteEndpoint))
	mux.HandleFunc("GET /dashboard/settings", d.signedIn(d.settings))
	mux.HandleFunc("POST /dashboard/settings", d.signedIn(d.saveSettings))
	// Security: TOTP set-up and sign-in's code step (security.go, auth.go);
	// the code form's CSRF token is derived from its pending sign-in.
	mux.HandleFunc("GET /dashboard/signin/code", d.codePage)
	mux.HandleFunc("POST /dashboard/signin/code", d.signInCode)
	mux.HandleFunc("GET /dashboard/security", d.signedIn(d.security))
	mux.HandleFunc("POST /dashboard/security/totp/setup", d.signedIn(d.totpSetupStart))
	mux.HandleFunc("POST /dashboard/security/totp/enable", d.signedIn(d.totpEnable))
	mux.HandleFunc("POST /dashboard/security/totp/disable", d.signedIn(d.totpDisable))
}
