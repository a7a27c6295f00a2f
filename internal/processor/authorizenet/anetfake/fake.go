// Package anetfake is a small local stand-in for Authorize.net's JSON API
// (POST /xml/v1/request.api), for tests: Authorize.net publishes no mock
// server. It checks each request against the documented shape (see
// schema.go), authenticates it, keeps its transactions in memory so that
// capture, void, refund, the transaction lists and the details work, and
// answers as the real API does, UTF-8 byte order mark included.
//
// Outcomes are chosen like the sandbox's:
//   - card 4222222222222 (Authorize.net's test card for this): the amount's
//     whole dollars are the response reason code (27.00 → reason 27, AVS
//     mismatch; 252.00 → held for review; any approval code otherwise);
//   - billTo.zip 46282 declines (reason 2); other sandbox zips pick the AVS
//     result (46203 E, 46205 N, 46207 Z, 46209 A, 46211 S, 46213 U);
//   - cardCode 901 answers cvvResultCode N (approved: no CVV filter is set);
//   - an invalid number is reason 6, a malformed date 7, a past one 8.
//
// A test can also make it fail: FailNext answers HTTP errors before doing
// anything, FailAfter does the work and then answers 500 (the case where
// only a lookup tells what happened), Hang holds requests until released.
package anetfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is the API's only endpoint.
const Path = "/xml/v1/request.api"

// TestCard is the sandbox card whose amount selects the reason code.
const TestCard = "4222222222222"

// Tx is a transaction as the fake keeps it (never a full card number).
type Tx struct {
	ID, RefTransID       string
	Type, Status         string
	ResponseCode, Reason int
	AuthCode, AVS, CVV   string
	Amount, Settled      int64 // minor units: authorized; captured (or refunded, for a refund)
	Currency             string
	Invoice, Description string
	Last4, Expiry        string
	CardHash             [32]byte
	CustomerProfileID    string
	PaymentProfileID     string
	FirstName, LastName  string
	Zip                  string
	Submitted            time.Time
	BatchID              string
	dupKey               string
}

type batch struct {
	id      string
	settled time.Time
}

type profile struct {
	last4, expiry string
	hash          [32]byte
}

// Fake is an Authorize.net account. Use it as an http.Handler
// (httptest.NewServer(fake)).
type Fake struct {
	loginID, key string
	// Currency is the account's currency (USD by default); others are refused (reason 39).
	Currency string
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu         sync.Mutex
	txs        map[string]*Tx
	order      []string
	batches    []batch
	profiles   map[[2]string]profile
	next       int64
	failNext   map[string][]int // operation ("" any) → statuses to answer
	failAfter  map[string]int
	hang       chan struct{}
	calls      map[string]int
	rejections []string
}

// New returns an account with these credentials.
func New(apiLoginID, transactionKey string) *Fake {
	return &Fake{loginID: apiLoginID, key: transactionKey, Currency: "USD",
		txs: map[string]*Tx{}, failNext: map[string][]int{}, failAfter: map[string]int{}, profiles: map[[2]string]profile{}, next: 60000000000, calls: map[string]int{}}
}

// AddProfile registers a customer payment profile holding a card.
func (f *Fake) AddProfile(customerProfileID, paymentProfileID, cardNumber, expiry string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles[[2]string{customerProfileID, paymentProfileID}] = profile{
		last4: cardNumber[len(cardNumber)-4:], expiry: expiry, hash: sha256.Sum256([]byte(cardNumber))}
}

// FailNext makes the next len(statuses) requests of an operation (e.g.
// "createTransactionRequest"; "" for any) answer those HTTP statuses without
// doing anything.
func (f *Fake) FailNext(op string, statuses ...int) {
	f.mu.Lock()
	f.failNext[op] = append(f.failNext[op], statuses...)
	f.mu.Unlock()
}

// FailAfter makes the next n requests of an operation ("" for any) do their
// work and then answer 500, as if the answer were lost.
func (f *Fake) FailAfter(op string, n int) {
	f.mu.Lock()
	f.failAfter[op] += n
	f.mu.Unlock()
}

// opOf names a request's operation without validating it.
func opOf(body []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), &top) != nil {
		return ""
	}
	for k := range top {
		return k
	}
	return ""
}

