package dashboard

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Statuses the payments list can filter by.
var statuses = []string{store.PaymentSucceeded, store.PaymentRequiresCapture, store.PaymentRequiresAction, store.PaymentProcessing,
	store.PaymentFailed, store.PaymentCanceled}

// paymentsView is the payments list page's data.
type paymentsView struct {
	Query, Status string
	From, To      string // created from and to these days (UTC, both included), as typed
	Statuses      []string
	Payments      []payment.PaymentView
	More          bool
}

// listPage is how many payments the list reads per page; a status filter
// applies to that page.
const listPage = 100

// payments lists the merchant's payments, newest first: by order id or
// customer (cus_…) when searched, a payment id going straight to it.
func (d *Dashboard) payments(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	q, status := strings.TrimSpace(r.FormValue("q")), r.FormValue("status")
	if strings.HasPrefix(q, "pay_") {
		http.Redirect(w, r, "/dashboard/payments/"+url.PathEscape(q), http.StatusSeeOther)
		return
	}
	f := store.PaymentFilter{Limit: listPage}
	from, to := strings.TrimSpace(r.FormValue("from")), strings.TrimSpace(r.FormValue("to"))
	var ok bool
	if f.CreatedFrom, ok = d.dateField(w, r, "From", "from", from); !ok {
		return
	}
	if f.CreatedBefore, ok = d.dateField(w, r, "To", "to", to); !ok {
		return
	}
	if !f.CreatedBefore.IsZero() {
		f.CreatedBefore = f.CreatedBefore.AddDate(0, 0, 1) // the whole of the last day
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedBefore.IsZero() && !f.CreatedFrom.Before(f.CreatedBefore) {
		d.renderError(w, r, http.StatusBadRequest, "Dates the wrong way round", "The first day (from) is after the last day (to).")
		return
	}
	if strings.HasPrefix(q, "cus_") {
		f.CustomerID = q
	} else {
		f.OrderID = q
	}
	ps, more, err := d.svc.ListPayments(r.Context(), su.user.MerchantID, f)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := paymentsView{Query: q, Status: status, From: from, To: to, Statuses: statuses, More: more}
	for _, p := range ps {
		if status == "" || p.Status == status {
			v.Payments = append(v.Payments, p)
		}
	}
	d.render(w, r, http.StatusOK, paymentsTmpl, layoutData{Title: "Payments", Nav: "payments", User: su.user, CSRF: su.csrf, Page: v})
}

// dateField reads a date input (YYYY-MM-DD, a UTC day): the zero time when
// empty, and a 400 page naming the field when it is not a date.
func (d *Dashboard) dateField(w http.ResponseWriter, r *http.Request, label, name, value string) (time.Time, bool) {
	if value == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.DateOnly, value)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		d.renderError(w, r, http.StatusBadRequest, "Not a date", label+" ("+name+") must be a date like 2026-03-14.")
		return time.Time{}, false
	}
	return t, true
}

// paymentView is a payment page's data: the payment, its timeline and the
// refund form (with its own Idempotency-Key).
type paymentView struct {
	Payment        payment.PaymentView
	Events         []payment.EventView
	Refundable     int64
	RefundAmount   string
	Capturable     bool   // requires_capture: the capture and cancel forms show
	IdempotencyKey string // the refund's or capture's form
	CancelKey      string
	Error, Notice  string
}

func (d *Dashboard) payment(w http.ResponseWriter, r *http.Request) {
	v := paymentView{}
	switch r.FormValue("done") {
	case "refund":
		if ref := r.FormValue("ref"); strings.HasPrefix(ref, "re_") {
			v.Notice = "Refund " + ref + " created."
		}
	case "capture":
		v.Notice = "Payment captured."
	case "cancel":
		v.Notice = "Payment canceled."
	}
	d.showPayment(w, r, http.StatusOK, v)
}

// showPayment renders the payment page over v's message and form values.
func (d *Dashboard) showPayment(w http.ResponseWriter, r *http.Request, status int, v paymentView) {
	su := userOf(r)
	p, err := d.svc.GetPayment(r.Context(), su.user.MerchantID, r.PathValue("id"))
	if err != nil {
		d.failed(w, r, err)
		return
	}
	evs, _, err := d.svc.ListEvents(r.Context(), su.user.MerchantID, store.EventFilter{ObjectID: p.ID, Limit: 100})
	if err != nil {
		d.failed(w, r, err)
		return
	}
	// Oldest first: a timeline reads down.
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	v.Payment, v.Events = p, evs
	v.Refundable = p.AmountCaptured - p.AmountRefunded
	v.Capturable = p.Status == store.PaymentRequiresCapture
	if v.RefundAmount == "" && v.Refundable > 0 {
		v.RefundAmount = money.Format(v.Refundable, p.Currency)
	}
	v.IdempotencyKey, v.CancelKey = rand.Text(), rand.Text() // a new form, a new action
	d.render(w, r, status, paymentTmpl, layoutData{Title: "Payment " + p.ID, Nav: "payments", User: su.user, CSRF: su.csrf, Page: v})
}

// actionResult is what an action's handler answers under the idempotency
// key, stored and replayed as JSON: a second submit of one form shows the
// first one's outcome instead of acting again.
type actionResult struct {
	Done  string `json:"done,omitempty"` // the refund's id, or the payment's for capture and cancel
	Error string `json:"error,omitempty"`
}

