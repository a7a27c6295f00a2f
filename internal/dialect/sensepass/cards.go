package sensepass

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// cardIn is a card as SensePass sends it. It holds a PAN and CVC, so it
// formats itself redacted: a stray %v or slog call cannot leak it.
type cardIn struct {
	CardNumber     string `json:"cardNumber"`
	CardExpiration string `json:"cardExpiration"` // MM/YY
	SecurityCode   string `json:"securityCode"`
	CardHolderName string `json:"cardHolderName"`
}

func (c cardIn) String() string       { return "card(redacted)" }
func (c cardIn) GoString() string     { return "sensepass.cardIn{redacted}" }
func (c cardIn) LogValue() slog.Value { return slog.StringValue("card(redacted)") }

// ParseExpiration reads cardExpiration: "MM/YY" as SensePass documents it,
// and also "MMYY" (the form its answers use) and "MM/YYYY". The year is
// returned with four digits. Whether the card has expired is the core's to
// say.
func ParseExpiration(s string) (month, year int, ok bool) {
	s = strings.TrimSpace(s)
	var ms, ys string
	switch {
	case len(s) == 5 && s[2] == '/':
		ms, ys = s[:2], s[3:]
	case len(s) == 4:
		ms, ys = s[:2], s[2:]
	case len(s) == 7 && s[2] == '/':
		ms, ys = s[:2], s[3:]
	default:
		return 0, 0, false
	}
	if !digitsOnly(ms) || !digitsOnly(ys) {
		return 0, 0, false
	}
	month = int(ms[0]-'0')*10 + int(ms[1]-'0')
	for i := 0; i < len(ys); i++ {
		year = year*10 + int(ys[i]-'0')
	}
	if len(ys) == 2 {
		year += 2000
	}
	if month < 1 || month > 12 || year < 2000 || year > 2099 {
		return 0, 0, false
	}
	return month, year, true
}

// cardInput translates a card; its number and code are checked by the core.
func cardInput(c *cardIn) (*payment.CardInput, *apiError) {
	month, year, ok := ParseExpiration(c.CardExpiration)
	if !ok {
		return nil, badRequest("cardExpiration must look like MM/YY")
	}
	return &payment.CardInput{Number: c.CardNumber, ExpMonth: month, ExpYear: year, CVC: c.SecurityCode,
		HolderName: strings.TrimSpace(c.CardHolderName)}, nil
}

// masked is a card number as an answer may show it: BIN and last 4, or
// nothing when it is no valid card number.
func masked(number string) string {
	pan, _, err := card.ParseNumber(number)
	if err != nil {
		return ""
	}
	return card.Mask(pan)
}

type tokenizeRequest struct {
	credentials
	CreditCardDetails []cardIn `json:"creditCardDetails"`
}

func (*tokenizeRequest) CardPaths() []string { return []string{"creditCardDetails[].cardNumber"} }

// tokenized is one card of tokenize's answer. Unlike SensePass's, it never
// carries the security code, and its cardNumber is masked.
type tokenized struct {
	CardNumber     string     `json:"cardNumber"`
	CardExpiration string     `json:"cardExpiration"`
	UID            string     `json:"uid"`
	Token          string     `json:"token"`
	Error          *itemError `json:"error,omitempty"`
}

type itemError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// msgRawRefused is the 403 of an endpoint taking card numbers in clear
// while the merchant's accept_raw_card_data is off.
const msgRawRefused = "This merchant does not accept card details in clear (setting accept_raw_card_data)"

func rawCardsRefused(alternative string) *apiError {
	return newError(http.StatusForbidden, "raw_card_data_refused", "%s; %s.", msgRawRefused, alternative)
}

