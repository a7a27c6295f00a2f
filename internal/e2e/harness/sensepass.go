package harness

// The SensePass dialect (/sensepass/api) as its clients speak it, the
// seed's (002) example answers to compare shapes with, and the checks of
// its callbacks (caught with NewRecorder(t, "/sensepass/callback")) and of
// its live socket. ContainsIsolated is shared by the other dialects' tests
// too (Recorder.Await is in receiver.go).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The seed's (002) example answers. Its callback example is not valid JSON
// (paymentCommit's brace is never closed); here paymentCommit is the
// object the other examples show, and the fields after it are the
// entity's own.
const (
	// SensePassSeedInit is the seed's transactions/init answer.
	SensePassSeedInit = `{
    "TransactionNumber": "5f3275249792ee75b41322e636617ee039e2e1a49cc80c11f2177233",
    "date": "2022-08-14T10:09:05.810Z", "status": 0, "statusName": "Initialize",
    "timeoutDate": "2022-08-14T10:19:05.872Z",
    "paymentCommit": {"messsage": "Payment commit is enabled for this transaction"},
    "businessId": "339978940107456", "businessName": "Coffee Bar", "pos": "POS 1", "businessOwnerPhone": "3587292",
    "businessCountry": "US", "businessCity": "Virginia Beach", "businessStreet": "123 Street",
    "businessAddress": "123 Street, Virginia Beach", "branchNumber": "1", "branchId": "1",
    "transactionPage": {"iOSLink": "https://pay.sandbox.sensepass.com/orderSummary/5f",
        "androidLink": "https://pay.sandbox.sensepass.com/orderSummary/5f", "qrURL": "https://pay.sandbox.sensepass.com/orderSummary/5f"},
    "paymentDetails": {"type": "Tokenize"}}`
	// SensePassSeedCallback is the seed's callback body (repaired, see above).
	SensePassSeedCallback = `{
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
)

// SensePassDecode decodes a seed example (a JSON object) or fails the test.
func SensePassDecode(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("a seed example: %v", err)
	}
	return v
}

// JSONType is a decoded JSON value's type: null, string, number, boolean,
// object or array.
func JSONType(v any) string {
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

// SensePassShape checks that got has every key of the seed's example want,
// with the same JSON type, down into nested objects. skip names keys not to
// require (the seed's securityCode, which Coffer never returns).
func SensePassShape(t testing.TB, what string, want, got map[string]any, skip ...string) {
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
		if JSONType(g) != JSONType(w) {
			t.Errorf("%s: %q is a JSON %s, the seed's a %s", what, k, JSONType(g), JSONType(w))
			continue
		}
		if wm, ok := w.(map[string]any); ok {
			SensePassShape(t, what+"."+k, wm, g.(map[string]any), skip...)
		}
	}
}

// SensePassPost sends a JSON body to /sensepass/api/transactions/<path>.
func SensePassPost(t testing.TB, s *Server, path string, body any, hdr ...string) Resp {
	t.Helper()
	return s.Call("POST", "/sensepass/api/transactions/"+path, "", body, hdr...)
}

// SensePassGet reads a transaction with the key in an apiKey (or deviceId)
// header.
func SensePassGet(t testing.TB, s *Server, number, header, key string) Resp {
	t.Helper()
	return s.Call("GET", "/sensepass/api/transactions/"+number, "", nil, header, key)
}

// SensePassArray decodes an answer that is a JSON array of objects, or
// fails the test.
func SensePassArray(t testing.TB, r Resp) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatalf("not a JSON array (%d): %s", r.Status, r.Raw)
	}
	return v
}

// SensePassFail checks the dialect's error shape and status:
// {success:false, status, code, message containing message}.
func SensePassFail(t testing.TB, what string, r Resp, status int, message string) {
	t.Helper()
	if r.Status != status || r.Body["success"] != false || r.Body["status"] != float64(status) || r.Str("code") == "" ||
		!strings.Contains(r.Str("message"), message) {
		t.Errorf("%s: want %d {success:false,status:%d,code,message ~ %q}, got %d %s", what, status, status, message, r.Status, r.Raw)
	}
}

// SensePassDeviceKey creates a device key ("POS 1") for the merchant of sk
// and returns the key and its id.
func SensePassDeviceKey(t testing.TB, s *Server, sk string) (key, id string) {
	t.Helper()
	r := s.Call("POST", "/v1/device_keys", sk, map[string]any{"name": "POS 1"}).Want(t, 201)
	return r.Str("key"), r.Str("id")
}

// ContainsIsolated reports whether needle occurs in data on its own, not
// inside a longer id, number or timestamp (letters, digits and _-.: count
// as part of a word).
func ContainsIsolated(data []byte, needle string) bool {
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

// NoCardInLogs fails the test if the card number pan, or the code cvc on
// its own (ContainsIsolated), reached the server's logs.
func (s *Server) NoCardInLogs(t testing.TB, pan, cvc string) {
	t.Helper()
	logs := []byte(s.Logs.String())
	if strings.Contains(string(logs), pan) || ContainsIsolated(logs, cvc) {
		t.Error("a card number or security code reached the server's logs")
	}
}

// SensePassSession reads the native session behind a transaction (200).
func SensePassSession(t testing.TB, s *Server, sk, number string) Resp {
	t.Helper()
	return s.Call("GET", "/v1/sessions/"+number, sk, nil).Want(t, 200)
}

// SensePassConfirm pays an open transaction's session through the native
// API, as the hosted page would, with a card encrypted to the session's key
// (CVC 123); the answer is returned unchecked.
func SensePassConfirm(t testing.TB, s *Server, sk, number, pan string) Resp {
	t.Helper()
	sess := SensePassSession(t, s, sk, number)
	return s.Call("POST", "/v1/sessions/"+number+"/confirm", sk, map[string]any{"encrypted_card": EncryptFor(t, sess, pan, "123")})
}

// SensePassExp is the expiry the native session encryption gives cards
// (12 of four years from now), as SensePass writes it: MMYY.
func SensePassExp() string { return fmt.Sprintf("12%02d", (time.Now().Year()+4)%100) }

// SensePassVerifyCallback recomputes a callback's HMAC-Authorization
// independently: lowercase hex HMAC-SHA256 under the merchant's hmac_secret
// of the HMAC-Random-Key value followed by the body (POST) or raw query (GET).
func SensePassVerifyCallback(t testing.TB, secret string, h Hit) {
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

// SensePassSocketURL is a transaction's live socket (ws://).
func SensePassSocketURL(s *Server, number string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/sensepass/api/transactions/" + number + "/socket"
}

// SensePassFrame reads one entity the socket pushed, or fails the test.
func SensePassFrame(t testing.TB, ctx context.Context, conn *websocket.Conn) map[string]any {
	t.Helper()
	_, b, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("socket frame: %s", b)
	}
	return v
}
