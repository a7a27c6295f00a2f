package sensepass

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Callbacks renders SensePass's transaction_status callbacks: a POST of
// the Transaction entity as JSON.
func (d *Dialect) Callbacks() event.Format { return callbacks{d: d} }

// CallbacksGET renders the callbackMethod GET variant: a GET of the
// callback URL with TransactionNumber and callbackType added to its query.
func (d *Dialect) CallbacksGET() event.Format { return callbacks{d: d, get: true} }

type callbacks struct {
	d   *Dialect
	get bool
}

// Sign is a callback's HMAC-Authorization: lowercase hex HMAC-SHA256, keyed
// with the merchant's hmac_secret, of the HMAC-Random-Key header's value
// followed by the body (POST) or the raw query string (GET).
func Sign(secret, randomKey string, signed []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(randomKey))
	mac.Write(signed)
	return hex.EncodeToString(mac.Sum(nil))
}

// randomKey is a fresh HMAC-Random-Key: 128 random bits, hex.
func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Request builds one attempt. Every update of the transaction is told, one
// callback each: a change of status, and a failed attempt that leaves it
// open for another card (session.updated: back to 0 after a failed 3-D
// Secure, or 0 again after a decline, with paymentDetails.message), and a
// later void, refund or capture of an approved transaction's payment. Not
// its creation: transactions/init answered that.
func (c callbacks) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	if ev.ObjectType != "session" || ev.Type == "session.created" {
		return nil, event.ErrSkip
	}
	var v payment.SessionView
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		return nil, fmt.Errorf("sensepass: the event's session: %w", err)
	}
	m, err := c.d.svc.GetMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	secret, err := c.d.svc.HMACSecret(ctx, m)
	if err != nil {
		return nil, err
	}
	nonce := randomKey()
	var req *http.Request
	var signed []byte
	if c.get {
		u, err := url.Parse(target)
		if err != nil {
			return nil, fmt.Errorf("sensepass: the callback URL cannot be parsed")
		}
		q := "TransactionNumber=" + url.QueryEscape(v.ID) + "&callbackType=" + callbackTypeTransactions
		if u.RawQuery != "" {
			q = u.RawQuery + "&" + q
		}
		u.RawQuery, u.Fragment, u.RawFragment = q, "", ""
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
			return nil, err
		}
		signed = []byte(req.URL.RawQuery)
	} else {
		// session.updated of an approved transaction: its payment was
		// captured, voided or refunded since, which only the payment shows.
		after := ev.Type == "session.updated" && v.Status == store.SessionSucceeded
		t, err := c.d.sessionEntity(ctx, m, &v, after)
		if err != nil {
			return nil, err
		}
		t.CallbackType = callbackTypeTransactions
		if signed, err = json.Marshal(t); err != nil {
			return nil, err
		}
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(signed)); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("HMAC-Random-Key", nonce)
	req.Header.Set("HMAC-Authorization", Sign(secret, nonce, signed))
	return req, nil
}

func (c callbacks) Delivered(status int, body []byte) string { return event.Delivered2xx(status, body) }