// paymentAction is one thing the payment page's forms do to a payment,
// through the payment service the API uses.
type paymentAction struct {
	name string // refund, capture, cancel: the audit action is dashboard.<name>
	// run does it; amount is nil when the form has no amount (cancel) or
	// the field was left empty (capture everything).
	run func(d *Dashboard, r *http.Request, merchantID, paymentID string, amount *int64) (string, error)
}

var (
	refundAction = paymentAction{"refund", func(d *Dashboard, r *http.Request, mid, pid string, amount *int64) (string, error) {
		rv, err := d.svc.RefundPayment(r.Context(), mid, pid, amount, "requested_by_customer")
		return rv.ID, err
	}}
	captureAction = paymentAction{"capture", func(d *Dashboard, r *http.Request, mid, pid string, amount *int64) (string, error) {
		pv, err := d.svc.CapturePayment(r.Context(), mid, pid, amount)
		return pv.ID, err
	}}
	cancelAction = paymentAction{"cancel", func(d *Dashboard, r *http.Request, mid, pid string, _ *int64) (string, error) {
		pv, err := d.svc.CancelPayment(r.Context(), mid, pid)
		return pv.ID, err
	}}
)

// act handles one of the payment page's forms: the confirmation must be
// ticked, and the action runs under the form's Idempotency-Key.
func (d *Dashboard) act(a paymentAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		su := userOf(r)
		amountText, key := strings.TrimSpace(r.PostFormValue("amount")), r.PostFormValue("idempotency_key")
		v := paymentView{}
		if a.name == "refund" {
			v.RefundAmount = amountText
		}
		if r.PostFormValue("confirm") != "yes" {
			v.Error = "Tick the confirmation to " + a.name + "."
			d.showPayment(w, r, http.StatusBadRequest, v)
			return
		}
		if key == "" || len(key) > 64 {
			v.Error = "This form has no idempotency key (idempotency_key): reload the page."
			d.showPayment(w, r, http.StatusBadRequest, v)
			return
		}
		// The key's request digest covers what was asked, as for the API.
		body := url.Values{"action": {a.name}, "amount": {amountText}, "payment": {r.PathValue("id")}}.Encode()
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(strings.NewReader(body))
		rec := &recorder{header: http.Header{}}
		d.idem.Serve(rec, r2, su.user.MerchantID, key, func(w http.ResponseWriter, r *http.Request) {
			d.runAction(w, r, a, su.user.MerchantID, amountText)
		})
		var res actionResult
		if err := json.Unmarshal(rec.body.Bytes(), &res); err != nil {
			d.log.ErrorContext(r.Context(), "dashboard: action answer unreadable", "action", a.name, "status", rec.status)
			res.Error = "Something went wrong; it may have happened anyway. Reload the payment to see."
		}
		if res.Done == "" {
			v.Error = res.Error
			d.showPayment(w, r, max(rec.status, 400), v)
			return
		}
		if rec.header.Get("Idempotent-Replayed") == "" {
			d.audit(r, su.user.MerchantID, su.user.ID, "dashboard."+a.name, r.PathValue("id"), strings.TrimSpace(res.Done+" "+amountText))
		}
		q := url.Values{"done": {a.name}, "ref": {res.Done}}
		http.Redirect(w, r, "/dashboard/payments/"+url.PathEscape(r.PathValue("id"))+"?"+q.Encode(), http.StatusSeeOther)
	}
}

// runAction is the action itself, answering an actionResult.
func (d *Dashboard) runAction(w http.ResponseWriter, r *http.Request, a paymentAction, merchantID, amountText string) {
	p, err := d.svc.GetPayment(r.Context(), merchantID, r.PathValue("id"))
	if err == nil {
		var amount *int64
		if amountText != "" && a.name != "cancel" {
			n, perr := money.Parse(amountText, p.Currency)
			if perr != nil {
				writeResult(w, http.StatusBadRequest, actionResult{Error: "Amount (amount): " + perr.Error()})
				return
			}
			amount = &n
		}
		var done string
		if done, err = a.run(d, r, merchantID, p.ID, amount); err == nil {
			writeResult(w, http.StatusOK, actionResult{Done: done})
			return
		}
	}
	var pe *payment.Error
	if errors.As(err, &pe) {
		writeResult(w, pe.Kind.HTTPStatus(), actionResult{Error: pe.Message})
		return
	}
	d.log.ErrorContext(r.Context(), "dashboard: payment action failed", "action", a.name, "err", err)
	writeResult(w, http.StatusInternalServerError, actionResult{Error: "That could not be done; try again."})
}

func writeResult(w http.ResponseWriter, status int, res actionResult) {
	b, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// idempotencyFailure answers a key problem (reused for another amount,
// still in progress) in the actions' own shape.
func idempotencyFailure(w http.ResponseWriter, r *http.Request, err error) {
	msg := "That could not be done; try again."
	switch {
	case errors.Is(err, idempotency.ErrMismatch):
		msg = "This form was already sent with another amount: reload the page for a new form."
	case errors.Is(err, idempotency.ErrInProgress):
		msg = "This is still in progress; reload the payment in a moment."
	}
	writeResult(w, http.StatusConflict, actionResult{Error: msg})
}

// recorder keeps the idempotent handler's answer for the page to show.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }
func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}
func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.body.Write(b)
}

// failed shows an error of the payment service as a page.
func (d *Dashboard) failed(w http.ResponseWriter, r *http.Request, err error) {
	var pe *payment.Error
	if errors.As(err, &pe) {
		d.renderError(w, r, pe.Kind.HTTPStatus(), "Not possible", pe.Message)
		return
	}
	d.log.ErrorContext(r.Context(), "dashboard: a page failed", "err", err)
	d.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Try again shortly.")
}
