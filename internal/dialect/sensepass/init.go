package sensepass

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// Bounds of transactions/init's fields, those of the core's metadata and
// description (a metadata value holds at most 500 characters).
const (
	maxMetadataValue = 500
	maxReason        = 1000
	minTimeOut       = 60
	maxTimeOut       = 86400
)

// initRequest is transactions/init's body. Numbers and flags are kept raw:
// SensePass clients send them as JSON numbers or as strings.
type initRequest struct {
	credentials
	Amount            json.RawMessage `json:"amount"`
	IsCent            json.RawMessage `json:"isCent"`
	TimeOut           json.RawMessage `json:"timeOut"`
	Currency          string          `json:"currency"`
	MethodType        string          `json:"methodType"`
	ReturnURL         string          `json:"returnURL"`
	CancelURL         string          `json:"cancelURL"`
	CallbackURL       string          `json:"callbackURL"`
	CallbackMethod    string          `json:"callbackMethod"`
	PosData           json.RawMessage `json:"posData"`
	ClientPhoneNumber string          `json:"clientPhoneNumber"`
	ClientEmail       string          `json:"clientEmail"`
	ClientName        string          `json:"clientName"`
	Reason            string          `json:"reason"`
	Products          json.RawMessage `json:"products"`
}

// methods maps an accepted methodType, folded to lower case without
// spaces, to its name. "Payment" and "Sale" are taken as Capture.
var methods = map[string]string{
	"tokenize": methodTokenize, "capture+tokenize": methodCaptureTokenize, "capture": methodCapture,
	"payment": methodCapture, "sale": methodCapture, "authorize": methodAuthorize, "authorization": methodAuthorize,
}

// scalar reads a JSON number or a string holding one: its text, and
// whether it was quoted.
func scalar(raw json.RawMessage) (string, bool, bool) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "", false, false
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(s, &v) != nil {
			return "", false, false
		}
		return v, true, true
	}
	return string(s), false, json.Valid(s) && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