// Tokenize verifies and saves cards, each on its own: POST
// /transactions/tokenize. The answer is an array in the order of the cards;
// a card that failed has empty uid and token and an error. It takes card
// numbers in clear, so it is refused, before any card is looked at, unless
// the merchant's accept_raw_card_data is on.
func (d *Dialect) Tokenize(w http.ResponseWriter, r *http.Request) {
	var req tokenizeRequest
	m, ok := d.request(w, r, &req, &req.credentials, false)
	if !ok {
		return
	}
	cards := req.CreditCardDetails
	switch {
	case !m.Settings.AcceptRawCardData:
		writeError(w, rawCardsRefused("save cards through transactions/init with methodType Tokenize"))
		return
	case len(cards) == 0:
		writeError(w, badRequest("creditCardDetails must hold at least one card"))
		return
	case len(cards) > payment.MaxBatch:
		writeError(w, badRequest("creditCardDetails holds at most %d cards", payment.MaxBatch))
		return
	case m.Settings.TokenizationRequires3DS:
		// Nobody is there to answer a challenge in a server-to-server call.
		writeError(w, newError(http.StatusForbidden, "three_d_secure_required",
			"This merchant requires 3-D Secure for every saved card (setting tokenization_requires_3ds): save cards through transactions/init with methodType Tokenize."))
		return
	}
	out := make([]tokenized, len(cards))
	var params []payment.TokenParams
	var at []int // params[j] is card at[j]
	for i := range cards {
		c := &cards[i]
		out[i].CardNumber = masked(c.CardNumber)
		if mo, y, ok := ParseExpiration(c.CardExpiration); ok {
			out[i].CardExpiration = mmyy(mo, y)
		}
		ci, ae := cardInput(c)
		if ae != nil {
			out[i].Error = &itemError{Status: ae.status, Code: ae.code, Message: wire.Clean(ae.message)}
			continue
		}
		// The card holder is not present: the card is verified by a small
		// authorization that is voided, without 3-D Secure.
		params = append(params, payment.TokenParams{Card: ci, ThreeDSecure: "never"})
		at = append(at, i)
	}
	for j, res := range d.svc.CreateTokens(r.Context(), m, params) {
		i := at[j]
		if res.Err != nil {
			ae := d.fromService(r, "tokenize", res.Err)
			out[i].Error = &itemError{Status: ae.status, Code: ae.code, Message: wire.Clean(ae.message)}
			if ae.retryAfter != "" {
				w.Header().Set("Retry-After", ae.retryAfter) // some cards were refused for card testing
			}
			continue
		}
		t := res.Token
		out[i] = tokenized{CardNumber: t.Mask, CardExpiration: mmyy(t.ExpMonth, t.ExpYear), UID: t.ID, Token: t.ID}
	}
	writeJSON(w, http.StatusCreated, out)
}

type payRequest struct {
	credentials
	Amount            json.RawMessage `json:"amount"`
	IsCent            json.RawMessage `json:"isCent"`
	Currency          string          `json:"currency"`
	Token             string          `json:"token"`
	SecurityCode      string          `json:"securityCode"`
	TokenSource       json.RawMessage `json:"tokenSource"`
	TokenData         json.RawMessage `json:"tokenData"`
	CreditCardDetails *cardIn         `json:"creditCardDetails"`
}

func (*payRequest) CardPaths() []string { return []string{"creditCardDetails.cardNumber"} }

// confirmation is pay's proof of approval.
type confirmation struct {
	FullConfirmationCode string `json:"fullConfirmationCode"`
	ConfirmationNumber   string `json:"confirmationNumber"`
	ApprovedBy           string `json:"approvedBy"`
	ProviderID           string `json:"providerId"`
	DateApproval         string `json:"dateApproval"`
	ApprovalDate         string `json:"approvalDate"`
	PaymentMethodName    string `json:"paymentMethodName"`
	LastFourDigits       string `json:"lastFourDigits"`
	CardExpiration       string `json:"cardExpiration"`
}

type payResponse struct {
	Success           bool         `json:"success"`
	TransactionNumber string       `json:"transactionNumber"`
	TransactionStatus string       `json:"transactionStatus"`
	Confirmation      confirmation `json:"confirmation"`
	CardMask          string       `json:"cardMask"`
	Token             string       `json:"token"`
}