// takeFail pops a scripted failure for op; f.mu must be held.
func (f *Fake) takeFail(op string) int {
	for _, k := range []string{op, ""} {
		if q := f.failNext[k]; len(q) > 0 {
			f.failNext[k] = q[1:]
			return q[0]
		}
	}
	return 0
}

func (f *Fake) takeFailAfter(op string) bool {
	for _, k := range []string{op, ""} {
		if f.failAfter[k] > 0 {
			f.failAfter[k]--
			return true
		}
	}
	return false
}

// Hang holds every request until release is called or its client gives up.
func (f *Fake) Hang() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.hang = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.hang == ch {
				f.hang = nil
			}
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Calls counts the requests of an operation that passed validation.
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Rejections lists the schema errors the fake answered (E00003).
func (f *Fake) Rejections() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rejections...)
}

// Transactions returns copies of every transaction, oldest first.
func (f *Fake) Transactions() []Tx {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Tx, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, *f.txs[id])
	}
	return out
}

// Transaction returns a copy of one transaction.
func (f *Fake) Transaction(id string) (Tx, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.txs[id]
	if !ok {
		return Tx{}, false
	}
	return *t, true
}

// Settle closes the current batch as the nightly settlement does: captures
// become settledSuccessfully, refunds refundSettledSuccessfully, and those
// and every finished transaction (declined, voided, errored) leave the
// unsettled list for the new batch. Open authorizations and held ones stay.
// It returns the batch id ("" when there was nothing to settle).
func (f *Fake) Settle() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := strconv.FormatInt(f.next, 10)
	n := 0
	for _, tid := range f.order {
		t := f.txs[tid]
		if t.BatchID != "" {
			continue
		}
		switch t.Status {
		case "authorizedPendingCapture", "FDSPendingReview", "FDSAuthorizedPendingReview":
			continue
		case "capturedPendingSettlement":
			t.Status = "settledSuccessfully"
		case "refundPendingSettlement":
			t.Status = "refundSettledSuccessfully"
		}
		t.BatchID = id
		n++
	}
	if n == 0 {
		return ""
	}
	f.batches = append(f.batches, batch{id: id, settled: f.now().Truncate(time.Second)})
	return id
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now().UTC()
	}
	return time.Now().UTC()
}

// ServeHTTP implements the API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	op := opOf(body)
	f.mu.Lock()
	hang := f.hang
	fail := f.takeFail(op)
	f.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		http.Error(w, http.StatusText(fail), fail)
		return
	}
	out := f.handle(body)
	f.mu.Lock()
	failAfter := f.takeFailAfter(op)
	f.mu.Unlock()
	if failAfter {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	buf.WriteString("\xef\xbb\xbf")
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(buf.Bytes())
}

type msg struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

type messages struct {
	ResultCode string `json:"resultCode"`
	Message    []msg  `json:"message"`
}

func okMessages() messages { return messages{"Ok", []msg{{"I00001", "Successful."}}} }

func errMessages(code, text string) messages { return messages{"Error", []msg{{code, text}}} }

// answer is an ordered JSON object (the API's field order).
type answer []kv

type kv struct {
	k string
	v any
}

func (a answer) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func withHeader(refID string, m messages, rest ...kv) answer {
	a := answer(rest)
	if refID != "" {
		a = append(a, kv{"refId", refID})
	}
	return append(a, kv{"messages", m})
}

