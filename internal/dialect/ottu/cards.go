package ottu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// cardBody is a saved card as Ottu shows it: never more than the last 4.
func cardBody(t *store.Token, reference, pgCode string, cvvRequired, preferred bool, agreements []any, now time.Time) map[string]any {
	months := (t.ExpYear*12 + t.ExpMonth) - (now.Year()*12 + int(now.Month()))
	expired := card.Expired(t.ExpMonth, t.ExpYear, now)
	if agreements == nil {
		agreements = []any{}
	}
	return map[string]any{
		"customer_id": reference, "brand": strings.ToUpper(t.Brand), "name_on_card": t.HolderName,
		"number": "**** " + t.Last4, "expiry_month": fmt.Sprintf("%02d", t.ExpMonth), "expiry_year": fmt.Sprintf("%02d", t.ExpYear%100),
		"token": t.ID, "is_preferred": preferred, "is_expired": expired, "will_expire_soon": !expired && months <= 1,
		"pg_code": pgCode, "cvv_required": cvvRequired, "agreements": agreements,
	}
}

// card is t as the card list, the webhooks and the auto-debit answer all
// show it: pg_code is that of the checkout that saved it (else fallbackPG)
// and agreements[] holds the agreement it was saved under. agreementID is
// that agreement's id ("" without one).
func (d *Dialect) card(ctx context.Context, m *store.Merchant, t *store.Token, reference, fallbackPG string, preferred bool, now time.Time) (body map[string]any, agreementID string) {
	pg := fallbackPG
	var agreements []any
	if o, ok := d.origin(ctx, m, t); ok {
		pg = pgCodes(o)[0]
		if a, id := savedUnder(o); id != "" {
			agreements, agreementID = []any{a}, id
		}
	}
	return cardBody(t, reference, pg, m.Settings.RequireCVCForSavedCards, preferred, agreements, now), agreementID
}

// liveCards are a customer's active saved cards, newest first: the first
// is the preferred one.
func (d *Dialect) liveCards(ctx context.Context, m *store.Merchant, customerID string) ([]*store.Token, error) {
	_, toks, err := d.svc.GetCustomer(ctx, m.ID, customerID)
	if err != nil {
		return nil, err
	}
	var out []*store.Token
	for _, t := range toks { // the store lists them newest first
		if t.Status == store.TokenActive {
			out = append(out, t)
		}
	}
	return out, nil
}

