package httpapi

// The native API's handlers, one type per resource, each with the API's
// services and helpers (fail, the views) through the embedded *API; the
// API itself keeps the middleware and the route table.
type (
	// accountHandlers: the merchant's own settings, customers and device keys.
	accountHandlers struct{ *API }
	// tokenHandlers: tokens (cards saved in the vault).
	tokenHandlers struct{ *API }
	// paymentHandlers: payments and their refunds.
	paymentHandlers struct{ *API }
	// sessionHandlers: checkout sessions and their stream.
	sessionHandlers struct{ *API }
	// eventHandlers: webhook endpoints and the events they are sent.
	eventHandlers struct{ *API }
)
