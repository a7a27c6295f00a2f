package sensepass

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// SensePass's transaction status codes (PROVIDERS.md §2). Codes 1–3 and 10
// belong to its tap-to-pay stickers, which Coffer has none of.
const (
	StatusInitialize        = 0
	StatusProcessingPayment = 4
	StatusApproved          = 5
	StatusDeclined          = 6
	StatusFailed            = 7
	StatusTimeout           = 8
	StatusCancel            = 9
	StatusRefund            = 11
	StatusProcessingRefund  = 12
	StatusPartiallyRefunded = 13
)

// Words of the entity where Coffer has its own answer (documented in
// docs/dialects.md): the vault, the acquirer, the payment method.
const (
	statusNameUnknown        = "Unknown"
	paymentMethodName        = "Credit Card"
	vaultName                = "Coffer PCI"
	approvedByName           = "Coffer"
	commitEnabled            = "Payment commit is enabled for this transaction"
	commitDisabled           = "Payment commit is disabled for this transaction"
	callbackTypeTransactions = "transaction_status"
)

// StatusNames are the statusName of each code, spelled as SensePass does
// ("ProccessingPayment" included).
var StatusNames = map[int]string{
	0: "Initialize", 1: "TapDetected", 2: "UserApproved", 3: "UserDeclined", 4: "ProccessingPayment",
	5: "TransactionApproved", 6: "TransactionDeclined", 7: "TransactionFailed", 8: "TransactionTimeout",
	9: "TransactionCancel", 10: "WaitingForTap", 11: "TransactionRefund", 12: "TransactionProcessingRefund",
	13: "TransactionPartiallyRefunded",
}

func statusName(code int) string {
	if n, ok := StatusNames[code]; ok {
		return n
	}
	return statusNameUnknown
}

// methodType names, as transactions/init takes them and paymentDetails.type
// answers them.
const (
	methodTokenize        = "Tokenize"
	methodCaptureTokenize = "Capture+Tokenize"
	methodCapture         = "Capture"
	methodAuthorize       = "Authorize"
)

// transaction is SensePass's Transaction entity. Fields Coffer has no data
// for (the business's address, its branch, the point of sale) are present
// as empty strings, the type the seed shows. amount is a string in the
// currency's major units ("30.00", "1.234"), as SensePass's Transaction
// model has it; posData and products are given back as init took them
// (absent when it had none).
type transaction struct {
	TransactionNumber  string          `json:"TransactionNumber"`
	Date               string          `json:"date"`
	Status             int             `json:"status"`
	StatusName         string          `json:"statusName"`
	TimeoutDate        string          `json:"timeoutDate"`
	PaymentCommit      paymentCommit   `json:"paymentCommit"`
	BusinessID         string          `json:"businessId"`
	BusinessName       string          `json:"businessName"`
	POS                string          `json:"pos"`
	BusinessOwnerPhone string          `json:"businessOwnerPhone"`
	BusinessCountry    string          `json:"businessCountry"`
	BusinessCity       string          `json:"businessCity"`
	BusinessStreet     string          `json:"businessStreet"`
	BusinessAddress    string          `json:"businessAddress"`
	BranchNumber       string          `json:"branchNumber"`
	BranchID           string          `json:"branchId"`
	TransactionPage    transactionPage `json:"transactionPage"`
	PaymentDetails     paymentDetails  `json:"paymentDetails"`
	Amount             string          `json:"amount"`
	Currency           string          `json:"currency"`
	PosData            json.RawMessage `json:"posData,omitempty"`
	Products           json.RawMessage `json:"products,omitempty"`
	CallbackType       string          `json:"callbackType,omitempty"`
}

// paymentCommit keeps SensePass's spelling of its one key.
type paymentCommit struct {
	Message string `json:"messsage"`
}

type transactionPage struct {
	IOSLink     string `json:"iOSLink"`
	AndroidLink string `json:"androidLink"`
	QRURL       string `json:"qrURL"`
}

// paymentDetails is the type always, and the card once approved.
type paymentDetails struct {
	Type string `json:"type"`
	*cardDetails
	// Message says why the last attempt failed.
	Message string `json:"message,omitempty"`
}

