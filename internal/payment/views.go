package payment

import (
	"encoding/json"
	"time"

	"github.com/coffer-vault/coffer/internal/plainjson"
	"github.com/coffer-vault/coffer/internal/store"
)

// The API shapes of payments and refunds. They live in the domain because
// events carry the object exactly as the API shows it.

// PaymentView is a payment as the API and its events show it.
type PaymentView struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Status           string            `json:"status"`
	Amount           int64             `json:"amount"`
	AmountCapturable int64             `json:"amount_capturable"`
	AmountCaptured   int64             `json:"amount_captured"`
	AmountRefunded   int64             `json:"amount_refunded"`
	Refunded         bool              `json:"refunded"`
	Currency         string            `json:"currency"`
	CaptureMethod    string            `json:"capture_method"`
	Token            *string           `json:"token"`
	Customer         *string           `json:"customer"`
	OrderID          *string           `json:"order_id"`
	Description      *string           `json:"description"`
	Metadata         map[string]string `json:"metadata"`
	Card             store.PaymentCard `json:"card"`
	Processor        processorView     `json:"processor"`
	Failure          *store.Failure    `json:"failure"`
	// Authentication is the 3-D Secure result; NextAction sends the card
	// holder to a challenge while the payment requires_action.
	Authentication *store.Authentication `json:"authentication"`
	NextAction     *NextAction           `json:"next_action"`
	Refunds        []RefundView          `json:"refunds"`
	Created        time.Time             `json:"created"`
	Updated        time.Time             `json:"updated"`
}

type processorView struct {
	// Account is the processor account the payment went to (null: the
	// server's own acquirer), Type its connector, Reference the acquirer's
	// id of the authorization.
	Account    *string `json:"account"`
	Type       string  `json:"type"`
	Reference  *string `json:"reference"`
	AuthCode   string  `json:"auth_code"`
	AVSResult  string  `json:"avs_result"`
	CVCResult  string  `json:"cvc_result"`
	NetworkRef string  `json:"network_reference"`
}

// RefundView is a refund as the API shows it.
type RefundView struct {
	ID       string         `json:"id"`
	Object   string         `json:"object"`
	Payment  string         `json:"payment"`
	Amount   int64          `json:"amount"`
	Currency string         `json:"currency"`
	Status   string         `json:"status"`
	Reason   *string        `json:"reason"`
	Failure  *store.Failure `json:"failure"`
	Created  time.Time      `json:"created"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ViewPayment renders a payment with its refunds.
func ViewPayment(p *store.Payment, refunds []*store.Refund) PaymentView {
	md := p.Metadata
	if md == nil {
		md = map[string]string{}
	}
	v := PaymentView{ID: p.ID, Object: "payment", Status: p.Status, Amount: p.Amount, AmountCapturable: p.AmountCapturable,
		AmountCaptured: p.AmountCaptured, AmountRefunded: p.AmountRefunded,
		Refunded: p.AmountCaptured > 0 && p.AmountRefunded >= p.AmountCaptured, Currency: p.Currency, CaptureMethod: p.CaptureMethod,
		Token: optional(p.TokenID), Customer: optional(p.CustomerID), OrderID: optional(p.OrderID), Description: optional(p.Description),
		Metadata: md, Card: p.Card, Failure: p.Failure, Authentication: p.Authentication, Refunds: []RefundView{}, Created: p.Created, Updated: p.Updated,
		Processor: processorView{Account: optional(p.Processor.Account), Type: orDefault(p.Processor.Type, AccountSimulator),
			Reference: optional(p.Processor.AuthorizationID), AuthCode: p.Processor.AuthCode, AVSResult: p.Processor.AVSResult,
			CVCResult: p.Processor.CVCResult, NetworkRef: p.Processor.NetworkRef}}
	for _, r := range refunds {
		v.Refunds = append(v.Refunds, ViewRefund(r))
	}
	return v
}

// viewPayment is ViewPayment with the next action's URL, which needs the
// service's public URL.
func (s *Payments) viewPayment(p *store.Payment, refunds []*store.Refund) PaymentView {
	v := ViewPayment(p, refunds)
	v.NextAction = s.challenges.nextAction(p.Status, p.ChallengeID)
	if p.Status == store.PaymentRequiresAction && p.Processor.ActionURL != "" {
		v.NextAction = &NextAction{Type: "redirect", URL: p.Processor.ActionURL}
	}
	return v
}

// ViewRefund renders a refund.
func ViewRefund(r *store.Refund) RefundView {
	return RefundView{ID: r.ID, Object: "refund", Payment: r.PaymentID, Amount: r.Amount, Currency: r.Currency, Status: r.Status,
		Reason: optional(r.Reason), Failure: r.Failure, Created: r.Created}
}

// CardView is a stored card as the API shows it: never more than the BIN
// and last 4.
type CardView struct {
	Brand       string `json:"brand"`
	BIN         string `json:"bin"`
	Last4       string `json:"last4"`
	Mask        string `json:"mask"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	HolderName  string `json:"holder_name"`
	Fingerprint string `json:"fingerprint"`
}

