package authorizenet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/processor"
)

// Transaction statuses (the Transaction Details API's transactionStatus).
var (
	capturedStatuses = map[string]bool{"capturedPendingSettlement": true, "settledSuccessfully": true,
		"pendingFinalSettlement": true, "pendingSettlement": true, "settlementError": true,
		"updatingSettlement": true, "underReview": true, "approvedReview": true,
		"returnedItem": true, "chargeback": true, "chargebackReversal": true}
	voidedStatuses  = map[string]bool{"voided": true, "expired": true}
	heldStatuses    = map[string]bool{"FDSPendingReview": true, "FDSAuthorizedPendingReview": true}
	errorStatuses   = map[string]bool{"generalError": true, "communicationError": true}
	refundStatuses  = map[string]bool{"refundPendingSettlement": true, "refundSettledSuccessfully": true}
	declineStatuses = map[string]bool{"declined": true, "failedReview": true, "reject": true, "decline": true}
)

// errDuplicate is reason 11: the gateway refused a repeat inside the
// duplicate window; the original must be looked up.
var errDuplicate = errors.New("authorize.net: duplicate transaction")

// create sends a createTransactionRequest and returns its transaction
// result, whatever the top-level resultCode (a decline says "Error" there).
func (c *Client) create(ctx context.Context, refID string, tr transactionRequest) (*transactionResponse, error) {
	var out createTransactionResponse
	err := c.call(ctx, "createTransactionRequest", createTransactionRequest{
		MerchantAuthentication: c.auth(), RefID: refID, TransactionRequest: tr}, &out)
	if out.TransactionResponse != nil && out.TransactionResponse.ResponseCode != "" {
		var ae *apiError
		if err == nil || errors.As(err, &ae) {
			return out.TransactionResponse, nil
		}
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			if ae.Code == "E00040" { // a customer or payment profile that does not exist
				return nil, fmt.Errorf("%w: %v", processor.ErrInvalidRequest, ae)
			}
			return nil, ae.mapped()
		}
		return nil, err
	}
	return nil, fmt.Errorf("%w: createTransactionRequest: no transaction result", processor.ErrUnavailable)
}

// failure maps a responseCode 3 answer that is not about the card.
func (c *Client) failure(tr *transactionResponse) error {
	reason, text := firstError(tr)
	text = c.scrub(text)
	switch {
	case reason == "11":
		return errDuplicate
	case retryLater[reason]:
		return fmt.Errorf("%w: %v", processor.ErrUnavailable, &txError{reason, text})
	case reason == "13":
		return fmt.Errorf("%w: authorize.net reason 13: the API login ID is invalid or the account inactive", processor.ErrUnreachable)
	case reason == "16":
		return fmt.Errorf("%w: %v", processor.ErrNotFound, &txError{reason, text})
	case reason == "47", reason == "310", reason == "311", reason == "50", reason == "51",
		reason == "54", reason == "55":
		return fmt.Errorf("%w: %v", processor.ErrInvalidState, &txError{reason, text})
	}
	return fmt.Errorf("%w: %v", processor.ErrInvalidRequest, &txError{reason, text})
}

// charge is what Authorize, Sale and Verify send.
type charge struct {
	txType, kind  string // authOnlyTransaction|authCaptureTransaction; auth|sale|verify
	merchant, ref string
	invoice       string
	card          processor.Card
	stored        *processor.StoredCard
	amount        int64
	currency      string
}

func (c *Client) chargeRequest(ch charge) transactionRequest {
	tr := transactionRequest{TransactionType: ch.txType, Amount: amountString(ch.amount),
		CurrencyCode: strings.ToUpper(ch.currency)}
	if ch.stored != nil {
		tr.Profile = &profilePayment{CustomerProfileID: ch.stored.CustomerProfileID,
			PaymentProfile: paymentProfileR{PaymentProfileID: ch.stored.PaymentProfileID}}
	} else {
		tr.Payment = &payment{CreditCard: creditCard{CardNumber: digitsOnly(ch.card.Number),
			ExpirationDate: fmt.Sprintf("%04d-%02d", ch.card.ExpYear, ch.card.ExpMonth), CardCode: ch.card.CVC}}
	}
	if ch.invoice != "" {
		tr.Order = &order{InvoiceNumber: ch.invoice, Description: description(ch.kind, strings.ToUpper(ch.currency), ch.ref)}
	}
	if ch.stored == nil && (ch.card.HolderName != "" || ch.card.AddressLine1 != "" || ch.card.PostalCode != "" || ch.card.Country != "") {
		first, last := splitName(ch.card.HolderName)
		tr.BillTo = &billTo{FirstName: cut(first, 50), LastName: cut(last, 50), Address: cut(ch.card.AddressLine1, 60),
			Zip: cut(ch.card.PostalCode, 20), Country: cut(ch.card.Country, 60)}
	}
	window := DuplicateWindow
	if ch.invoice == "" {
		window = 0 // no reference: every call is new, so nothing is a duplicate
	}
	tr.TransactionSettings = &settings{Setting: setting{SettingName: "duplicateWindow", SettingValue: strconv.Itoa(window)}}
	return tr
}

