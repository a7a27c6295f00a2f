package e2e

// Helpers of the senangPay and SensePass tests (moved to
// internal/e2e/senangpay and internal/e2e/sensepass) that files still in
// this package use: copied verbatim from senangpay_test.go,
// senangpay_gettoken_test.go, sensepass_test.go and
// sensepass_browser_test.go until those files move too.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// snSeedCallback is the seed's (002) callback example (see
// harness.SensePassSeedCallback).
const snSeedCallback = `{
    "TransactionNumber": "5f3275249792ee75b41322e636617ee039e2e1a49cc80c11f2177233",
    "date": "2022-08-14T10:09:05.810Z", "status": 0, "statusName": "Initialize",
    "timeoutDate": "2022-08-14T10:19:05.872Z",
    "paymentCommit": {"messsage": "Payment commit is enabled for this transaction"},
    "businessId": "339978940107456", "businessName": "Coffee Bar", "pos": "POS 1", "businessOwnerPhone": "3587292",
    "businessCountry": "US", "businessCity": "Virginia Beach", "businessStreet": "123 Street",
    "businessAddress": "123 Street, Virginia Beach",
    "paymentDetails": {"type": "Tokenize", "paymentMethod": "Sensepass PCI", "created": "2022-11-17T08:31:10.154Z",
        "token": "kkAl8zuss9men3mvu6rp4fhuwppek9yht6vn8r9z3kza6hyzfmnm", "cardType": "visa", "lastFourDigits": "1111",
        "cardMask": "458010*****1111", "expiration": "1234", "approvedBy": "Credit Card"},
    "callbackType": "transaction_status"}`

// spSign is senangPay's hash, computed independently of the dialect.
func spSign(secret string, parts ...string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(mac.Sum(nil))
}

// spPost sends fields to a senangPay endpoint in one encoding (form,
// multipart or json) with Basic auth user:pass ("" user: none).
func spPost(t testing.TB, s *server, path, user, pass, enc string, fields map[string]string) resp {
	t.Helper()
	var body bytes.Buffer
	ct := ""
	switch enc {
	case "form":
		v := url.Values{}
		for k, x := range fields {
			v.Set(k, x)
		}
		body.WriteString(v.Encode())
		ct = "application/x-www-form-urlencoded"
	case "multipart":
		mw := multipart.NewWriter(&body)
		for k, x := range fields {
			mw.WriteField(k, x)
		}
		mw.Close()
		ct = mw.FormDataContentType()
	case "json":
		json.NewEncoder(&body).Encode(fields)
		ct = "application/json"
	default:
		t.Fatalf("encoding %q", enc)
	}
	req, err := http.NewRequest("POST", s.URL+"/senangpay/apiv1/"+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return spDo(t, req)
}

func spDo(t testing.TB, req *http.Request) resp {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", req.URL.Path, err, raw)
	}
	return r
}

// spQuery asks query_order_status with Basic auth user:pass ("" user:
// no Authorization header).
func spQuery(t testing.TB, s *server, user, pass, merchantID, orderID, hash string) resp {
	t.Helper()
	q := url.Values{"merchant_id": {merchantID}, "order_id": {orderID}, "hash": {hash}}
	req, err := http.NewRequest("GET", s.URL+"/senangpay/apiv1/query_order_status?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return spDo(t, req)
}

// spgCallbacks is a merchant's Tokenization Callback URL: it records every
// arrival and answers "received" (a 200 that is not senangPay's OK) to the
// first notOK of them, then "OK".
type spgCallbacks struct {
	URL   string
	mu    sync.Mutex
	notOK int
	got   []spgArrival
}

type spgArrival struct {
	Method, ContentType string
	Form                url.Values
	Raw                 string
}

func spgNewCallbacks(t testing.TB, notOK int) *spgCallbacks {
	cb := &spgCallbacks{notOK: notOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(raw))
		cb.mu.Lock()
		defer cb.mu.Unlock()
		cb.got = append(cb.got, spgArrival{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Form: form, Raw: string(raw)})
		if len(cb.got) <= cb.notOK {
			io.WriteString(w, "received")
			return
		}
		io.WriteString(w, "OK\n")
	}))
	t.Cleanup(srv.Close)
	cb.URL = srv.URL + "/senangpay/callback"
	return cb
}