// ListCards serves GET (query) and POST (JSON) /b/pbl/v2/card/: the
// customer's saved cards, a bare JSON array, newest first and preferred.
func (d *Dialect) ListCards(w http.ResponseWriter, r *http.Request) {
	m, ae := d.authenticate(r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	body := map[string]any{}
	if r.Method == http.MethodPost {
		if body, ae = readBody(w, r); ae != nil {
			writeError(w, ae)
			return
		}
	} else {
		q := r.URL.Query()
		// customer_id comes back in every card: the query is guarded like a body.
		if we := wire.CheckForm(q, wire.Rules{Repeat: []string{"pg_codes"}}); we != nil {
			writeError(w, fromWire(we))
			return
		}
		for _, k := range []string{"customer_id", "type", "agreement_id"} {
			if q.Has(k) {
				body[k] = q.Get(k)
			}
		}
		if vs := q["pg_codes"]; len(vs) > 0 {
			l := []any{}
			for _, v := range vs {
				for _, s := range strings.Split(v, ",") {
					l = append(l, s)
				}
			}
			body["pg_codes"] = l
		}
	}
	f := fields{m: body, errs: fieldErrors{}}
	customer := strings.TrimSpace(f.str("customer_id", true, false))
	f.choice("type", false, "", "sandbox", "production")
	pg := f.strList("pg_codes", false)
	agreement := strings.TrimSpace(f.str("agreement_id", false, true))
	if ae := f.errs.err(); ae != nil {
		writeError(w, ae)
		return
	}
	pgCode := pgName
	if len(pg) > 0 {
		pgCode = pg[0]
	}
	ctx := r.Context()
	out := []map[string]any{}
	c, err := d.svc.FindCustomer(ctx, m.ID, customer)
	if err != nil {
		d.fail(w, r, "list cards", err)
		return
	}
	if c != nil {
		toks, err := d.liveCards(ctx, m, c.ID)
		if err != nil {
			d.fail(w, r, "list cards", err)
			return
		}
		now := time.Now()
		for i, t := range toks {
			b, id := d.card(ctx, m, t, customer, pgCode, i == 0, now)
			if agreement != "" && id != agreement {
				continue // agreement_id lists the cards saved under it only
			}
			out = append(out, b)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// DeleteCard serves DELETE /b/pbl/v2/card/{token}/?customer_id=…: the
// card is crypto-shredded; 204 with no body.
func (d *Dialect) DeleteCard(w http.ResponseWriter, r *http.Request) {
	m, ae := d.authenticate(r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	q := r.URL.Query()
	customer := strings.TrimSpace(q.Get("customer_id"))
	if customer == "" {
		writeError(w, invalid("customer_id", "This field is required."))
		return
	}
	if t := q.Get("type"); t != "" && t != "sandbox" && t != "production" {
		writeError(w, invalid("type", `Not a valid choice (sandbox, production).`))
		return
	}
	token := r.PathValue("token")
	if ae := d.ownToken(r.Context(), m, customer, token); ae != nil {
		writeError(w, ae) // another customer's card is as unknown as no card
		return
	}
	if err := d.svc.DeleteToken(r.Context(), m.ID, token); err != nil {
		d.fail(w, r, "delete card", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// AutoDebit serves POST /b/pbl/v2/auto-debit/ {session_id, token}: an
// auto_debit checkout is paid with a card the customer saved under its
// agreement, merchant initiated (no CVV, no 3-D Secure). The answer is the payment
// notification, signed, whatever the outcome; a Tracking-Key header makes
// a retry replay it.
func (d *Dialect) AutoDebit(w http.ResponseWriter, r *http.Request) {
	m, ae := d.authenticate(r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	// Its own key space: the same value sent as a native Idempotency-Key
	// (an order number, say) is another request.
	h := idempotency.HTTP{Keeper: d.keeper, Sealer: d.svc, Log: d.log, Mark: payment.WithIdempotencyKey, Scope: "ottu:auto-debit",
		Fail: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, idempotency.ErrKeyTooLong):
				writeError(w, detail(http.StatusBadRequest, "Tracking-Key must be at most %d characters.", idempotency.MaxKey))
			case errors.Is(err, idempotency.ErrMismatch):
				writeError(w, detail(http.StatusConflict, "This Tracking-Key was used with another request."))
			case errors.Is(err, idempotency.ErrInProgress):
				writeError(w, detail(http.StatusConflict, "A request with this Tracking-Key is in progress; retry shortly."))
			case errors.Is(err, idempotency.ErrBody):
				writeError(w, bodyError(err, "The request body could not be read."))
			default:
				d.fail(w, r, "auto-debit", err)
			}
		},
		Retryable: func(status int, _ []byte) bool { return status == http.StatusConflict }}
	key := strings.TrimSpace(r.Header.Get("Tracking-Key"))
	if d.keeper == nil {
		key = "" // a server without a keeper (unit wiring) runs it plainly
	}
	// The path is served with and without its trailing slash: the
	// Tracking-Key's request digest must see one spelling, so a retry
	// under the other replays rather than conflicting.
	u := *r.URL
	u.Path, u.RawPath = strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(u.RawPath, "/")
	rr := r.WithContext(r.Context()) // a shallow copy: r itself is left alone
	rr.URL = &u
	h.Serve(w, rr, m.ID, key, func(w http.ResponseWriter, r *http.Request) { d.autoDebit(w, r, m) })
}

func (d *Dialect) autoDebit(w http.ResponseWriter, r *http.Request, m *store.Merchant) {
	body, ae := readBody(w, r)
	if ae != nil {
		writeError(w, ae)
		return
	}
	f := fields{m: body, errs: fieldErrors{}}
	sid := strings.TrimSpace(f.str("session_id", true, false))
	token := strings.TrimSpace(f.str("token", true, false))
	if ae := f.errs.err(); ae != nil {
		writeError(w, ae)
		return
	}
	v, ae := d.session(r, m, sid)
	if ae != nil {
		if ae == errNotFound {
			ae = invalid("session_id", "No such checkout.")
		}
		writeError(w, ae)
		return
	}
	if meta(v, "payment_type") != "auto_debit" {
		writeError(w, invalid("session_id", "The checkout's payment_type is %s; auto-debit takes an auto_debit checkout.", meta(v, "payment_type")))
		return
	}
	ctx := r.Context()
	// Merchant initiated (no CVV, no 3-D Secure) only for a card the same
	// customer saved under this checkout's agreement: nothing else was
	// ever agreed to by the holder.
	t, err := d.svc.GetToken(ctx, m.ID, token)
	if err != nil || v.Customer == nil || t.CustomerID != *v.Customer {
		writeError(w, invalid("token", "No such saved card for this customer."))
		return
	}
	if _, id := d.tokenAgreement(ctx, m, t); id == "" || id != agreementID(v) {
		writeError(w, invalid("token", "%s", notUnderAgreement))
		return
	}
	if v, err = d.pay(ctx, m, v.ID, payment.ConfirmParams{Token: token, MerchantInitiated: true}); err != nil {
		d.fail(w, r, "auto-debit", err)
		return
	}
	n, err := d.notification(ctx, m, v, time.Now(), true)
	if err != nil {
		d.fail(w, r, "auto-debit", err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}