func digitsOnly(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func splitName(n string) (first, last string) {
	n = strings.TrimSpace(n)
	if i := strings.LastIndexByte(n, ' '); i > 0 {
		return strings.TrimSpace(n[:i]), n[i+1:]
	}
	return "", n
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// send submits a charge and interprets the answer. A duplicate (the gateway
// saw the same invoice, card and amount inside the window) is resolved by
// finding the original.
func (c *Client) send(ctx context.Context, ch charge) (*transactionDetails, outcome, error) {
	hasAddr := ch.card.AddressLine1 != "" || ch.card.PostalCode != ""
	hasCVC := ch.card.CVC != ""
	tr, err := c.create(ctx, ch.invoice, c.chargeRequest(ch))
	if err != nil {
		return nil, outcome{}, err
	}
	avs, cvc := avsResult(tr.AVSResultCode, hasAddr), cvcResult(tr.CVVResultCode, hasCVC)
	switch string(tr.ResponseCode) {
	case rcApproved:
		return nil, outcome{auth: processor.Authorization{ID: string(tr.TransID), AuthCode: tr.AuthCode,
			Amount: ch.amount, Currency: strings.ToUpper(ch.currency), AVSResult: avs, CVCResult: cvc}}, nil
	case rcDeclined:
		reason, _ := firstError(tr)
		return nil, outcome{decline: declineFor(reason, false, avs, cvc)}, nil
	case rcHeld:
		c.declineHeld(ctx, string(tr.TransID))
		return nil, outcome{decline: declineFor("", true, avs, cvc)}, nil
	}
	reason, _ := firstError(tr)
	if isCardError(reason) {
		return nil, outcome{decline: declineFor(reason, false, avs, cvc)}, nil
	}
	err = c.failure(tr)
	if !errors.Is(err, errDuplicate) {
		return nil, outcome{}, err
	}
	if ch.invoice == "" {
		return nil, outcome{}, fmt.Errorf("%w: authorize.net reported a duplicate of a transaction without reference", processor.ErrInvalidState)
	}
	if id := string(tr.TransID); id != "" && id != "0" {
		if d, err := c.details(ctx, id); err == nil && d.Order != nil && d.Order.InvoiceNumber == ch.invoice {
			return d, outcomeOf(d), nil
		}
	}
	d, err := c.find(ctx, ch.invoice, ch.ref, 0)
	if err != nil {
		return nil, outcome{}, err
	}
	if d == nil {
		return nil, outcome{}, fmt.Errorf("%w: authorize.net reported a duplicate but the original is not listed yet", processor.ErrUnavailable)
	}
	return d, outcomeOf(d), nil
}

// declineHeld asks Authorize.net to decline a transaction its fraud filters
// held for review, so that nobody approves it later behind Coffer's back.
// Best effort: a failure leaves the hold for the merchant to decline.
func (c *Client) declineHeld(ctx context.Context, transID string) {
	if transID == "" || transID == "0" {
		return
	}
	var out updateHeldTransactionResponse
	_ = c.call(ctx, "updateHeldTransactionRequest", updateHeldTransactionRequest{MerchantAuthentication: c.auth(),
		HeldTransactionRequest: heldTransactionRequest{Action: "decline", RefTransID: transID}}, &out)
}

// outcomeOf reads an authorization's result from its details.
func outcomeOf(d *transactionDetails) outcome {
	avs, cvc := avsResult(d.AVSResponse, true), cvcResult(d.CardCodeResponse, true)
	reason := string(d.ResponseReasonCode)
	switch {
	case string(d.ResponseCode) == rcHeld || heldStatuses[d.TransactionStatus]:
		return outcome{decline: declineFor("", true, avs, cvc)}
	case string(d.ResponseCode) == rcDeclined || declineStatuses[d.TransactionStatus] ||
		(string(d.ResponseCode) == rcError && isCardError(reason)):
		return outcome{decline: declineFor(reason, false, avs, cvc)}
	}
	amount, _ := d.AuthAmount.minor()
	currency := ""
	if d.Order != nil {
		_, currency, _, _ = parseDescription(d.Order.Description)
	}
	return outcome{auth: processor.Authorization{ID: string(d.TransID), AuthCode: d.AuthCode,
		Amount: amount, Currency: currency, AVSResult: avs, CVCResult: cvc}}
}

func (o outcome) result() (processor.Authorization, error) {
	if o.decline != nil {
		d := *o.decline
		return processor.Authorization{}, &d
	}
	return o.auth, nil
}

func validateCharge(r processor.AuthorizeRequest) error {
	if err := checkAmount(r.Amount, r.Currency, false); err != nil {
		return err
	}
	if r.Stored != nil && (!numeric(r.Stored.CustomerProfileID) || !numeric(r.Stored.PaymentProfileID)) {
		return fmt.Errorf("%w: a stored card needs numeric customer and payment profile ids", processor.ErrInvalidRequest)
	}
	return nil
}

func numeric(s string) bool {
	return s != "" && digitsOnly(s) == s
}

// precheck finds what the gateway already did for an invoice. Failing to
// ask is ErrUnreachable: nothing has been charged yet.
func (c *Client) precheck(ctx context.Context, invoice, reference string) (*transactionDetails, outcome, bool, error) {
	if o, ok := c.recall(invoice); ok {
		return nil, o, true, nil
	}
	d, err := c.find(ctx, invoice, reference, c.cfg.RepeatCheckDays)
	if err != nil {
		if ctx.Err() != nil {
			return nil, outcome{}, false, err
		}
		return nil, outcome{}, false, fmt.Errorf("%w: checking for an earlier transaction of this reference: %v", processor.ErrUnreachable, err)
	}
	if d == nil {
		return nil, outcome{}, false, nil
	}
	o := outcomeOf(d)
	c.remember(invoice, o)
	return d, o, true, nil
}

// Authorize implements processor.Processor with an authOnlyTransaction.
func (c *Client) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := validateCharge(r); err != nil {
		return processor.Authorization{}, err
	}
	ch := charge{txType: "authOnlyTransaction", kind: "auth", merchant: r.MerchantID, ref: r.Reference,
		card: r.Card, stored: r.Stored, amount: r.Amount, currency: r.Currency}
	if r.Reference != "" {
		ch.invoice = authInvoice(r.MerchantID, r.Reference)
		if _, o, ok, err := c.precheck(ctx, ch.invoice, r.Reference); err != nil || ok {
			if err != nil {
				return processor.Authorization{}, err
			}
			return o.result()
		}
	}
	_, o, err := c.send(ctx, ch)
	if err != nil {
		return processor.Authorization{}, err
	}
	if ch.invoice != "" {
		c.remember(ch.invoice, o)
	}
	return o.result()
}

// Sale implements processor.Processor with an authCaptureTransaction. A
// repeat finds the first transaction; if that was an Authorize still
// uncaptured, it is captured now.
func (c *Client) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	if err := validateCharge(r); err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	ch := charge{txType: "authCaptureTransaction", kind: "sale", merchant: r.MerchantID, ref: r.Reference,
		card: r.Card, stored: r.Stored, amount: r.Amount, currency: r.Currency}
	if r.Reference != "" {
		ch.invoice = authInvoice(r.MerchantID, r.Reference)
		if _, o, ok, err := c.precheck(ctx, ch.invoice, r.Reference); err != nil || ok {
			if err != nil {
				return processor.Authorization{}, processor.Capture{}, err
			}
			return c.completeSale(ctx, o)
		}
	}
	d, o, err := c.send(ctx, ch)
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	if ch.invoice != "" {
		c.remember(ch.invoice, o)
	}
	if o.decline != nil || d != nil {
		// A decline, or a duplicate resolved to the first transaction (which
		// may be an Authorize still to capture).
		return c.completeSale(ctx, o)
	}
	return o.auth, processor.Capture{ID: o.auth.ID, AuthorizationID: o.auth.ID, Amount: o.auth.Amount}, nil
}

