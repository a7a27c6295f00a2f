package pivot

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Pivot's session statuses.
const (
	StatusRequirePaymentMethod = "REQUIRE_PAYMENT_METHOD"
	StatusRequireConfirmation  = "REQUIRE_CONFIRMATION"
	StatusRequireAction        = "REQUIRE_ACTION"
	StatusProcessing           = "PROCESSING"
	StatusCancelled            = "CANCELLED"
	StatusExpired              = "EXPIRED"
	StatusPaid                 = "PAID"
)

// Pivot's charge statuses, and two Coffer adds for charges that ended
// without money moving (Pivot's docs list none).
const (
	ChargeWaitingForAuthentication = "WAITING_FOR_AUTHENTICATION"
	ChargeProcessing               = "PROCESSING"
	ChargeWaitingForCapture        = "WAITING_FOR_CAPTURE"
	ChargeSuccess                  = "SUCCESS"
	ChargeFailed                   = "FAILED"
	ChargeCancelled                = "CANCELLED"
)

// SessionStatus maps a session (and its latest payment, if any) to
// Pivot's status. A session that failed (too many declined cards) is
// CANCELLED: final and unpaid, the nearest of Pivot's statuses; its
// callback event is PAYMENT.FAILED. A session paid by an authorization
// (manual capture) whose authorization was then voided is CANCELLED too:
// no money moved.
func SessionStatus(v *payment.SessionView, paymentStatus string) string {
	switch v.Status {
	case store.SessionOpen:
		if v.Mode == "api" && v.Attempts == 0 && v.Metadata[metaMethod] != "" {
			return StatusRequireConfirmation
		}
		return StatusRequirePaymentMethod
	case store.SessionRequiresAction:
		if paymentStatus == store.PaymentProcessing {
			return StatusProcessing
		}
		return StatusRequireAction
	case store.SessionSucceeded:
		if paymentStatus == store.PaymentCanceled || paymentStatus == store.PaymentFailed {
			return StatusCancelled
		}
		return StatusPaid
	case store.SessionExpired:
		return StatusExpired
	}
	return StatusCancelled // canceled, failed
}

// ChargeStatus maps a payment's status to Pivot's charge status.
func ChargeStatus(status string) string {
	switch status {
	case store.PaymentRequiresAction:
		return ChargeWaitingForAuthentication
	case store.PaymentRequiresCapture:
		return ChargeWaitingForCapture
	case store.PaymentSucceeded:
		return ChargeSuccess
	case store.PaymentFailed:
		return ChargeFailed
	case store.PaymentCanceled:
		return ChargeCancelled
	}
	return ChargeProcessing
}

type amountOut struct {
	Value    json.Number `json:"value"`
	Currency string      `json:"currency"`
}

type authResult struct {
	Status        string `json:"status"`
	ECI           string `json:"eci,omitempty"`
	Version       string `json:"version,omitempty"`
	TransactionID string `json:"transactionId,omitempty"`
}

type chargeCard struct {
	First6               string      `json:"first6"`
	First8               *string     `json:"first8"`
	Last4                string      `json:"last4"`
	ExpMonth             string      `json:"expMonth"`
	ExpYear              string      `json:"expYear"`
	Network              string      `json:"network"`
	Fingerprint          string      `json:"fingerprint"`
	AuthenticationResult *authResult `json:"authenticationResult"`
}

type charge struct {
	ID               string      `json:"id"`
	Status           string      `json:"status"`
	AuthorizedAmount json.Number `json:"authorizedAmount"`
	CapturedAmount   json.Number `json:"capturedAmount"`
	IsCaptured       bool        `json:"isCaptured"`
	PaidAt           *string     `json:"paidAt"`
	Token            *string     `json:"token"`
	FailureCode      *string     `json:"failureCode"`
	FailureMessage   *string     `json:"failureMessage"`
	Card             chargeCard  `json:"card"`
	CreatedAt        string      `json:"createdAt"`
}

type cardOptionsOut struct {
	CaptureMethod string  `json:"captureMethod"`
	ThreeDsMethod *string `json:"threeDsMethod"`
}

