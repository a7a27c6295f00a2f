package ottu

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
)

// Register serves Ottu's paths on mux; app mounts them behind the server's
// middleware (request id, body limit, panic recovery, access log). Any
// other path under /ottu/ is answered in Ottu's shape.
func (d *Dialect) Register(mux *http.ServeMux) {
	// Ottu's SDK sends some paths without the trailing slash its docs show
	// and does not follow redirects: both spellings are served.
	for _, sl := range []string{"", "/{$}"} {
		mux.HandleFunc("POST /ottu/b/checkout/v1/pymt-txn"+sl, d.CreateCheckout)
		mux.HandleFunc("GET /ottu/b/checkout/v1/pymt-txn/{session_id}"+sl, d.GetCheckout)
		mux.HandleFunc("GET /ottu/b/pbl/v2/card"+sl, d.ListCards)
		mux.HandleFunc("POST /ottu/b/pbl/v2/card"+sl, d.ListCards)
		mux.HandleFunc("DELETE /ottu/b/pbl/v2/card/{token}"+sl, d.DeleteCard)
		mux.HandleFunc("POST /ottu/b/pbl/v2/auto-debit"+sl, d.AutoDebit)
	}
	mux.HandleFunc("/ottu/", d.NotFound)
}

// Formats are the dialect's callback formats, by the name its sessions
// record (store.Session.CallbackFormat), for the dispatcher.
func (d *Dialect) Formats() map[string]event.Format {
	return map[string]event.Format{Format: d.Callbacks()}
}