// completeSale answers a Sale from a known outcome, capturing an
// authorization that is still uncaptured.
func (c *Client) completeSale(ctx context.Context, o outcome) (processor.Authorization, processor.Capture, error) {
	auth, err := o.result()
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	d, err := c.details(ctx, auth.ID)
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	switch {
	case capturedStatuses[d.TransactionStatus]:
		amount, _ := d.SettleAmount.minor()
		return auth, processor.Capture{ID: auth.ID, AuthorizationID: auth.ID, Amount: amount}, nil
	case voidedStatuses[d.TransactionStatus]:
		return processor.Authorization{}, processor.Capture{}, fmt.Errorf("%w: authorization is voided", processor.ErrInvalidState)
	}
	cp, err := c.Capture(ctx, auth.ID, auth.Amount)
	if err != nil {
		return processor.Authorization{}, processor.Capture{}, err
	}
	return auth, cp, nil
}

// Capture implements processor.Processor with a priorAuthCaptureTransaction.
// Authorize.net keeps one transaction id for the authorization and its
// capture, so the capture's id is the authorization's.
func (c *Client) Capture(ctx context.Context, authorizationID string, amount int64) (processor.Capture, error) {
	if amount <= 0 {
		return processor.Capture{}, fmt.Errorf("%w: amount must be positive", processor.ErrInvalidRequest)
	}
	if !numeric(authorizationID) {
		return processor.Capture{}, fmt.Errorf("%w: authorization %q", processor.ErrNotFound, authorizationID)
	}
	tr, err := c.create(ctx, "", transactionRequest{TransactionType: "priorAuthCaptureTransaction",
		Amount: amountString(amount), RefTransID: authorizationID})
	if err != nil {
		return processor.Capture{}, err
	}
	if string(tr.ResponseCode) == rcApproved {
		return processor.Capture{ID: authorizationID, AuthorizationID: authorizationID, Amount: amount}, nil
	}
	return processor.Capture{}, c.stateError(ctx, authorizationID, c.failure(tr))
}