type redirectOut struct {
	Success    *string `json:"successReturnUrl"`
	Failure    *string `json:"failureReturnUrl"`
	Expiration *string `json:"expirationReturnUrl"`
}

// sessionObject is Pivot's Payment Session Object.
type sessionObject struct {
	ID                   string                    `json:"id"`
	ClientReferenceID    *string                   `json:"clientReferenceId"`
	Amount               amountOut                 `json:"amount"`
	Mode                 string                    `json:"mode"`
	Status               string                    `json:"status"`
	PaymentType          string                    `json:"paymentType"`
	ExpiryAt             string                    `json:"expiryAt"`
	EncryptionKey        *string                   `json:"encryptionKey"`
	PaymentURL           *string                   `json:"paymentUrl"`
	SaveForFutureUse     bool                      `json:"saveForFutureUse"`
	ShowSavedPayment     bool                      `json:"showSavedPayment"`
	AutoConfirm          bool                      `json:"autoConfirm"`
	CustomerID           *string                   `json:"customerId"`
	PaymentMethod        *map[string]string        `json:"paymentMethod"`
	PaymentMethodOptions map[string]cardOptionsOut `json:"paymentMethodOptions"`
	RedirectURL          redirectOut               `json:"redirectUrl"`
	CallbackURL          *string                   `json:"callbackUrl"`
	StatementDescriptor  *string                   `json:"statementDescriptor"`
	OrderInformation     json.RawMessage           `json:"orderInformation"`
	Metadata             map[string]string         `json:"metadata"`
	ChargeDetails        []charge                  `json:"chargeDetails"`
	CreatedAt            string                    `json:"createdAt"`
	UpdatedAt            string                    `json:"updatedAt"`
}

// iso is Pivot's time format: RFC 3339 in UTC, with milliseconds.
func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// render builds the session object, reading the latest payment for its
// charge. Only the latest charge is shown: the core links a session to
// its last attempt.
func (d *Dialect) render(ctx context.Context, merchantID string, v *payment.SessionView) (*sessionObject, error) {
	var p *payment.PaymentView
	if v.Payment != nil {
		pv, err := d.svc.GetPayment(ctx, merchantID, *v.Payment)
		if err != nil {
			return nil, err
		}
		p = &pv
	}
	return renderSession(v, p, d.svc.SessionURL(v.ID)), nil
}

// renderSession is render without I/O; pageURL is the hosted page.
func renderSession(v *payment.SessionView, p *payment.PaymentView, pageURL string) *sessionObject {
	pst := ""
	if p != nil {
		pst = p.Status
	}
	o := &sessionObject{ID: v.ID, Amount: amountOut{Value: FormatAmount(v.Amount, v.Currency), Currency: v.Currency},
		Mode: strings.ToUpper(v.Mode), Status: SessionStatus(v, pst), PaymentType: "SINGLE", ExpiryAt: iso(v.ExpiresAt),
		ShowSavedPayment: v.ShowSavedCards, AutoConfirm: v.Metadata[metaAutoConfirm] == "true", CustomerID: v.Customer,
		CallbackURL: v.CallbackURL, RedirectURL: redirectOut{Success: v.SuccessURL, Failure: v.FailureURL, Expiration: v.ExpiredURL},
		Metadata: map[string]string{}, ChargeDetails: []charge{}, CreatedAt: iso(v.Created), UpdatedAt: iso(v.Updated)}
	if v.OrderID != nil {
		o.ClientReferenceID = v.OrderID
	}
	if v.Description != nil {
		o.StatementDescriptor = v.Description
	}
	if t := v.Metadata[metaPaymentType]; t != "" {
		o.PaymentType = t
	}
	if s, ok := v.Metadata[metaSave]; ok {
		o.SaveForFutureUse = s == "true"
	} else {
		o.SaveForFutureUse = v.SaveCard == "always" || (v.Mode == "redirect" && v.SaveCard == "optional")
	}
	if v.Metadata[metaMethod] != "" {
		o.PaymentMethod = &map[string]string{"type": "CARD"}
	}
	opts := cardOptionsOut{CaptureMethod: v.CaptureMethod}
	switch v.ThreeDSecure {
	case payment.ThreeDSRequired:
		opts.ThreeDsMethod = optional("CHALLENGE")
	case payment.ThreeDSNever:
		opts.ThreeDsMethod = optional("NEVER")
	}
	o.PaymentMethodOptions = map[string]cardOptionsOut{"card": opts}
	if s := v.Metadata[metaOrder]; s != "" {
		o.OrderInformation = json.RawMessage(s)
	}
	for k, val := range v.Metadata {
		if !strings.HasPrefix(k, metaPrefix) {
			o.Metadata[k] = val
		}
	}
	if v.EncryptionKey != nil && v.Status == store.SessionOpen {
		o.EncryptionKey = optional(v.EncryptionKey.SPKI)
	}
	switch {
	case v.Status == store.SessionRequiresAction && v.NextAction != nil:
		o.PaymentURL = optional(v.NextAction.URL) // the 3-D Secure page
	case v.Mode == "redirect":
		o.PaymentURL = optional(pageURL)
	}
	if p != nil {
		o.ChargeDetails = append(o.ChargeDetails, renderCharge(v, p))
	}
	return o
}