func (f *Fake) handle(body []byte) answer {
	op, req, err := validate(body)
	if err != nil {
		f.mu.Lock()
		f.rejections = append(f.rejections, err.Error())
		f.mu.Unlock()
		return withHeader("", errMessages("E00003", err.Error()))
	}
	refID := s(req, "refId")
	ma := m(req, "merchantAuthentication")
	if s(ma, "name") != f.loginID || s(ma, "transactionKey") != f.key {
		return withHeader(refID, errMessages("E00007", "User authentication failed due to invalid authentication values."))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	switch op {
	case "createTransactionRequest":
		return f.createTransaction(refID, m(req, "transactionRequest"))
	case "getTransactionDetailsRequest":
		t, ok := f.txs[s(req, "transId")]
		if !ok {
			return withHeader(refID, errMessages("E00040", "The record cannot be found."))
		}
		return withHeader(refID, okMessages(), kv{"transaction", f.details(t)})
	case "getUnsettledTransactionListRequest":
		return f.list(refID, req, func(t *Tx) bool { return t.BatchID == "" })
	case "getTransactionListRequest":
		id := s(req, "batchId")
		found := false
		for _, b := range f.batches {
			found = found || b.id == id
		}
		if !found {
			return withHeader(refID, errMessages("E00040", "The record cannot be found."))
		}
		return f.list(refID, req, func(t *Tx) bool { return t.BatchID == id })
	case "getSettledBatchListRequest":
		return f.batchList(refID, req)
	case "updateHeldTransactionRequest":
		return f.updateHeld(refID, m(req, "heldTransactionRequest"))
	}
	return withHeader(refID, errMessages("E00003", "unsupported request"))
}

func m(v map[string]any, k string) map[string]any {
	if v == nil {
		return nil
	}
	x, _ := v[k].(map[string]any)
	return x
}

func s(v map[string]any, k string) string {
	if v == nil {
		return ""
	}
	x, _ := v[k].(string)
	return x
}

// reasons: the response reason codes the fake produces, with their
// response code and text (Authorize.net's wording).
var reasons = map[int]struct {
	rc   int
	text string
}{
	1:   {1, "This transaction has been approved."},
	2:   {2, "This transaction has been declined."},
	3:   {2, "This transaction has been declined."},
	4:   {2, "This transaction has been declined."},
	5:   {3, "A valid amount is required."},
	6:   {3, "The credit card number is invalid."},
	7:   {3, "Credit card expiration date is invalid."},
	8:   {3, "The credit card has expired."},
	11:  {3, "A duplicate transaction has been submitted."},
	16:  {3, "The transaction cannot be found."},
	19:  {3, "An error occurred during processing. Please try again in 5 minutes."},
	27:  {2, "The transaction has been declined because of an AVS mismatch. The address provided does not match billing address of cardholder."},
	33:  {3, "A required field was left blank."},
	39:  {3, "The supplied currency code is either invalid, not supported, not allowed for this merchant or doesnt have an exchange rate."},
	41:  {2, "This transaction has been declined."},
	44:  {2, "This transaction has been declined."},
	45:  {2, "This transaction has been declined."},
	47:  {3, "The amount requested for settlement cannot be greater than the original amount authorized."},
	54:  {3, "The referenced transaction does not meet the criteria for issuing a credit."},
	55:  {3, "The sum of credits against the referenced transaction would exceed original debit amount."},
	65:  {2, "This transaction has been declined."},
	78:  {3, "The Card Code (CVV2/CVC2/CID) is invalid."},
	250: {2, "This transaction has been declined."},
	251: {2, "This transaction has been declined."},
	252: {4, "Your order has been received. Thank you for your business!"},
	253: {4, "Your order has been received. Thank you for your business!"},
	254: {2, "Your transaction has been declined."},
	310: {3, "This transaction has already been voided."},
	311: {3, "This transaction has already been captured."},
}

func (f *Fake) newID() string {
	f.next++
	return strconv.FormatInt(f.next, 10)
}

// trAnswer is a createTransactionResponse for a result.
func (f *Fake) trAnswer(refID string, t *Tx, reason int, transID, refTransID string) answer {
	r := reasons[reason]
	tr := answer{{"responseCode", strconv.Itoa(r.rc)}, {"authCode", ""}, {"avsResultCode", "P"}, {"cvvResultCode", ""},
		{"cavvResultCode", ""}, {"transId", transID}, {"refTransID", refTransID}, {"transHash", ""}, {"testRequest", "0"},
		{"accountNumber", ""}, {"accountType", ""}}
	if t != nil && r.rc != 3 {
		tr[1].v, tr[2].v, tr[3].v = t.AuthCode, t.AVS, t.CVV
	}
	if t != nil {
		tr[9].v, tr[10].v = "XXXX"+t.Last4, "Visa"
	}
	if r.rc == 1 || r.rc == 4 {
		tr = append(tr, kv{"messages", []answer{{{"code", strconv.Itoa(reason)}, {"description", r.text}}}})
	} else {
		tr = append(tr, kv{"errors", []answer{{{"errorCode", strconv.Itoa(reason)}, {"errorText", r.text}}}})
	}
	tr = append(tr, kv{"transHashSha2", ""})
	msgs := okMessages()
	if r.rc != 1 && r.rc != 4 {
		msgs = errMessages("E00027", "The transaction was unsuccessful.")
	}
	return withHeader(refID, msgs, kv{"transactionResponse", tr})
}

func (f *Fake) fail(refID string, reason int) answer { return f.trAnswer(refID, nil, reason, "0", "") }

// parseAmount reads a decimal into minor units; ok is false for more than
// two decimals or a sign.
func parseAmount(v string) (int64, bool) {
	if v == "" || strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+") {
		return 0, false
	}
	whole, frac, _ := strings.Cut(v, ".")
	if len(frac) > 2 {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	if whole == "" {
		whole = "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	fr, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return w*100 + fr, true
}

func luhn(n string) bool {
	sum, dbl := 0, false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if dbl {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		dbl = !dbl
	}
	return sum%10 == 0
}

// expiry parses YYYY-MM, MMYY or MM/YY (what the API accepts).
func expiry(v string) (time.Time, bool) {
	for _, l := range []string{"2006-01", "0106", "01/06", "01-06", "012006", "01/2006"} {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var avsByZip = map[string]string{"46203": "E", "46205": "N", "46207": "Z", "46209": "A", "46211": "S", "46213": "U"}

func (f *Fake) createTransaction(refID string, tr map[string]any) answer {
	typ := s(tr, "transactionType")
	switch typ {
	case "authOnlyTransaction", "authCaptureTransaction":
		return f.charge(refID, typ, tr)
	case "priorAuthCaptureTransaction":
		return f.capture(refID, tr)
	case "voidTransaction":
		return f.void(refID, tr)
	case "refundTransaction":
		return f.refund(refID, tr)
	}
	return f.fail(refID, 33)
}

func settingsOf(tr map[string]any) map[string]string {
	out := map[string]string{}
	ts := m(tr, "transactionSettings")
	if ts == nil {
		return out
	}
	var items []any
	switch v := ts["setting"].(type) {
	case []any:
		items = v
	case map[string]any:
		items = []any{v}
	}
	for _, it := range items {
		if mm, ok := it.(map[string]any); ok {
			out[s(mm, "settingName")] = s(mm, "settingValue")
		}
	}
	return out
}

func (f *Fake) charge(refID, typ string, tr map[string]any) answer {
	cur := s(tr, "currencyCode")
	if cur == "" {
		cur = f.Currency
	}
	if cur != f.Currency {
		return f.fail(refID, 39)
	}
	amount, ok := parseAmount(s(tr, "amount"))
	if !ok || (amount == 0 && typ != "authOnlyTransaction") {
		return f.fail(refID, 5)
	}
	t := &Tx{Type: typ, Amount: amount, Currency: cur, Submitted: f.now()}
	if o := m(tr, "order"); o != nil {
		t.Invoice, t.Description = s(o, "invoiceNumber"), s(o, "description")
	}
	bill := m(tr, "billTo")
	t.FirstName, t.LastName, t.Zip = s(bill, "firstName"), s(bill, "lastName"), s(bill, "zip")
	number, cardCode := "", ""
	switch {
	case m(tr, "payment") != nil:
		cc := m(m(tr, "payment"), "creditCard")
		number, cardCode = s(cc, "cardNumber"), s(cc, "cardCode")
		if len(number) < 13 || !numeric(number) || !luhn(number) {
			return f.fail(refID, 6)
		}
		exp, ok := expiry(s(cc, "expirationDate"))
		if !ok {
			return f.fail(refID, 7)
		}
		if !exp.AddDate(0, 1, 0).After(t.Submitted) {
			return f.fail(refID, 8)
		}
		t.Last4, t.Expiry, t.CardHash = number[len(number)-4:], exp.Format("2006-01"), sha256.Sum256([]byte(number))
	case m(tr, "profile") != nil:
		p := m(tr, "profile")
		cp, pp := s(p, "customerProfileId"), s(m(p, "paymentProfile"), "paymentProfileId")
		prof, ok := f.profiles[[2]string{cp, pp}]
		if !ok {
			return withHeader(refID, errMessages("E00040", "Customer Profile ID or Customer Payment Profile ID not found."))
		}
		cardCode = s(m(p, "paymentProfile"), "cardCode")
		t.Last4, t.Expiry, t.CardHash, t.CustomerProfileID, t.PaymentProfileID = prof.last4, prof.expiry, prof.hash, cp, pp
	default:
		return f.fail(refID, 33)
	}
	if dup, ok := f.duplicate(refID, t, tr); ok {
		return dup
	}

	reason := 1
	t.AVS, t.CVV = "P", "P"
	if bill != nil && (s(bill, "address") != "" || t.Zip != "") {
		t.AVS = "Y"
		if v, ok := avsByZip[t.Zip]; ok {
			t.AVS = v
		}
	}
	if cardCode != "" {
		t.CVV = "M"
		if cardCode == "901" {
			t.CVV = "N"
		}
	}
	if t.Zip == "46282" {
		reason = 2
	}
	if number == TestCard {
		if _, known := reasons[int(amount/100)]; known {
			reason = int(amount / 100)
		}
	}
	r := reasons[reason]
	t.ID, t.ResponseCode, t.Reason = f.newID(), r.rc, reason
	switch r.rc {
	case 1:
		t.AuthCode = authCode(t.ID)
		t.Status = "authorizedPendingCapture"
		if typ == "authCaptureTransaction" {
			t.Status, t.Settled = "capturedPendingSettlement", amount
		}
	case 2:
		t.Status = "declined"
	case 4:
		t.AuthCode = authCode(t.ID)
		t.Status = "FDSPendingReview"
		if typ == "authOnlyTransaction" {
			t.Status = "FDSAuthorizedPendingReview"
		}
	default:
		t.Status, t.AVS, t.CVV = "generalError", "P", ""
	}
	switch reason {
	case 27:
		t.AVS = "N"
	case 44, 65:
		t.CVV = "N"
	case 45:
		t.AVS, t.CVV = "N", "N"
	}
	f.txs[t.ID] = t
	f.order = append(f.order, t.ID)
	return f.trAnswer(refID, t, reason, t.ID, "")
}

// duplicate is the gateway's duplicate check for charge t: the same type,
// amount, card, invoice and billing within the window (120 s unless
// duplicateWindow says otherwise). ok reports an answer to return instead
// of charging: the duplicate's, or a refusal of a bad window.
func (f *Fake) duplicate(refID string, t *Tx, tr map[string]any) (answer, bool) {
	window := 120 * time.Second
	if v, ok := settingsOf(tr)["duplicateWindow"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 28800 {
			return f.fail(refID, 33), true
		}
		window = time.Duration(n) * time.Second
	}
	t.dupKey = fmt.Sprintf("%s|%d|%x|%s|%s|%s|%s|%s|%s", t.Type, t.Amount, t.CardHash, t.Invoice, t.FirstName, t.LastName, t.Zip, t.CustomerProfileID, t.PaymentProfileID)
	for i := len(f.order) - 1; i >= 0 && window > 0; i-- {
		o := f.txs[f.order[i]]
		if t.Submitted.Sub(o.Submitted) > window {
			break
		}
		if o.dupKey == t.dupKey {
			// As documented: the original's authorization code when it was
			// approved and a window was sent; the transaction id is not given.
			a := f.trAnswer(refID, nil, 11, "0", "")
			if o.ResponseCode == 1 {
				trv := a[0].v.(answer)
				trv[1].v = o.AuthCode
			}
			return a, true
		}
	}
	return nil, false
}

func numeric(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return v != ""
}

func authCode(id string) string {
	h := sha256.Sum256([]byte("auth" + id))
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = alnum[int(h[i])%len(alnum)]
	}
	return string(b)
}

func (f *Fake) capture(refID string, tr map[string]any) answer {
	id := s(tr, "refTransId")
	if id == "" {
		return f.fail(refID, 33)
	}
	t, ok := f.txs[id]
	if !ok || t.Type != "authOnlyTransaction" {
		return f.trAnswer(refID, nil, 16, "0", id)
	}
	switch t.Status {
	case "authorizedPendingCapture":
	case "capturedPendingSettlement", "settledSuccessfully":
		return f.trAnswer(refID, nil, 311, "0", id)
	default:
		return f.trAnswer(refID, nil, 16, "0", id)
	}
	amount := t.Amount
	if v := s(tr, "amount"); v != "" {
		a, ok := parseAmount(v)
		if !ok || a <= 0 {
			return f.fail(refID, 5)
		}
		amount = a
	}
	if amount > t.Amount {
		return f.trAnswer(refID, nil, 47, "0", id)
	}
	t.Status, t.Settled = "capturedPendingSettlement", amount
	return f.trAnswer(refID, t, 1, t.ID, t.ID)
}

func (f *Fake) void(refID string, tr map[string]any) answer {
	id := s(tr, "refTransId")
	if id == "" {
		return f.fail(refID, 33)
	}
	t, ok := f.txs[id]
	if !ok {
		return f.trAnswer(refID, nil, 16, "0", id)
	}
	switch t.Status {
	case "voided":
		return f.trAnswer(refID, nil, 310, "0", id)
	case "authorizedPendingCapture", "capturedPendingSettlement", "refundPendingSettlement", "FDSAuthorizedPendingReview", "FDSPendingReview":
		t.Status = "voided"
		return f.trAnswer(refID, t, 1, t.ID, t.ID)
	}
	return f.trAnswer(refID, nil, 16, "0", id)
}

func (f *Fake) refund(refID string, tr map[string]any) answer {
	id := s(tr, "refTransId")
	if id == "" {
		return f.fail(refID, 33)
	}
	amount, ok := parseAmount(s(tr, "amount"))
	if !ok || amount <= 0 {
		return f.fail(refID, 5)
	}
	o, ok := f.txs[id]
	if !ok || o.Status != "settledSuccessfully" {
		return f.trAnswer(refID, nil, 54, "0", id)
	}
	if cur := s(tr, "currencyCode"); cur != "" && cur != o.Currency {
		return f.trAnswer(refID, nil, 54, "0", id)
	}
	switch {
	case m(tr, "payment") != nil:
		cc := m(m(tr, "payment"), "creditCard")
		num, exp := s(cc, "cardNumber"), s(cc, "expirationDate")
		if !strings.HasSuffix(num, o.Last4) || (len(num) != 4 && len(num) != 8) {
			return f.trAnswer(refID, nil, 54, "0", id)
		}
		if exp != "XXXX" && exp != o.Expiry {
			return f.trAnswer(refID, nil, 54, "0", id)
		}
	case m(tr, "profile") != nil:
		p := m(tr, "profile")
		if s(p, "customerProfileId") != o.CustomerProfileID || s(m(p, "paymentProfile"), "paymentProfileId") != o.PaymentProfileID {
			return f.trAnswer(refID, nil, 54, "0", id)
		}
	default:
		return f.fail(refID, 33)
	}
	var refunded int64
	for _, tid := range f.order {
		x := f.txs[tid]
		if x.Type == "refundTransaction" && x.RefTransID == id && x.Status != "voided" {
			refunded += x.Settled
		}
	}
	if refunded+amount > o.Settled {
		return f.trAnswer(refID, nil, 55, "0", id)
	}
	t := &Tx{ID: f.newID(), RefTransID: id, Type: "refundTransaction", Status: "refundPendingSettlement",
		ResponseCode: 1, Reason: 1, Amount: amount, Settled: amount, Currency: o.Currency, Last4: o.Last4, Expiry: o.Expiry,
		CardHash: o.CardHash, CustomerProfileID: o.CustomerProfileID, PaymentProfileID: o.PaymentProfileID, Submitted: f.now()}
	if ord := m(tr, "order"); ord != nil {
		t.Invoice, t.Description = s(ord, "invoiceNumber"), s(ord, "description")
	}
	window := 120 * time.Second
	if v, ok := settingsOf(tr)["duplicateWindow"]; ok {
		n, _ := strconv.Atoi(v)
		window = time.Duration(n) * time.Second
	}
	t.dupKey = fmt.Sprintf("refund|%d|%x|%s|%s", amount, t.CardHash, t.Invoice, id)
	for i := len(f.order) - 1; i >= 0 && window > 0; i-- {
		x := f.txs[f.order[i]]
		if t.Submitted.Sub(x.Submitted) > window {
			break
		}
		if x.dupKey == t.dupKey {
			return f.trAnswer(refID, nil, 11, "0", id)
		}
	}
	f.txs[t.ID] = t
	f.order = append(f.order, t.ID)
	return f.trAnswer(refID, t, 1, t.ID, id)
}

func (f *Fake) updateHeld(refID string, h map[string]any) answer {
	t, ok := f.txs[s(h, "refTransId")]
	if !ok {
		return withHeader(refID, errMessages("E00040", "The record cannot be found."))
	}
	if t.Status != "FDSPendingReview" && t.Status != "FDSAuthorizedPendingReview" {
		return withHeader(refID, errMessages("E00027", "The transaction was unsuccessful."))
	}
	if s(h, "action") == "approve" {
		t.ResponseCode, t.Reason = 1, 1
		t.Status = "authorizedPendingCapture"
		if t.Type == "authCaptureTransaction" {
			t.Status, t.Settled = "capturedPendingSettlement", t.Amount
		}
	} else {
		t.ResponseCode, t.Reason, t.Status = 2, 254, "declined"
	}
	return withHeader(refID, okMessages(), kv{"transactionResponse", answer{{"responseCode", strconv.Itoa(t.ResponseCode)},
		{"authCode", t.AuthCode}, {"transId", t.ID}, {"refTransID", t.ID}}})
}

func money(minor int64) json.Number {
	return json.Number(fmt.Sprintf("%d.%02d", minor/100, minor%100))
}

func (f *Fake) details(t *Tx) answer {
	r := reasons[t.Reason]
	d := answer{{"transId", t.ID}}
	if t.RefTransID != "" {
		d = append(d, kv{"refTransId", t.RefTransID})
	}
	d = append(d, kv{"submitTimeUTC", t.Submitted.Format("2006-01-02T15:04:05.000Z")},
		kv{"submitTimeLocal", t.Submitted.Format("2006-01-02T15:04:05.000")},
		kv{"transactionType", t.Type}, kv{"transactionStatus", t.Status},
		kv{"responseCode", t.ResponseCode}, kv{"responseReasonCode", t.Reason},
		kv{"responseReasonDescription", r.text})
	if t.AuthCode != "" {
		d = append(d, kv{"authCode", t.AuthCode})
	}
	d = append(d, kv{"AVSResponse", t.AVS})
	if t.CVV != "" {
		d = append(d, kv{"cardCodeResponse", t.CVV})
	}
	if t.BatchID != "" {
		for _, b := range f.batches {
			if b.id == t.BatchID {
				d = append(d, kv{"batch", answer{{"batchId", b.id}, {"settlementTimeUTC", b.settled.Format("2006-01-02T15:04:05.000Z")},
					{"settlementState", "settledSuccessfully"}}})
			}
		}
	}
	if t.Invoice != "" || t.Description != "" {
		d = append(d, kv{"order", answer{{"invoiceNumber", t.Invoice}, {"description", t.Description}}})
	}
	d = append(d, kv{"authAmount", money(t.Amount)}, kv{"settleAmount", money(t.Settled)},
		kv{"taxExempt", false},
		kv{"payment", answer{{"creditCard", answer{{"cardNumber", "XXXX" + t.Last4}, {"expirationDate", "XXXX"}, {"cardType", "Visa"}}}}})
	if t.FirstName != "" || t.LastName != "" || t.Zip != "" {
		d = append(d, kv{"billTo", answer{{"firstName", t.FirstName}, {"lastName", t.LastName}, {"zip", t.Zip}}})
	}
	d = append(d, kv{"recurringBilling", false}, kv{"product", "Card Not Present"}, kv{"marketType", "eCommerce"})
	if t.CustomerProfileID != "" {
		d = append(d, kv{"profile", answer{{"customerProfileId", t.CustomerProfileID}, {"customerPaymentProfileId", t.PaymentProfileID}}})
	}
	return d
}

func (f *Fake) summary(t *Tx) answer {
	a := answer{{"transId", t.ID}, {"submitTimeUTC", t.Submitted.Format("2006-01-02T15:04:05Z")},
		{"submitTimeLocal", t.Submitted.Format("2006-01-02T15:04:05")}, {"transactionStatus", t.Status}}
	if t.Invoice != "" {
		a = append(a, kv{"invoiceNumber", t.Invoice})
	}
	a = append(a, kv{"firstName", t.FirstName}, kv{"lastName", t.LastName}, kv{"accountType", "Visa"},
		kv{"accountNumber", "XXXX" + t.Last4}, kv{"settleAmount", money(t.Settled)},
		kv{"marketType", "eCommerce"}, kv{"product", "Card Not Present"})
	if t.CustomerProfileID != "" {
		a = append(a, kv{"profile", answer{{"customerProfileId", t.CustomerProfileID}, {"customerPaymentProfileId", t.PaymentProfileID}}})
	}
	return a
}

func (f *Fake) list(refID string, req map[string]any, keep func(*Tx) bool) answer {
	var sel []*Tx
	for _, id := range f.order {
		if t := f.txs[id]; keep(t) {
			sel = append(sel, t)
		}
	}
	if so := m(req, "sorting"); so != nil {
		by, desc := s(so, "orderBy"), s(so, "orderDescending") == "true"
		sort.SliceStable(sel, func(i, j int) bool {
			var less bool
			if by == "id" {
				a, _ := strconv.ParseInt(sel[i].ID, 10, 64)
				b, _ := strconv.ParseInt(sel[j].ID, 10, 64)
				less = a < b
			} else {
				less = sel[i].Submitted.Before(sel[j].Submitted) ||
					(sel[i].Submitted.Equal(sel[j].Submitted) && sel[i].ID < sel[j].ID)
			}
			if desc {
				return !less
			}
			return less
		})
	}
	total := len(sel)
	if p := m(req, "paging"); p != nil {
		limit, _ := strconv.Atoi(s(p, "limit"))
		page, _ := strconv.Atoi(s(p, "offset"))
		from := (page - 1) * limit
		if from > len(sel) {
			from = len(sel)
		}
		to := min(from+limit, len(sel))
		sel = sel[from:to]
	}
	if len(sel) == 0 {
		return withHeader(refID, messages{"Ok", []msg{{"I00004", "No records found."}}}, kv{"totalNumInResultSet", total})
	}
	items := make([]answer, 0, len(sel))
	for _, t := range sel {
		items = append(items, f.summary(t))
	}
	return withHeader(refID, okMessages(), kv{"transactions", items}, kv{"totalNumInResultSet", total})
}

func parseTime(v string) (time.Time, bool) {
	for _, l := range timeLayout {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (f *Fake) batchList(refID string, req map[string]any) answer {
	now := f.now()
	first, last := now.AddDate(0, 0, -1), now
	if v := s(req, "firstSettlementDate"); v != "" {
		first, _ = parseTime(v)
		last = first.AddDate(0, 0, 31)
		if last.After(now) {
			last = now
		}
	}
	if v := s(req, "lastSettlementDate"); v != "" {
		last, _ = parseTime(v)
	}
	if last.Sub(first) > 31*24*time.Hour {
		return withHeader(refID, errMessages("E00059", "The date range cannot exceed 31 days."))
	}
	var items []answer
	for _, b := range f.batches {
		if b.settled.Before(first) || b.settled.After(last) {
			continue
		}
		items = append(items, answer{{"batchId", b.id}, {"settlementTimeUTC", b.settled.Format("2006-01-02T15:04:05Z")},
			{"settlementTimeLocal", b.settled.Format("2006-01-02T15:04:05")}, {"settlementState", "settledSuccessfully"},
			{"paymentMethod", "creditCard"}, {"marketType", "eCommerce"}, {"product", "Card Not Present"}})
	}
	if len(items) == 0 {
		return withHeader(refID, messages{"Ok", []msg{{"I00004", "No records found."}}})
	}
	return withHeader(refID, okMessages(), kv{"batchList", items})
}