// stateError turns "transaction cannot be found" (16), which the gateway
// also says of a transaction in the wrong state, into ErrInvalidState when
// the transaction does exist.
func (c *Client) stateError(ctx context.Context, id string, err error) error {
	if !errors.Is(err, processor.ErrNotFound) {
		return err
	}
	d, derr := c.details(ctx, id)
	if derr != nil {
		return err
	}
	return fmt.Errorf("%w: transaction %s is %s", processor.ErrInvalidState, id, d.TransactionStatus)
}

// Void implements processor.Processor with a voidTransaction, after reading
// the transaction's state: Authorize.net would also void a capture that has
// not settled yet, which Coffer's contract refuses (refund it instead).
func (c *Client) Void(ctx context.Context, authorizationID string) error {
	if !numeric(authorizationID) {
		return fmt.Errorf("%w: authorization %q", processor.ErrNotFound, authorizationID)
	}
	d, err := c.details(ctx, authorizationID)
	if err != nil {
		return err
	}
	switch {
	case voidedStatuses[d.TransactionStatus]:
		return nil
	case capturedStatuses[d.TransactionStatus]:
		return fmt.Errorf("%w: authorization is captured; refund it instead", processor.ErrInvalidState)
	case d.TransactionStatus != "authorizedPendingCapture" && d.TransactionStatus != "FDSAuthorizedPendingReview":
		return fmt.Errorf("%w: transaction %s is %s", processor.ErrInvalidState, authorizationID, d.TransactionStatus)
	}
	tr, err := c.create(ctx, "", transactionRequest{TransactionType: "voidTransaction", RefTransID: authorizationID})
	if err != nil {
		return err
	}
	if string(tr.ResponseCode) == rcApproved {
		return nil
	}
	if reason, _ := firstError(tr); reason == "310" { // already voided
		return nil
	}
	return c.stateError(ctx, authorizationID, c.failure(tr))
}