// parseBool reads isCent: true or false, as JSON or as a string; absent is
// def.
func parseBool(name string, raw json.RawMessage, def bool) (bool, error) {
	if wire.Absent(raw) {
		return def, nil
	}
	s := string(bytes.TrimSpace(raw))
	switch strings.ToLower(strings.Trim(s, `"`)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("%s must be true or false", name)
}

// ParseAmount reads an amount in cents, or with isCent false in the
// currency's major units ("30.5" USD is 3050, "12.345" KWD 12345). It
// never rounds: more decimals than the currency has is an error. present is
// false when no amount was sent.
func ParseAmount(raw json.RawMessage, isCent bool, currency string) (amount int64, present bool, err error) {
	if wire.Absent(raw) {
		return 0, false, nil
	}
	s, _, ok := scalar(raw)
	if !ok || s == "" {
		return 0, true, badRequest("amount must be a number")
	}
	if strings.HasPrefix(s, "-") {
		return 0, true, badRequest("amount must not be negative")
	}
	if strings.ContainsAny(s, "eE") && strings.Trim(s, "0123456789.eE+-") == "" {
		return 0, true, badRequest("amount must be a plain decimal number, without an exponent")
	}
	if isCent {
		if !digitsOnly(s) {
			return 0, true, badRequest("amount must be a whole number of cents (send isCent:false for an amount in major units)")
		}
		if len(s) > 12 {
			return 0, true, badRequest("amount must be at most %d cents", money.MaxAmount)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v > money.MaxAmount {
			return 0, true, badRequest("amount must be at most %d cents", money.MaxAmount)
		}
		return v, true, nil
	}
	v, err := money.Parse(s, currency)
	if err != nil {
		var me *money.Error
		if errors.As(err, &me) {
			return 0, true, badRequest("%s %s", me.Field, me.Message)
		}
		return 0, true, badRequest("amount must be a decimal number such as 12.34")
	}
	return v, true, nil
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTimeOut reads timeOut: whole seconds from 60 to 86400; absent is
// the core's default (900 s).
func parseTimeOut(raw json.RawMessage) (*int64, error) {
	if wire.Absent(raw) {
		return nil, nil
	}
	s, _, ok := scalar(raw)
	msg := "timeOut must be a whole number of seconds from %d to %d"
	if !ok || !digitsOnly(s) || len(s) > 6 {
		return nil, badRequest(msg, minTimeOut, maxTimeOut)
	}
	v, _ := strconv.ParseInt(s, 10, 64)
	if v < minTimeOut || v > maxTimeOut {
		return nil, badRequest(msg, minTimeOut, maxTimeOut)
	}
	return &v, nil
}

// Metadata keys where init keeps what the entity gives back. posData is
// stored as the string sent, or as the compact JSON of any other value
// with posDataType "json" beside it, so that a string that looks like JSON
// stays a string; products (an array) as its compact JSON.
const (
	metaPosData     = "posData"
	metaPosDataType = "posDataType"
	metaProducts    = "products"
	posDataJSON     = "json"
)

// textOf is posData or products as stored: a string as it is, anything
// else as its compact JSON (isJSON).
func textOf(name string, raw json.RawMessage) (text string, isJSON bool, err error) {
	if wire.Absent(raw) {
		return "", false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, false, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", false, badRequest("%s must be valid JSON", name)
	}
	return b.String(), true, nil
}

// sessionParams translates transactions/init into a session of the hosted
// page: Tokenize saves a card (amount 0), Capture+Tokenize charges and
// saves it, Capture charges, Authorize authorizes for a later capture.
func sessionParams(m *store.Merchant, req *initRequest) (payment.SessionParams, error) {
	var p payment.SessionParams
	method, ok := methods[strings.ToLower(strings.ReplaceAll(strings.TrimSpace(req.MethodType), " ", ""))]
	if req.MethodType == "" {
		method, ok = methodCapture, true
	}
	if !ok {
		return p, badRequest("methodType must be Tokenize, Capture+Tokenize, Capture or Authorize")
	}
	currency, we := wire.Currency("currency", req.Currency, m.Settings.DefaultCurrency)
	if we != nil {
		return p, badRequest("%s", we.Message())
	}
	isCent, err := parseBool("isCent", req.IsCent, true)
	if err != nil {
		return p, err
	}
	amount, present, err := ParseAmount(req.Amount, isCent, currency)
	if err != nil {
		return p, err
	}
	switch {
	case method == methodTokenize && amount != 0:
		return p, badRequest("Tokenize saves a card without charging it: amount must be 0 or absent (use Capture+Tokenize to charge and save)")
	case method != methodTokenize && amount == 0:
		if present {
			return p, badRequest("amount must be greater than 0 for methodType %s", method)
		}
		return p, badRequest("amount is required for methodType %s", method)
	}
	if p.ExpiresIn, err = parseTimeOut(req.TimeOut); err != nil {
		return p, err
	}
	p.Mode, p.Amount, p.Currency = "redirect", amount, &currency
	switch method {
	case methodCaptureTokenize:
		p.SaveCard = "always"
	case methodAuthorize:
		manual := false
		p.Capture = &manual
	}
	p.SuccessURL, p.FailureURL, p.ExpiredURL = req.ReturnURL, req.ReturnURL, req.ReturnURL
	p.CancelURL = req.CancelURL
	// Always set, callback or not: the format is also how GET, cancel and
	// the socket know a session is SensePass's.
	p.CallbackFormat = Format
	p.CallbackURL = req.CallbackURL
	switch strings.ToUpper(strings.TrimSpace(req.CallbackMethod)) {
	case "", "POST":
	case "GET":
		p.CallbackFormat = FormatGET
	default:
		return p, badRequest("callbackMethod must be GET or POST")
	}
	if utf8.RuneCountInString(req.Reason) > maxReason {
		return p, badRequest("reason must be at most %d characters", maxReason)
	}
	p.Description = req.Reason
	md := map[string]string{}
	posData, posIsJSON, err := textOf(metaPosData, req.PosData)
	if err != nil {
		return p, err
	}
	var products string
	if !wire.Absent(req.Products) {
		if t := bytes.TrimSpace(req.Products); t[0] != '[' {
			return p, badRequest("products must be an array")
		}
		if products, _, err = textOf(metaProducts, req.Products); err != nil {
			return p, err
		}
	}
	for _, f := range []struct {
		name, v string
		keep    bool // stored even when empty: given back as sent
	}{{metaPosData, posData, !wire.Absent(req.PosData)}, {"clientPhoneNumber", req.ClientPhoneNumber, false},
		{"clientEmail", req.ClientEmail, false}, {"clientName", req.ClientName, false}, {metaProducts, products, false}} {
		if f.v == "" && !f.keep {
			continue
		}
		if !utf8.ValidString(f.v) || utf8.RuneCountInString(f.v) > maxMetadataValue {
			return p, badRequest("%s must be text of at most %d characters (as JSON, for an object or array)", f.name, maxMetadataValue)
		}
		md[f.name] = f.v
	}
	if posIsJSON {
		md[metaPosDataType] = posDataJSON
	}
	if len(md) > 0 {
		p.Metadata = md
	}
	return p, nil
}

// Init creates a transaction paid on Coffer's hosted page:
// POST /transactions/init.
func (d *Dialect) Init(w http.ResponseWriter, r *http.Request) {
	var req initRequest
	m, ok := d.request(w, r, &req, &req.credentials, false)
	if !ok {
		return
	}
	p, err := sessionParams(m, &req)
	if err != nil {
		d.fail(w, r, "init", err)
		return
	}
	v, err := d.svc.CreateSession(r.Context(), m, p)
	if err != nil {
		d.fail(w, r, "init", err)
		return
	}
	writeJSON(w, http.StatusCreated, renderSession(m, &v, d.svc.SessionURL(v.ID), nil, nil, nil))
}