func (cb *spgCallbacks) arrivals() []spgArrival {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]spgArrival(nil), cb.got...)
}

// spgShop is a merchant set up for the get-token flow: its return URL is a
// recording site, its callback URL a recording receiver.
type spgShop struct {
	creds
	rs *returnSite
	cb *spgCallbacks
}

func spgNewShop(t testing.TB, s *server, notOK int) spgShop {
	t.Helper()
	sh := spgShop{creds: s.newMerchant("Kedai Abu"), rs: newReturnSite(t), cb: spgNewCallbacks(t, notOK)}
	s.call("PATCH", "/v1/merchant", sh.SecretKey, map[string]any{"tokenization_return_url": sh.rs.URL,
		"tokenization_callback_url": sh.cb.URL}).want(t, 200)
	return sh
}

// spgFields is a valid get-token request for order.
func spgFields(c creds, order string) url.Values {
	return url.Values{"order_id": {order}, "name": {"Abu Bin Ali"}, "email": {"abu@example.my"}, "phone": {"+60123456789"},
		"hash": {spSign(c.HMACSecret, c.ID, order)}}
}

// spgGetToken sends a get-token request as a browser would: enc is "query"
// (GET), "form" or "multipart" (POST). Redirects are not followed.
func spgGetToken(t testing.TB, s *server, merchantID, enc string, f url.Values) page {
	t.Helper()
	u := s.URL + "/senangpay/tokenization/" + merchantID
	var req *http.Request
	var err error
	switch enc {
	case "query":
		req, err = http.NewRequest("GET", u+"?"+f.Encode(), nil)
	case "form":
		req, err = http.NewRequest("POST", u, strings.NewReader(f.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case "multipart":
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, vs := range f {
			for _, v := range vs {
				mw.WriteField(k, v)
			}
		}
		mw.Close()
		req, err = http.NewRequest("POST", u, &b)
		if req != nil {
			req.Header.Set("Content-Type", mw.FormDataContentType())
		}
	default:
		t.Fatalf("encoding %q", enc)
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, res)
}

// spgStarted checks a get-token answer is a 303 to a hosted page and
// returns the session id.
func spgStarted(t testing.TB, s *server, p page) string {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, s.URL+"/pay/ps_") {
		t.Fatalf("get-token: want a 303 to a hosted page, got %d Location %q:\n%s", p.Status, p.Location, p.Body)
	}
	return path.Base(p.Location)
}

// spgRefused checks a get-token answer is the small error page with status,
// naming field ("" for none).
func spgRefused(t testing.TB, p page, status int, field string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d:\n%s", p.Status, status, p.Body)
	}
	h := p.Header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Location") != "" {
		t.Errorf("error page headers: %v", h)
	}
	if field != "" && !strings.Contains(p.Body, `<code id="field">`+field+`</code>`) {
		t.Errorf("the page does not name the field %s:\n%s", field, p.Body)
	}
}

func snDecode(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("a seed example: %v", err)
	}
	return v
}

// snType is a decoded JSON value's type.
func snType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// snShape checks that got has every key of the seed's example want, with
// the same JSON type, down into nested objects. skip names keys not to
// require (the seed's securityCode, which Coffer never returns).
func snShape(t testing.TB, what string, want, got map[string]any, skip ...string) {
	t.Helper()
	for k, w := range want {
		if slices.Contains(skip, k) {
			continue
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: no %q (the seed shows it)", what, k)
			continue
		}
		if snType(g) != snType(w) {
			t.Errorf("%s: %q is a JSON %s, the seed's a %s", what, k, snType(g), snType(w))
			continue
		}
		if wm, ok := w.(map[string]any); ok {
			snShape(t, what+"."+k, wm, g.(map[string]any), skip...)
		}
	}
}

// snPost sends a JSON body to /sensepass/api/transactions/<path>.
func snPost(t testing.TB, s *server, path string, body any, hdr ...string) resp {
	t.Helper()
	return s.call("POST", "/sensepass/api/transactions/"+path, "", body, hdr...)
}

