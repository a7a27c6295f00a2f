package sensepass

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
)

// Register serves SensePass's paths on mux; app mounts them behind the
// server's middleware (request id, body limit, panic recovery, access log).
// Any other path under /sensepass/api/ is answered in the dialect's shape.
func (d *Dialect) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /sensepass/api/transactions/init", d.Init)
	mux.HandleFunc("POST /sensepass/api/transactions/tokenize", d.Tokenize)
	mux.HandleFunc("POST /sensepass/api/transactions/pay", d.Pay)
	mux.HandleFunc("POST /sensepass/api/transactions/token-validation", d.ValidateToken)
	mux.HandleFunc("GET /sensepass/api/transactions/{transactionNumber}", d.Get)
	mux.HandleFunc("POST /sensepass/api/transactions/cancel/{transactionNumber}", d.Cancel)
	mux.HandleFunc("GET /sensepass/api/transactions/{transactionNumber}/socket", d.Socket)
	mux.HandleFunc("/sensepass/api/", d.NotFound)
}

// Formats are the dialect's callback formats (POST JSON, and the
// callbackMethod GET variant), by the name its sessions record
// (store.Session.CallbackFormat), for the dispatcher.
func (d *Dialect) Formats() map[string]event.Format {
	return map[string]event.Format{Format: d.Callbacks(), FormatGET: d.CallbacksGET()}
}
