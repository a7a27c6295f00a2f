package httpapi

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

func (a paymentHandlers) createPayment(w http.ResponseWriter, r *http.Request) {
	var p payment.PaymentParams
	if e := decode(r, &p, false, "card.number", "encrypted_card"); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CreatePayment(r.Context(), merchantOf(r), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

func (a paymentHandlers) getPayment(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetPayment(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a paymentHandlers) listPayments(w http.ResponseWriter, r *http.Request) {
	limit, after, e := pageParams(r)
	if e != nil {
		writeError(w, e)
		return
	}
	q := r.URL.Query()
	ps, more, err := a.svc.ListPayments(r.Context(), merchantOf(r).ID,
		store.PaymentFilter{OrderID: q.Get("order_id"), CustomerID: q.Get("customer"), StartingAfter: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(ps, more))
}

// amountBody is the optional body of capture and refund.
type amountBody struct {
	Amount *int64 `json:"amount"`
	Reason string `json:"reason"`
}

func (a paymentHandlers) capturePayment(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Amount *int64 `json:"amount"`
	}
	if e := decode(r, &b, true); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CapturePayment(r.Context(), merchantOf(r).ID, r.PathValue("id"), b.Amount)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a paymentHandlers) cancelPayment(w http.ResponseWriter, r *http.Request) {
	if e := decode(r, &struct{}{}, true); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CancelPayment(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a paymentHandlers) refundPayment(w http.ResponseWriter, r *http.Request) {
	var b amountBody
	if e := decode(r, &b, true); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.RefundPayment(r.Context(), merchantOf(r).ID, r.PathValue("id"), b.Amount, b.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

func (a paymentHandlers) listRefunds(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.ListRefunds(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, false))
}