// TokenView is a token as the API and its events show it.
type TokenView struct {
	ID           string             `json:"id"`
	Object       string             `json:"object"`
	Status       string             `json:"status"`
	Customer     *string            `json:"customer"`
	Card         CardView           `json:"card"`
	Verification store.Verification `json:"verification"`
	NextAction   *NextAction        `json:"next_action"`
	Created      time.Time          `json:"created"`
	Updated      time.Time          `json:"updated"`
	Metadata     map[string]string  `json:"metadata"`
}

// renderToken is json.Marshal(v), byte for byte, written without reflection
// when every value is plain (plainjson): each tokenization renders its view
// once, for its event and its answer, and json.Marshal of it was ~4 µs.
// A view is ~700–900 bytes: 1 KiB is rarely regrown.
func renderToken(v *TokenView) ([]byte, error) {
	if b, ok := v.appendJSON(make([]byte, 0, 1024)); ok {
		return b, nil
	}
	return json.Marshal(v)
}

func (v *TokenView) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	b, ok = plainjson.More(b, ok, `{"id":`, v.ID)
	b, ok = plainjson.More(b, ok, `,"object":`, v.Object)
	b, ok = plainjson.More(b, ok, `,"status":`, v.Status)
	b = append(b, `,"customer":`...)
	if ok {
		b, ok = plainjson.OptionalString(b, v.Customer)
	}
	c := &v.Card
	b, ok = plainjson.More(b, ok, `,"card":{"brand":`, c.Brand)
	b, ok = plainjson.More(b, ok, `,"bin":`, c.BIN)
	b, ok = plainjson.More(b, ok, `,"last4":`, c.Last4)
	b, ok = plainjson.More(b, ok, `,"mask":`, c.Mask)
	b = plainjson.Int(append(b, `,"exp_month":`...), int64(c.ExpMonth))
	b = plainjson.Int(append(b, `,"exp_year":`...), int64(c.ExpYear))
	b, ok = plainjson.More(b, ok, `,"holder_name":`, c.HolderName)
	b, ok = plainjson.More(b, ok, `,"fingerprint":`, c.Fingerprint)
	b = append(b, `},"verification":`...)
	if ok {
		b, ok = v.Verification.AppendJSON(b)
	}
	b = append(b, `,"next_action":`...)
	switch {
	case !ok:
	case v.NextAction == nil:
		b = append(b, "null"...)
	default:
		b, ok = plainjson.More(b, ok, `{"type":`, v.NextAction.Type)
		b, ok = plainjson.More(b, ok, `,"url":`, v.NextAction.URL)
		b = append(b, '}')
	}
	b = append(b, `,"created":`...)
	if ok {
		b, ok = plainjson.Time(b, v.Created)
	}
	b = append(b, `,"updated":`...)
	if ok {
		b, ok = plainjson.Time(b, v.Updated)
	}
	b = append(b, `,"metadata":`...)
	if ok {
		b, ok = plainjson.StringMap(b, v.Metadata)
	}
	return append(b, '}'), ok
}

// ViewToken renders a token.
func (s *Tokens) ViewToken(t *store.Token) TokenView {
	md := t.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return TokenView{ID: t.ID, Object: "token", Status: t.Status, Customer: optional(t.CustomerID),
		Card: CardView{Brand: t.Brand, BIN: t.BIN, Last4: t.Last4, Mask: t.Mask, ExpMonth: t.ExpMonth, ExpYear: t.ExpYear,
			HolderName: t.HolderName, Fingerprint: t.Fingerprint},
		Verification: t.Verification, NextAction: s.challenges.TokenNextAction(t), Created: t.Created, Updated: t.Updated, Metadata: md}
}