type cardDetails struct {
	PaymentMethod  string `json:"paymentMethod"`
	Created        string `json:"created"`
	Token          string `json:"token"`
	CardType       string `json:"cardType"`
	LastFourDigits string `json:"lastFourDigits"`
	CardMask       string `json:"cardMask"`
	Expiration     string `json:"expiration"`
	ApprovedBy     string `json:"approvedBy"`
	PaymentID      string `json:"paymentId,omitempty"`
}

// sessionMethod is the methodType a session was created for.
func sessionMethod(v *payment.SessionView) string {
	switch {
	case v.Amount == 0:
		return methodTokenize
	case v.SaveCard == "always":
		return methodCaptureTokenize
	case v.CaptureMethod == "manual":
		return methodAuthorize
	}
	return methodCapture
}

// declined tells a card's refusal (6) from a failure to process (7).
func declined(f *store.Failure) bool {
	return f != nil && f.Code != "" && f.Code != "processing_error"
}

// refundStatus is the status of a captured payment with refunds (ok false
// when it has none).
func refundStatus(p *payment.PaymentView) (int, bool) {
	for _, r := range p.Refunds {
		if r.Status == "pending" {
			return StatusProcessingRefund, true
		}
	}
	switch {
	case p.AmountRefunded > 0 && p.AmountRefunded >= p.AmountCaptured:
		return StatusRefund, true
	case p.AmountRefunded > 0:
		return StatusPartiallyRefunded, true
	}
	return 0, false
}

// sessionStatus maps a session (and its payment, when read live) to a code.
func sessionStatus(v *payment.SessionView, pay *payment.PaymentView) int {
	switch v.Status {
	case "open":
		return StatusInitialize
	case "requires_action":
		return StatusProcessingPayment
	case "succeeded":
		if pay != nil {
			if pay.Status == store.PaymentCanceled {
				return StatusCancel // an authorization voided afterwards
			}
			if st, ok := refundStatus(pay); ok {
				return st
			}
		}
		return StatusApproved
	case "failed":
		if declined(v.LastError) {
			return StatusDeclined
		}
		return StatusFailed
	case "expired":
		return StatusTimeout
	case "canceled":
		return StatusCancel
	}
	return StatusFailed
}

// paymentStatus maps a payment made by transactions/pay to a code.
func paymentStatus(p *payment.PaymentView) int {
	switch p.Status {
	case store.PaymentSucceeded:
		if st, ok := refundStatus(p); ok {
			return st
		}
		return StatusApproved
	case store.PaymentRequiresCapture:
		return StatusApproved
	case store.PaymentCanceled:
		return StatusCancel
	case store.PaymentFailed:
		if declined(p.Failure) {
			return StatusDeclined
		}
		return StatusFailed
	}
	return StatusProcessingPayment
}

func commit(captureMethod string) paymentCommit {
	if captureMethod == "manual" {
		return paymentCommit{commitDisabled}
	}
	return paymentCommit{commitEnabled}
}

// base is the entity's merchant part.
func base(m *store.Merchant) transaction {
	return transaction{BusinessID: m.ID, BusinessName: m.Name}
}

// tokenCard is the card of a saved token.
func tokenCard(t *store.Token) *cardDetails {
	return &cardDetails{PaymentMethod: vaultName, Created: iso(t.Created), Token: t.ID, CardType: t.Brand, LastFourDigits: t.Last4,
		CardMask: t.Mask, Expiration: mmyy(t.ExpMonth, t.ExpYear), ApprovedBy: paymentMethodName}
}

// paymentCard is the card a payment was made with.
func paymentCard(p *payment.PaymentView) *cardDetails {
	c := &cardDetails{PaymentMethod: vaultName, Created: iso(p.Created), CardType: p.Card.Brand, LastFourDigits: p.Card.Last4,
		CardMask: p.Card.Mask, Expiration: mmyy(p.Card.ExpMonth, p.Card.ExpYear), ApprovedBy: paymentMethodName, PaymentID: p.ID}
	if p.Token != nil {
		c.Token = *p.Token
	}
	return c
}

