package pivot

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
)

// Register serves Pivot's paths on mux; app mounts them behind the
// server's middleware (request id, body limit, panic recovery, access log).
// Any other path under /pivot/ is answered in Pivot's envelope.
func (d *Dialect) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /pivot/v1/access-token", d.AccessToken)
	mux.HandleFunc("POST /pivot/v2/payments", d.CreatePayment)
	mux.HandleFunc("GET /pivot/v2/payments/{id}", d.GetPayment)
	mux.HandleFunc("POST /pivot/v2/payments/{id}/confirm", d.ConfirmPayment)
	mux.HandleFunc("GET /pivot/v1/customers/{customerId}", d.GetCustomer)
	mux.HandleFunc("/pivot/", d.NotFound)
}

// Formats are the dialect's callback formats, by the name its sessions
// record (store.Session.CallbackFormat), for the dispatcher.
func (d *Dialect) Formats() map[string]event.Format {
	return map[string]event.Format{Format: d.Callbacks()}
}