// Refund implements processor.Processor with a refundTransaction. The card's
// last four digits (or the customer payment profile) come from the
// transaction's details; Authorize.net refunds only settled transactions.
func (c *Client) Refund(ctx context.Context, captureID string, amount int64, reference string) (processor.Refund, error) {
	if amount <= 0 {
		return processor.Refund{}, fmt.Errorf("%w: amount must be positive", processor.ErrInvalidRequest)
	}
	if !numeric(captureID) {
		return processor.Refund{}, fmt.Errorf("%w: capture %q", processor.ErrNotFound, captureID)
	}
	invoice := ""
	if reference != "" {
		invoice = refundInvoice(captureID, reference)
		if rf, err := c.findRefund(ctx, captureID, reference, c.cfg.RepeatCheckDays); err == nil {
			return rf, nil
		} else if !errors.Is(err, processor.ErrNotFound) {
			if ctx.Err() != nil {
				return processor.Refund{}, err
			}
			return processor.Refund{}, fmt.Errorf("%w: checking for an earlier refund of this reference: %v", processor.ErrUnreachable, err)
		}
	}
	d, err := c.details(ctx, captureID)
	if err != nil {
		return processor.Refund{}, err
	}
	switch {
	case d.TransactionStatus == "settledSuccessfully":
	case capturedStatuses[d.TransactionStatus]:
		return processor.Refund{}, fmt.Errorf("%w: the capture has not settled yet (%s); Authorize.net refunds only settled transactions", processor.ErrInvalidState, d.TransactionStatus)
	default:
		return processor.Refund{}, fmt.Errorf("%w: transaction %s is %s, not a settled capture", processor.ErrInvalidState, captureID, d.TransactionStatus)
	}
	currency := ""
	if d.Order != nil {
		_, currency, _, _ = parseDescription(d.Order.Description)
	}
	tr := transactionRequest{TransactionType: "refundTransaction", Amount: amountString(amount), CurrencyCode: currency,
		RefTransID: captureID}
	switch {
	case d.Profile != nil && d.Profile.CustomerProfileID != "" && d.Profile.CustomerPaymentProfileID != "":
		tr.Profile = &profilePayment{CustomerProfileID: string(d.Profile.CustomerProfileID),
			PaymentProfile: paymentProfileR{PaymentProfileID: string(d.Profile.CustomerPaymentProfileID)}}
	case d.Payment != nil && d.Payment.CreditCard != nil:
		last4 := digitsOnly(d.Payment.CreditCard.CardNumber)
		if len(last4) > 4 {
			last4 = last4[len(last4)-4:]
		}
		tr.Payment = &payment{CreditCard: creditCard{CardNumber: last4, ExpirationDate: "XXXX"}}
	default:
		return processor.Refund{}, fmt.Errorf("%w: transaction %s has no card to refund to", processor.ErrInvalidState, captureID)
	}
	window := 0
	if invoice != "" {
		window = DuplicateWindow
		tr.Order = &order{InvoiceNumber: invoice, Description: description("refund", currency, reference)}
	}
	tr.TransactionSettings = &settings{Setting: setting{SettingName: "duplicateWindow", SettingValue: strconv.Itoa(window)}}
	resp, err := c.create(ctx, invoice, tr)
	if err != nil {
		return processor.Refund{}, err
	}
	if string(resp.ResponseCode) == rcApproved {
		rf := processor.Refund{ID: string(resp.TransID), CaptureID: captureID, Amount: amount}
		if invoice != "" {
			c.mu.Lock()
			c.refunds[invoice] = rf
			c.mu.Unlock()
		}
		return rf, nil
	}
	err = c.failure(resp)
	if errors.Is(err, errDuplicate) && reference != "" {
		if rf, lerr := c.findRefund(ctx, captureID, reference, 0); lerr == nil {
			return rf, nil
		}
		return processor.Refund{}, fmt.Errorf("%w: authorize.net reported a duplicate refund but it is not listed yet", processor.ErrUnavailable)
	}
	return processor.Refund{}, c.stateError(ctx, captureID, err)
}

// Verify implements processor.Processor: an authOnlyTransaction of r.Amount
// (0 is sent as a zero-dollar authorization) voided at once. Verification's
// Voided is false if the void failed; the authorization then expires at the
// issuer on its own.
func (c *Client) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	if err := checkAmount(r.Amount, r.Currency, true); err != nil {
		return processor.Verification{}, err
	}
	ch := charge{txType: "authOnlyTransaction", kind: "verify", merchant: r.MerchantID, ref: r.Reference,
		card: r.Card, amount: r.Amount, currency: r.Currency}
	var o outcome
	known := false
	if r.Reference != "" {
		ch.invoice = verifyInvoice(r.MerchantID, r.Reference)
		o, known = c.recall(ch.invoice)
	}
	if !known {
		var err error
		if _, o, err = c.send(ctx, ch); err != nil {
			return processor.Verification{}, err
		}
		if ch.invoice != "" {
			c.remember(ch.invoice, o)
		}
	}
	auth, err := o.result()
	if err != nil {
		return processor.Verification{}, err
	}
	verr := c.Void(ctx, auth.ID)
	return processor.Verification{AuthorizationID: auth.ID, AuthCode: auth.AuthCode, AVSResult: auth.AVSResult,
		CVCResult: auth.CVCResult, Voided: verr == nil}, nil
}
