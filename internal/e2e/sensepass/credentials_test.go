package sensepass

// Who may act on a transaction: keys in the body or a header, revoked
// device keys, and another merchant's keys.

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSensePassGetBodyCredentials: SensePass authenticates every
// call, GET /transactions/{transactionNumber} included, by apiKey or
// deviceId in the JSON request body ("Authentication Request Body fields";
// PROVIDERS.md §2: "Authentication is by fields in the JSON body"). Get
// (transaction.go:344) reads only the apiKey/deviceId headers, so a
// SensePass client's status call — its documented way to read a
// transaction after a GET callback — answers 401.
func TestSensePassGetBodyCredentials(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		dk, _ := harness.SensePassDeviceKey(t, s, sk)
		n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")
		for _, body := range []map[string]any{{"apiKey": sk}, {"deviceId": dk}} {
			r := s.Call("GET", "/sensepass/api/transactions/"+n, "", body)
			if r.Status != 200 || r.Str("TransactionNumber") != n {
				t.Errorf("GET with %v in the body: %d %s, want 200 and the transaction", keysOf(body), r.Status, r.Raw)
			}
		}
		// The header form keeps working, and a wrong key in the body
		// is refused rather than ignored.
		harness.SensePassGet(t, s, n, "apiKey", sk).Want(t, 200)
		harness.SensePassFail(t, "GET with a wrong key in the body", s.Call("GET", "/sensepass/api/transactions/"+n, "", map[string]any{"apiKey": "sk_nope"}), 401, "")
	})
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSensePassCrossMerchant: another merchant's keys
// (secret or device) can neither read, cancel, watch nor pay with this
// merchant's transactions and tokens: 404, and nothing changes.
func TestSensePassCrossMerchant(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		other := s.NewMerchant("Other shop")
		odk, _ := harness.SensePassDeviceKey(t, s, other.SecretKey)
		n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")
		s.Call("PATCH", "/v1/merchant", sk, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		tok := harness.SensePassArray(t, harness.SensePassPost(t, s, "tokenize", map[string]any{"apiKey": sk, "creditCardDetails": []any{
			map[string]any{"cardNumber": "4242424242424242", "cardExpiration": "12/34", "securityCode": "123"}}}).Want(t, 201))[0]["token"]
		pay := harness.SensePassPost(t, s, "pay", map[string]any{"apiKey": sk, "amount": 100, "token": tok}).Want(t, 201).Str("transactionNumber")
		for _, key := range []map[string]any{{"apiKey": other.SecretKey}, {"deviceId": odk}} {
			what := fmt.Sprint(keysOf(key))
			harness.SensePassFail(t, what+": cancel another merchant's transaction", harness.SensePassPost(t, s, "cancel/"+n, key), 404, "Transaction not found")
			harness.SensePassFail(t, what+": cancel another merchant's payment", harness.SensePassPost(t, s, "cancel/"+pay, key), 404, "Transaction not found")
			harness.SensePassFail(t, what+": pay with another merchant's token", harness.SensePassPost(t, s, "pay", map[string]any{"amount": 100, "token": tok,
				"apiKey": key["apiKey"], "deviceId": key["deviceId"]}), 404, "Token not found")
			harness.SensePassFail(t, what+": validate another merchant's token", harness.SensePassPost(t, s, "token-validation", map[string]any{"token": tok,
				"apiKey": key["apiKey"], "deviceId": key["deviceId"]}), 404, "Token not found")
		}
		harness.SensePassFail(t, "GET another merchant's payment", harness.SensePassGet(t, s, pay, "deviceId", odk), 404, "Transaction not found")
		if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(0) {
			t.Errorf("the transaction after another merchant's cancel: %s", g.Raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.Write(ctx, websocket.MessageText, []byte(`{"deviceId":"`+odk+`"}`))
		if _, b, err := c.Read(ctx); err == nil || websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("another merchant's device key watching the socket: %s %v", b, err)
		}
	})
}

// TestSensePassRevokedKeyRefused: a revoked device key (and
// a publishable key, and an empty one) is refused everywhere it may be
// presented: body, header, the socket's header and its first message.
func TestSensePassRevokedKeyRefused(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	dk, dkID := harness.SensePassDeviceKey(t, s, sk)
	n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")
	s.Call("DELETE", "/v1/device_keys/"+dkID, sk, nil).Want(t, 200)
	harness.SensePassFail(t, "revoked, body", harness.SensePassPost(t, s, "init", map[string]any{"deviceId": dk, "amount": 100}), 401, "revoked")
	harness.SensePassFail(t, "revoked, as apiKey", harness.SensePassPost(t, s, "cancel/"+n, map[string]any{"apiKey": dk}), 401, "")
	harness.SensePassFail(t, "revoked, header", harness.SensePassGet(t, s, n, "deviceId", dk), 401, "")
	harness.SensePassFail(t, "publishable, header", harness.SensePassGet(t, s, n, "apiKey", s.Dev.PublishableKey), 401, "publishable")
	harness.SensePassFail(t, "empty, body and header", harness.SensePassPost(t, s, "cancel/"+n, map[string]any{"apiKey": ""}, "apiKey", " "), 401, "")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, res, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"deviceId": {dk}}}); err == nil || res == nil || res.StatusCode != 401 {
		t.Errorf("socket, revoked key in the header: %v %v", err, res)
	}
	c, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, []byte(`{"deviceId":"`+dk+`"}`))
	if _, b, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Errorf("socket, revoked key as the first message: %s %v", b, err)
	}
	if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(0) {
		t.Errorf("the transaction after refused cancels: %s", g.Raw)
	}
}