// payParams checks pay's request against the merchant and translates it.
func payParams(m *store.Merchant, req *payRequest) (payment.PaymentParams, error) {
	var p payment.PaymentParams
	isCent, err := parseBool("isCent", req.IsCent, true)
	if err != nil {
		return p, err
	}
	switch {
	case !isCent:
		return p, badRequest("This API does not support isCent=false: send amount in cents")
	case !wire.Absent(req.TokenSource) || !wire.Absent(req.TokenData):
		return storedPayParams(m, req)
	case req.Token != "" && req.CreditCardDetails != nil:
		return p, badRequest("send token or creditCardDetails, not both")
	case req.Token == "" && req.CreditCardDetails == nil:
		return p, newError(http.StatusBadRequest, "parameter_missing", "token is required")
	case req.CreditCardDetails != nil && !m.Settings.AcceptRawCardData:
		return p, rawCardsRefused("pay with a token")
	}
	currency := wire.NormalCurrency(req.Currency, m.Settings.DefaultCurrency)
	amount, _, err := ParseAmount(req.Amount, true, currency)
	if err != nil {
		return p, err
	}
	if amount <= 0 {
		return p, badRequest("amount must be a positive whole number of cents")
	}
	capture := true
	p = payment.PaymentParams{Amount: amount, Currency: &currency, Capture: &capture}
	if req.CreditCardDetails != nil {
		ci, ae := cardInput(req.CreditCardDetails)
		if ae != nil {
			return p, ae
		}
		// A server-to-server card has no card holder to challenge. It is
		// saved, as SensePass answers a token, unless the merchant wants
		// 3-D Secure for every saved card.
		p.Card, p.ThreeDSecure, p.SaveCard = ci, "never", !m.Settings.TokenizationRequires3DS
	} else {
		p.Token, p.CVC = req.Token, req.SecurityCode
	}
	return p, nil
}

// storedPayParams translates pay with a card another vault keeps: seed 002's
// tokenSource "Authorize.net" with tokenData {profile_id, payment_id}, a
// customer payment profile charged through the merchant's authorize_net
// processor account. Any other source is refused.
func storedPayParams(m *store.Merchant, req *payRequest) (payment.PaymentParams, error) {
	var p payment.PaymentParams
	var source string
	if json.Unmarshal(req.TokenSource, &source) != nil || !strings.EqualFold(source, "Authorize.net") {
		return p, newError(http.StatusBadRequest, "unsupported_token_source", "unsupported token source")
	}
	if req.Token != "" || req.CreditCardDetails != nil {
		return p, badRequest("send token, creditCardDetails or tokenSource, not two of them")
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(req.TokenData, &data) != nil {
		return p, badRequest("tokenData must be an object with profile_id and payment_id")
	}
	ids := make([]string, 2)
	for i, k := range []string{"profile_id", "payment_id"} {
		id, ok := profileID(data[k])
		if !ok {
			return p, badRequest("tokenData.%s is required: Authorize.net's numeric id", k)
		}
		ids[i] = id
	}
	currency := wire.NormalCurrency(req.Currency, m.Settings.DefaultCurrency)
	amount, _, err := ParseAmount(req.Amount, true, currency)
	if err != nil {
		return p, err
	}
	if amount <= 0 {
		return p, badRequest("amount must be a positive whole number of cents")
	}
	capture := true
	return payment.PaymentParams{Amount: amount, Currency: &currency, Capture: &capture,
		Stored: &processor.StoredCard{CustomerProfileID: ids[0], PaymentProfileID: ids[1]}}, nil
}

// profileID reads an Authorize.net id given as a string or a number: 1 to 20 digits.
func profileID(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&n) != nil {
			return "", false
		}
		s = n.String()
	}
	if s == "" || len(s) > 20 || strings.Trim(s, "0123456789") != "" {
		return "", false
	}
	return s, true
}

// Pay charges a token (or, when the merchant accepts raw card data, a
// card, or a card Authorize.net keeps): POST /transactions/pay.
func (d *Dialect) Pay(w http.ResponseWriter, r *http.Request) {
	var req payRequest
	m, ok := d.request(w, r, &req, &req.credentials, false)
	if !ok {
		return
	}
	p, err := payParams(m, &req)
	if err != nil {
		d.fail(w, r, "pay", err)
		return
	}
	v, err := d.svc.CreatePayment(r.Context(), m, p)
	if err != nil {
		ae := d.fromService(r, "pay", err)
		var pe *payment.Error
		if errors.As(err, &pe) && pe.Payment != nil {
			st := paymentStatus(pe.Payment)
			ae.extra = map[string]any{"transactionNumber": pe.Payment.ID, "transactionStatus": statusName(st)}
		}
		writeError(w, ae)
		return
	}
	if v.Status != store.PaymentSucceeded {
		// Not expected without 3-D Secure; the payment is recorded and
		// GET /transactions/{number} tells its outcome.
		st := paymentStatus(&v)
		writeError(w, &apiError{status: http.StatusBadGateway, code: "payment_pending", message: "The payment is " + statusName(st) + "; read it later.",
			extra: map[string]any{"transactionNumber": v.ID, "transactionStatus": statusName(st)}})
		return
	}
	res := payResponse{Success: true, TransactionNumber: v.ID, TransactionStatus: statusName(StatusApproved), CardMask: v.Card.Mask,
		Confirmation: confirmation{FullConfirmationCode: v.Processor.AuthCode, ConfirmationNumber: v.Processor.AuthCode,
			ApprovedBy: approvedBy(v), ProviderID: v.Processor.NetworkRef, DateApproval: iso(v.Updated), ApprovalDate: iso(v.Updated),
			PaymentMethodName: paymentMethodName, LastFourDigits: v.Card.Last4, CardExpiration: mmyy(v.Card.ExpMonth, v.Card.ExpYear)}}
	if v.Token != nil {
		res.Token = *v.Token
	}
	writeJSON(w, http.StatusCreated, res)
}