// sessionEntity renders a session as a Transaction. An approved one is
// looked up for its card (the saved token, or the payment); with live set,
// its payment's later refunds or void decide the status, as GET shows it
// now. Callbacks leave live unset: each tells of its own event.
func (d *Dialect) sessionEntity(ctx context.Context, m *store.Merchant, v *payment.SessionView, live bool) (transaction, error) {
	var pay *payment.PaymentView
	var tok *store.Token
	if v.Status == "succeeded" {
		if v.Payment != nil {
			p, err := d.svc.GetPayment(ctx, m.ID, *v.Payment)
			if err != nil && !isNotFound(err) {
				return transaction{}, err
			}
			if err == nil {
				pay = &p
			}
		} else if v.Token != nil {
			t, err := d.svc.GetToken(ctx, m.ID, *v.Token)
			if err != nil && !isNotFound(err) {
				return transaction{}, err
			}
			tok = t // nil when deleted since: the entity then has no card
		}
	}
	livePay := pay
	if !live {
		livePay = nil
	}
	return renderSession(m, v, d.svc.SessionURL(v.ID), pay, tok, livePay), nil
}

// renderSession is sessionEntity without the lookups.
func renderSession(m *store.Merchant, v *payment.SessionView, page string, pay *payment.PaymentView, tok *store.Token, live *payment.PaymentView) transaction {
	t := base(m)
	t.TransactionNumber, t.Date, t.TimeoutDate = v.ID, iso(v.Created), iso(v.ExpiresAt)
	t.Status = sessionStatus(v, live)
	t.StatusName = statusName(t.Status)
	t.PaymentCommit = commit(v.CaptureMethod)
	// qrURL is the link itself, as in SensePass's seed: the merchant encodes
	// it in its own QR code, or sends it by SMS or e-mail. Coffer's PNG of
	// it lives at <page>/qr.png (docs/dialects.md).
	t.TransactionPage = transactionPage{IOSLink: page, AndroidLink: page, QRURL: page}
	t.Amount, t.Currency = money.Format(v.Amount, v.Currency), v.Currency
	t.PosData, t.Products = fromMetadata(v.Metadata)
	t.PaymentDetails.Type = sessionMethod(v)
	switch {
	case pay != nil:
		t.PaymentDetails.cardDetails = paymentCard(pay)
	case tok != nil:
		t.PaymentDetails.cardDetails = tokenCard(tok)
	}
	if v.LastError != nil && v.Status != "succeeded" {
		t.PaymentDetails.Message = v.LastError.Message
	}
	return t
}

// paymentEntity renders a payment made by transactions/pay as a
// Transaction: it has no page and no time limit.
func paymentEntity(m *store.Merchant, p *payment.PaymentView) transaction {
	t := base(m)
	t.TransactionNumber, t.Date = p.ID, iso(p.Created)
	t.Status = paymentStatus(p)
	t.StatusName = statusName(t.Status)
	t.PaymentCommit = commit(p.CaptureMethod)
	t.Amount, t.Currency = money.Format(p.Amount, p.Currency), p.Currency
	t.PaymentDetails.Type = methodCapture
	if p.CaptureMethod == "manual" {
		t.PaymentDetails.Type = methodAuthorize
	}
	switch p.Status {
	case store.PaymentSucceeded, store.PaymentRequiresCapture:
		t.PaymentDetails.cardDetails = paymentCard(p)
	case store.PaymentFailed:
		if p.Failure != nil {
			t.PaymentDetails.Message = p.Failure.Message
		}
	}
	return t
}

// fromMetadata rebuilds posData and products from the session metadata
// init stored them in (see sessionParams): posData is the string sent, or
// the compact JSON of any other value when the posDataType key says
// "json"; products is the compact JSON of an array. A value another client
// put there that is no such JSON is given back as a string.
func fromMetadata(md map[string]string) (posData, products json.RawMessage) {
	asString := func(s string) json.RawMessage {
		b, _ := json.Marshal(s)
		return b
	}
	if v, ok := md[metaPosData]; ok {
		if md[metaPosDataType] == posDataJSON && json.Valid([]byte(v)) {
			posData = json.RawMessage(v)
		} else {
			posData = asString(v)
		}
	}
	if v, ok := md[metaProducts]; ok {
		if t := bytes.TrimSpace([]byte(v)); len(t) > 0 && t[0] == '[' && json.Valid(t) {
			products = json.RawMessage(t)
		} else {
			products = asString(v)
		}
	}
	return posData, products
}

