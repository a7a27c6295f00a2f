package e2e

// Helpers of the Pivot and Ottu dialect tests, which moved to
// internal/e2e/pivot and internal/e2e/ottu (over the harness), copied here
// unchanged for the files of this package that still use them.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// pvToken gets an access token for a merchant.
func pvToken(t testing.TB, s *server, id, sk string) string {
	t.Helper()
	r := s.call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "client_credentials"},
		"X-MERCHANT-ID", id, "X-MERCHANT-SECRET", sk).want(t, 200)
	if r.str("code") != "00" || r.str("message") != "Success" || r.str("data", "expiresIn") != "900" || r.str("data", "tokenType") != "Bearer" {
		t.Fatalf("access token: %s", r.Raw)
	}
	return r.str("data", "accessToken")
}

// pvOK checks a success envelope and returns data.
func pvOK(t testing.TB, what string, r resp) map[string]any {
	t.Helper()
	if r.Status != 200 || r.str("code") != "00" {
		t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
	}
	d, _ := r.Body["data"].(map[string]any)
	return d
}

func pvStr(v any, path ...string) string { s, _ := dig(v, path...).(string); return s }

// pvCardJSON is the card plaintext Pivot clients encrypt.
func pvCardJSON(number, cvc string) []byte {
	b, _ := json.Marshal(map[string]any{"card": map[string]any{"number": number, "expiryMonth": "12",
		"expiryYear": fmt.Sprint(time.Now().Year() + 4), "cvc": cvc, "nameOnCard": "Siti Aminah"}})
	return b
}

// pvEncrypt encrypts a card to a session's encryptionKey: hybrid (a random
// AES-256-GCM key wrapped by RSA-OAEP SHA-256, envelope JSON in base64) or
// plain RSA-OAEP SHA-256, without a label.
func pvEncrypt(t testing.TB, spki string, plain []byte, hybrid bool) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(spki)
	if err != nil {
		t.Fatalf("encryptionKey: %v", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*rsa.PublicKey)
	if !hybrid {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ct)
	}
	key, nonce := make([]byte, 32), make([]byte, 12)
	rand.Read(key)
	rand.Read(nonce)
	blk, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(blk)
	sealed := gcm.Seal(nil, nonce, plain, nil)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	env, _ := json.Marshal(map[string]string{"encryptedKey": b64(wrapped), "nonce": b64(nonce), "ciphertext": b64(sealed)})
	return b64(env)
}

// pvAPISession creates an API-mode session and returns its data.
func pvAPISession(t testing.TB, s *server, tok string, extra map[string]any, hdr ...string) map[string]any {
	t.Helper()
	body := map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
		"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
		"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
			"expirationReturnUrl": "https://shop.example/expired"}}
	for k, v := range extra {
		body[k] = v
	}
	return pvOK(t, "create", s.call("POST", "/pivot/v2/payments", tok, body, hdr...))
}

func pvConfirm(s *server, tok, id string, card map[string]any, extra ...any) resp {
	body := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": card},
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic"}}}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return s.call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, body)
}

// pvHook is one callback the merchant's server received.
type pvHook struct {
	Header http.Header
	Body   map[string]any
}

// pvReceiver is the merchant's callbackUrl; it answers status.
type pvReceiver struct {
	URL    string
	status int
	mu     sync.Mutex
	got    []pvHook
}

func pvNewReceiver(t testing.TB, status int) *pvReceiver {
	rv := &pvReceiver{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b map[string]any
		json.Unmarshal(raw, &b)
		rv.mu.Lock()
		rv.got = append(rv.got, pvHook{Header: r.Header.Clone(), Body: b})
		rv.mu.Unlock()
		w.WriteHeader(rv.status)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + "/pivot/callback"
	return rv
}

func (rv *pvReceiver) all() []pvHook {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]pvHook(nil), rv.got...)
}

// otCall sends a request under /ottu with `Authorization: Api-Key sk`.
func otCall(t testing.TB, s *server, method, path, sk string, body any, hdr ...string) resp {
	t.Helper()
	if sk != "" {
		hdr = append(hdr, "Authorization", "Api-Key "+sk)
	}
	return s.call(method, "/ottu"+path, "", body, hdr...)
}

// otCheckout creates a checkout and expects 201.
func otCheckout(t testing.TB, s *server, sk string, body any) resp {
	t.Helper()
	return otCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, body).want(t, 201)
}

// otSign recomputes Ottu's signature as PROVIDERS.md words it, without
// the dialect's code.
func otSign(secret string, body map[string]any) string {
	listed := strings.Fields(`amount currency_code customer_first_name customer_last_name customer_email customer_phone
		gateway_name gateway_account order_no reference_number result state`)
	var keys []string
	for k, v := range body {
		s, _ := v.(string)
		if s == "" {
			continue
		}
		for _, l := range listed {
			if k == l {
				keys = append(keys, k)
			}
		}
		if strings.HasPrefix(k, "customer_address_") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var msg strings.Builder
	for _, k := range keys {
		msg.WriteString(k + body[k].(string))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg.String()))
	return hex.EncodeToString(mac.Sum(nil))
}

// otVerify checks a notification's signature.
func otVerify(t testing.TB, secret string, body map[string]any) {
	t.Helper()
	if got, want := fmt.Sprint(body["signature"]), otSign(secret, body); got != want {
		t.Errorf("signature %q, recomputed %q: %v", got, want, body)
	}
}

// otPayNative pays a checkout as its hosted page would: a card encrypted
// to the session's key, confirmed.
func otPayNative(t testing.TB, s *server, sk, sid, pan, cvc string, save bool) resp {
	t.Helper()
	sess := s.call("GET", "/v1/sessions/"+sid, sk, nil).want(t, 200)
	return s.call("POST", "/v1/sessions/"+sid+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, sess, pan, cvc),
		"save_card": save}).want(t, 200)
}

// otHooks waits for n webhooks and decodes them, each verified.
func otHooks(t testing.TB, rv *snReceiver, secret string, n int) []map[string]any {
	t.Helper()
	hooks, bodies := snCallbacks(t, rv, n)
	for i, h := range hooks {
		if h.Method != "POST" || !strings.HasPrefix(h.Header.Get("Content-Type"), "application/json") {
			t.Errorf("webhook %d: %s %s", i, h.Method, h.Header.Get("Content-Type"))
		}
		otVerify(t, secret, bodies[i])
	}
	return bodies
}
