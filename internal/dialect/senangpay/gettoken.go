package senangpay

import (
	"context"
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/store"
)

// Format names senangPay's tokenization callbacks: sessions created by the
// get-token flow record it as their CallbackFormat.
const Format = "senangpay"

// Callbacks renders senangPay's tokenization callbacks.
func (d *Dialect) Callbacks() event.Format { return callbacks{d} }

type callbacks struct{ d *Dialect }

func (c callbacks) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	return nil, event.ErrSkip
}

func (c callbacks) Delivered(status int, body []byte) string { return event.Delivered2xx(status, body) }

// (Skeleton: being built.)
func (d *Dialect) GetToken(w http.ResponseWriter, r *http.Request) {
	fail(w, http.StatusNotImplemented, "not implemented yet")
}

func (d *Dialect) TokenizationReturn(w http.ResponseWriter, r *http.Request) {
	fail(w, http.StatusNotImplemented, "not implemented yet")
}

func (d *Dialect) GetPaymentToken(w http.ResponseWriter, r *http.Request) {
	fail(w, http.StatusNotImplemented, "not implemented yet")
}
