package ottu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// signedKeys are the payment-notification fields Ottu's signature covers
// (besides every customer_address_* field).
var signedKeys = map[string]bool{
	"amount": true, "currency_code": true, "customer_first_name": true, "customer_last_name": true, "customer_email": true,
	"customer_phone": true, "gateway_name": true, "gateway_account": true, "order_no": true, "reference_number": true,
	"result": true, "state": true,
}

// Sign is Ottu's notification signature: the present, non-empty string
// fields among signedKeys and customer_address_*, sorted by key, written
// key+value without separators, HMAC-SHA256 under the merchant's
// hmac_secret, lowercase hex.
func Sign(secret string, payload map[string]any) string {
	var keys []string
	for k, v := range payload {
		s, ok := v.(string)
		if ok && s != "" && (signedKeys[k] || strings.HasPrefix(k, "customer_address_")) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	mac := hmac.New(sha256.New, []byte(secret))
	for _, k := range keys {
		mac.Write([]byte(k))
		mac.Write([]byte(payload[k].(string)))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// timestampLayout is Ottu's timestamp_utc.
const timestampLayout = "2006-01-02 15:04:05"

// result is the outcome word of a notification for a state.
func result(v payment.SessionView, state string) string {
	switch state {
	case "paid", "authorized", "refunded", "voided":
		return "success"
	case "failed", "attempted":
		if v.LastError != nil && v.LastError.Code == "processing_error" {
			return "error" // the acquirer, not the card
		}
		return "failed"
	case "expired":
		return "failed"
	case "canceled":
		return "canceled"
	}
	return "pending"
}

func message(v payment.SessionView, res, state string) string {
	switch {
	case res == "success" && v.Amount == 0:
		return "The card was saved."
	case res == "success":
		return "The payment was successful."
	case state == "expired":
		return "The payment session expired."
	case state == "canceled":
		return "The payment was canceled."
	case v.LastError != nil && v.LastError.Message != "":
		return v.LastError.Message
	case res == "failed" || res == "error":
		return "The payment failed."
	}
	return "The payment is pending."
}

// notification is Ottu's payment-notification payload for a session, as
// webhooks and auto-debit answer it, signed.
func (d *Dialect) notification(ctx context.Context, m *store.Merchant, v payment.SessionView, at time.Time, live bool) (map[string]any, error) {
	secret, err := d.svc.HMACSecret(ctx, m)
	if err != nil {
		return nil, err
	}
	state := d.state(ctx, m, v, live)
	res := result(v, state)
	amount := FormatAmount(v.Amount, v.Currency)
	p := map[string]any{
		"session_id": v.ID, "order_no": deref(v.OrderID), "amount": amount, "currency_code": v.Currency,
		"amount_details": map[string]any{"currency_code": v.Currency, "amount": amount, "total": amount, "fee": FormatAmount(0, v.Currency)},
		"customer_id":    meta(v, "customer_id"), "customer_email": meta(v, "customer_email"),
		"customer_first_name": meta(v, "customer_first_name"), "customer_last_name": meta(v, "customer_last_name"),
		"customer_phone": meta(v, "customer_phone"), "payment_type": meta(v, "payment_type"),
		"reference_number": deref(v.Payment), "result": res, "state": state, "message": message(v, res, state),
		"gateway_name": pgName, "gateway_account": pgCodes(v)[0], "pg_codes": pgCodes(v),
		"timestamp_utc": at.UTC().Format(timestampLayout),
	}
	if a := agreementOf(v); a != nil {
		p["agreement"] = a
	}
	if v.Token != nil {
		if t, err := d.svc.GetToken(ctx, m.ID, *v.Token); err == nil { // a card deleted since is not told
			// As the card list shows it, is_preferred included.
			preferred := false
			if l, err := d.liveCards(ctx, m, t.CustomerID); err == nil && len(l) > 0 {
				preferred = l[0].ID == t.ID
			}
			p["token"], _ = d.card(ctx, m, t, meta(v, "customer_id"), pgName, preferred, time.Now())
		}
	}
	p["signature"] = Sign(secret, p)
	return p, nil
}

// callbacks is the "ottu" delivery format: a POST of the notification.
type callbacks struct{ d *Dialect }

// Request builds one attempt. Ottu tells the outcome of a checkout: its
// end (paid or authorized, failed, canceled, expired), each failed
// attempt that leaves it open for another card (state attempted), and a
// later capture, void or refund of its payment (paid, voided, refunded).
// Not its creation (the checkout call answered that) nor the wait for
// 3-D Secure.
func (c callbacks) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	switch ev.Type {
	case "session.succeeded", "session.failed", "session.canceled", "session.expired", "session.updated":
	default:
		return nil, event.ErrSkip
	}
	if ev.ObjectType != "session" {
		return nil, event.ErrSkip
	}
	var v payment.SessionView
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		return nil, fmt.Errorf("ottu: the event's session: %w", err)
	}
	m, err := c.d.svc.GetMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	// session.updated of an ended checkout: its payment was captured,
	// voided or refunded since, which only the payment shows.
	after := ev.Type == "session.updated" && v.Status == store.SessionSucceeded
	p, err := c.d.notification(ctx, m, v, ev.Created, after)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

func (c callbacks) Delivered(status int, body []byte) string { return event.Delivered2xx(status, body) }
