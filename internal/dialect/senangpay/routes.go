package senangpay

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
)

// Register serves senangPay's paths on mux; app mounts them behind the
// server's middleware (request id, body limit, panic recovery, access log).
func (d *Dialect) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /senangpay/tokenization/{merchant_id}", d.GetToken)
	mux.HandleFunc("POST /senangpay/tokenization/{merchant_id}", d.GetToken)
	mux.HandleFunc("GET /senangpay/tokenization/{merchant_id}/return", d.TokenizationReturn)
	mux.HandleFunc("POST /senangpay/apiv1/get_payment_token", d.GetPaymentToken)
	mux.HandleFunc("POST /senangpay/apiv1/pay_cc", d.PayCC)
	mux.HandleFunc("POST /senangpay/apiv1/update_token_status", d.UpdateTokenStatus)
	mux.HandleFunc("POST /senangpay/apiv1/validate_token", d.ValidateToken)
	mux.HandleFunc("GET /senangpay/apiv1/query_order_status", d.QueryOrderStatus)
}

// Formats are the dialect's callback formats, by the name its sessions
// record (store.Session.CallbackFormat), for the dispatcher.
func (d *Dialect) Formats() map[string]event.Format {
	return map[string]event.Format{Format: d.Callbacks()}
}