type validateRequest struct {
	credentials
	Token        string `json:"token"`
	SecurityCode string `json:"securityCode"`
}

// check is one AVS or CVV result.
type check struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// avsCheck and cvvCheck word Coffer's check results in the letter codes
// card networks use (AVS as three letters: street, 5-digit zip, 9-digit
// zip, like the seed's "NNN").
func avsCheck(v string) check {
	switch v {
	case "pass":
		return check{"YYY", "Address: Match & 5 Digit Zip: Match"}
	case "fail":
		return check{"NNN", "Address: No Match & 5 Digit Zip: No Match"}
	case "unavailable":
		return check{"UUU", "Address: Unavailable & 5 Digit Zip: Unavailable"}
	}
	return check{"SSS", "Address: Not Checked & 5 Digit Zip: Not Checked"}
}

func cvvCheck(v string) check {
	switch v {
	case "pass":
		return check{"M", "Match"}
	case "fail":
		return check{"N", "No Match"}
	case "unavailable":
		return check{"U", "Issuer Unable to Process"}
	}
	return check{"P", "Not Processed"}
}

// invalidMessages word ValidateToken's reasons.
var invalidMessages = map[string]string{
	"disabled":           "The token is disabled",
	"deleted":            "The token has been deleted",
	"failed":             "The card failed verification when it was saved",
	"requires_action":    "The card has not completed 3-D Secure",
	"expired":            "The card has expired",
	"blocked":            "The card is blocked",
	"insufficient_funds": "The card has insufficient funds",
	"processing_error":   "The card could not be verified; try again",
}

// ValidateToken checks with the issuer that a token can be charged:
// POST /transactions/token-validation. A valid token answers 201 as the
// seed does; an invalid one the error shape (402) with the same AVS and
// CVV.
func (d *Dialect) ValidateToken(w http.ResponseWriter, r *http.Request) {
	var req validateRequest
	m, ok := d.request(w, r, &req, &req.credentials, false)
	if !ok {
		return
	}
	if req.Token == "" {
		writeError(w, newError(http.StatusBadRequest, "parameter_missing", "token is required"))
		return
	}
	v, err := d.svc.ValidateToken(r.Context(), m, req.Token, req.SecurityCode)
	if err != nil {
		d.fail(w, r, "token-validation", err)
		return
	}
	avs, cvv := avsCheck(v.AVSCheck), cvvCheck(v.CVCCheck)
	if v.Valid {
		writeJSON(w, http.StatusCreated, map[string]any{"success": true, "message": "The token is valid", "AVS": avs, "CVV": cvv})
		return
	}
	reason := "declined"
	if v.Reason != nil {
		reason = *v.Reason
	}
	msg, ok := invalidMessages[reason]
	if !ok {
		msg = "The card was declined (" + reason + ")"
	}
	writeError(w, &apiError{status: http.StatusPaymentRequired, code: reason, message: msg, extra: map[string]any{"AVS": avs, "CVV": cvv}})
}

// approvedBy names who approved a payment: the acquirer behind a processor
// account, or Coffer's own.
func approvedBy(v payment.PaymentView) string {
	if v.Processor.Type == payment.AccountAuthorizeNet {
		return "Authorize.Net"
	}
	return approvedByName
}