func isNotFound(err error) bool {
	var pe *payment.Error
	return errors.As(err, &pe) && pe.Kind == payment.KindNotFound
}

// isSession and isPayment tell the two kinds of transaction number apart.
func isSession(n string) bool { return id.HasPrefix(n, "ps") }
func isPayment(n string) bool { return id.HasPrefix(n, "pay") }

// lookup reads a transaction as it is now.
// ours tells transactions/init's sessions: another dialect's (an Ottu
// checkout, a Pivot session) or a native one keeps its own rules, and a
// SensePass key must not read, watch or cancel it.
func ours(v payment.SessionView) bool {
	return v.CallbackFormat == Format || v.CallbackFormat == FormatGET
}

func (d *Dialect) lookup(ctx context.Context, m *store.Merchant, number string) (transaction, error) {
	switch {
	case isSession(number):
		v, err := d.svc.GetSession(ctx, m.ID, number)
		if err != nil {
			return transaction{}, err
		}
		if !ours(v) {
			return transaction{}, newError(http.StatusNotFound, "resource_missing", "%s", notFoundMessage(""))
		}
		return d.sessionEntity(ctx, m, &v, true)
	case isPayment(number):
		p, err := d.svc.GetPayment(ctx, m.ID, number)
		if err != nil {
			return transaction{}, err
		}
		return paymentEntity(m, &p), nil
	}
	return transaction{}, newError(http.StatusNotFound, "resource_missing", "%s", notFoundMessage(""))
}

// Get answers a transaction's status: GET /transactions/{transactionNumber}.
// Its credentials come, as SensePass sends them, in a JSON body ({"apiKey":…}
// or {"deviceId":…}, bounded like every body; an empty body is fine), or
// else in the apiKey or deviceId header.
func (d *Dialect) Get(w http.ResponseWriter, r *http.Request) {
	var c credentials
	m, ok := d.request(w, r, &c, &c, true)
	if !ok {
		return
	}
	t, err := d.lookup(r.Context(), m, r.PathValue("transactionNumber"))
	if err != nil {
		d.fail(w, r, "get", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// Cancel cancels a transaction: an open session, or an authorization not
// yet captured (an Authorize session's, or a payment's). Canceling what is
// already canceled answers the same: a client's retry must not fail.
// POST /transactions/cancel/{transactionNumber}.
//
// Voiding an Authorize session's payment sends no callback: the session
// itself stays succeeded (its payment is what changes), and the core has no
// session event for that, which a dialect cannot write (it never touches
// the store). GET and the socket show the 9 at once; the docs say so.
func (d *Dialect) Cancel(w http.ResponseWriter, r *http.Request) {
	var c credentials
	m, ok := d.request(w, r, &c, &c, true)
	if !ok {
		return
	}
	ctx, number := r.Context(), r.PathValue("transactionNumber")
	t, err := d.lookup(ctx, m, number)
	if err != nil {
		d.fail(w, r, "cancel", err)
		return
	}
	pd := t.PaymentDetails
	switch {
	case t.Status == StatusCancel:
	case isSession(number) && t.Status == StatusInitialize:
		_, err = d.svc.CancelSession(ctx, m.ID, number)
	case t.Status == StatusApproved && pd.Type == methodAuthorize && pd.cardDetails != nil && pd.PaymentID != "":
		// The core refuses (422) an authorization captured meanwhile.
		_, err = d.svc.CancelPayment(ctx, m.ID, pd.PaymentID)
	default:
		writeError(w, newError(http.StatusUnprocessableEntity, "invalid_state", "The transaction is %s and cannot be canceled.", t.StatusName))
		return
	}
	if err != nil {
		d.fail(w, r, "cancel", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": 200, "status_message": "Transaction Was Canceled"})
}