// snGet reads a transaction with the key in an apiKey (or deviceId) header.
func snGet(t testing.TB, s *server, number, header, key string) resp {
	t.Helper()
	return s.call("GET", "/sensepass/api/transactions/"+number, "", nil, header, key)
}

// snArray decodes an answer that is a JSON array.
func snArray(t testing.TB, r resp) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatalf("not a JSON array (%d): %s", r.Status, r.Raw)
	}
	return v
}

// snDeviceKey creates a device key for the merchant of sk.
func snDeviceKey(t testing.TB, s *server, sk string) (key, id string) {
	t.Helper()
	r := s.call("POST", "/v1/device_keys", sk, map[string]any{"name": "POS 1"}).want(t, 201)
	return r.str("key"), r.str("id")
}

// snIsolated reports whether needle occurs in data on its own, not inside
// a longer id, number or timestamp.
func snIsolated(data []byte, needle string) bool {
	in := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.' || c == ':'
	}
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(needle))
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 || !in(data[i-1])) && (i+len(needle) >= len(data) || !in(data[i+len(needle)])) {
			return true
		}
		off = i + 1
	}
}

// snSession reads the native session behind a transaction.
func snSession(t testing.TB, s *server, sk, number string) resp {
	t.Helper()
	return s.call("GET", "/v1/sessions/"+number, sk, nil).want(t, 200)
}

// snConfirm pays an open transaction's session through the native API, as
// the hosted page would, with a card encrypted to the session's key.
func snConfirm(t testing.TB, s *server, sk, number, pan string) resp {
	t.Helper()
	sess := snSession(t, s, sk, number)
	return s.call("POST", "/v1/sessions/"+number+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, pan, "123")})
}

// snHook is one callback as the merchant's server received it.
type snHook struct {
	Method   string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// snReceiver is the merchant's callbackURL: it records every request and
// answers 500 to the first fail of them.
type snReceiver struct {
	URL  string
	mu   sync.Mutex
	got  []snHook
	fail int
}

func snNewReceiver(t testing.TB) *snReceiver {
	rv := &snReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.got = append(rv.got, snHook{Method: r.Method, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		if rv.fail > 0 {
			rv.fail--
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + "/sensepass/callback"
	return rv
}

func (rv *snReceiver) all() []snHook {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]snHook(nil), rv.got...)
}

// snVerify recomputes a callback's HMAC-Authorization independently:
// lowercase hex HMAC-SHA256 under the merchant's hmac_secret of the
// HMAC-Random-Key value followed by the body (POST) or raw query (GET).
func snVerify(t testing.TB, secret string, h snHook) {
	t.Helper()
	nonce, got := h.Header.Get("HMAC-Random-Key"), h.Header.Get("HMAC-Authorization")
	signed := h.Body
	if h.Method == http.MethodGet {
		signed = []byte(h.RawQuery)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(nonce + string(signed)))
	if want := hex.EncodeToString(mac.Sum(nil)); len(nonce) < 16 || got != want {
		t.Errorf("callback signature: HMAC-Random-Key %q, HMAC-Authorization %q, want %q", nonce, got, want)
	}
}

// snCallbacks waits until the receiver holds n requests and returns them
// decoded (POST bodies).
func snCallbacks(t testing.TB, rv *snReceiver, n int) ([]snHook, []map[string]any) {
	t.Helper()
	waitUntil(t, 15*time.Second, fmt.Sprintf("%d callbacks", n), func() bool { return len(rv.all()) >= n })
	hooks := rv.all()
	bodies := make([]map[string]any, len(hooks))
	for i, h := range hooks {
		if h.Method == http.MethodPost {
			if err := json.Unmarshal(h.Body, &bodies[i]); err != nil {
				t.Fatalf("callback %d is not JSON: %s", i, h.Body)
			}
		}
	}
	return hooks, bodies
}

// snNoCardInLogs fails the test if a card number or code reached the logs.
func snNoCardInLogs(t *testing.T, s *server, pan, cvc string) {
	t.Helper()
	logs := []byte(s.Logs.String())
	if strings.Contains(string(logs), pan) || snIsolated(logs, cvc) {
		t.Error("a card number or security code reached the server's logs")
	}
}