// network is a brand as Pivot names it (paymentChannel, network).
func network(brand string) string { return strings.ToUpper(brand) }

func monthText(m int) string {
	if m < 1 || m > 12 {
		return ""
	}
	return strconv.Itoa(100 + m)[1:]
}

func yearText(y int) string {
	if y <= 0 {
		return ""
	}
	return strconv.Itoa(y)
}

// bins are first6 and first8 of a stored BIN (8 digits for 16-digit
// cards, else 6: first8 is then unknown).
func bins(bin string) (string, *string) {
	if len(bin) < 6 {
		return "", nil
	}
	if len(bin) >= 8 {
		return bin[:6], optional(bin[:8])
	}
	return bin[:6], nil
}

// paidAt is when the charge was paid (authorized, for manual capture):
// the moment its session turned succeeded, which the core never changes
// afterwards (a refund or capture changes the payment, not the session);
// for a charge whose session is not (yet) succeeded, the payment's
// creation. Never the payment's Updated, which moves with every refund.
func paidAt(v *payment.SessionView, p *payment.PaymentView) time.Time {
	if v.Status == store.SessionSucceeded && v.Payment != nil && *v.Payment == p.ID && !v.Updated.IsZero() {
		return v.Updated
	}
	return p.Created
}

func renderCharge(v *payment.SessionView, p *payment.PaymentView) charge {
	c := charge{ID: p.ID, Status: ChargeStatus(p.Status), CapturedAmount: FormatAmount(p.AmountCaptured, p.Currency),
		AuthorizedAmount: FormatAmount(0, p.Currency), IsCaptured: p.AmountCaptured > 0, Token: p.Token, CreatedAt: iso(p.Created)}
	switch p.Status {
	case store.PaymentSucceeded, store.PaymentRequiresCapture:
		c.AuthorizedAmount = FormatAmount(p.Amount, p.Currency)
		c.PaidAt = optional(iso(paidAt(v, p)))
	}
	if p.Failure != nil {
		c.FailureCode, c.FailureMessage = optional(p.Failure.Code), optional(pivotWords(p.Failure.Message))
	}
	first6, first8 := bins(p.Card.BIN)
	c.Card = chargeCard{First6: first6, First8: first8, Last4: p.Card.Last4, ExpMonth: monthText(p.Card.ExpMonth),
		ExpYear: yearText(p.Card.ExpYear), Network: network(p.Card.Brand), Fingerprint: p.Card.Fingerprint}
	if a := p.Authentication; a != nil {
		c.Card.AuthenticationResult = &authResult{Status: strings.ToUpper(a.Status), ECI: a.ECI, Version: a.Version, TransactionID: a.TransactionID}
	}
	return c
}
