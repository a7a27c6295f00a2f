package harness

// The Pivot Payment dialect (/pivot) as its clients speak it: access
// tokens, API-mode payment sessions, cards encrypted the way Pivot clients
// do (hybrid RSA-OAEP + AES-256-GCM, or plain RSA-OAEP) and Pivot's
// envelopes. Pivot's callbacks are caught with a Recorder
// (NewRecorder(t, "/pivot/callback"), Status set to the answer wanted) and
// read with Hit.JSON.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// PivotToken gets a Pivot access token for a merchant (id, secret key) and
// checks the token answer is Pivot's: code 00, a 900 s Bearer token.
func PivotToken(t testing.TB, s *Server, id, sk string) string {
	t.Helper()
	r := s.Call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "client_credentials"},
		"X-MERCHANT-ID", id, "X-MERCHANT-SECRET", sk).Want(t, 200)
	if r.Str("code") != "00" || r.Str("message") != "Success" || r.Str("data", "expiresIn") != "900" || r.Str("data", "tokenType") != "Bearer" {
		t.Fatalf("access token: %s", r.Raw)
	}
	return r.Str("data", "accessToken")
}

// PivotFail checks Pivot's error envelope: the status, the code, a message
// containing message, and a data field.
func PivotFail(t testing.TB, what string, r Resp, status int, code, message string) {
	t.Helper()
	if r.Status != status || r.Str("code") != code || !strings.Contains(r.Str("message"), message) {
		t.Errorf("%s: want %d {code:%q, message ~ %q}, got %d %s", what, status, code, message, r.Status, r.Raw)
	}
	if _, ok := r.Body["data"]; !ok {
		t.Errorf("%s: no data field: %s", what, r.Raw)
	}
}

// PivotOK checks a Pivot success envelope (200, code 00) and returns its data.
func PivotOK(t testing.TB, what string, r Resp) map[string]any {
	t.Helper()
	if r.Status != 200 || r.Str("code") != "00" {
		t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
	}
	d, _ := r.Body["data"].(map[string]any)
	return d
}

// PivotCardJSON is the card plaintext Pivot clients encrypt (see
// PivotEncrypt): expiry 12 of four years from now.
func PivotCardJSON(number, cvc string) []byte {
	b, _ := json.Marshal(map[string]any{"card": map[string]any{"number": number, "expiryMonth": "12",
		"expiryYear": fmt.Sprint(time.Now().Year() + 4), "cvc": cvc, "nameOnCard": "Siti Aminah"}})
	return b
}

// PivotEncrypt encrypts a card to a session's encryptionKey (base64 SPKI):
// hybrid (a random AES-256-GCM key wrapped by RSA-OAEP SHA-256, envelope
// JSON in base64) or plain RSA-OAEP SHA-256, without a label.
func PivotEncrypt(t testing.TB, spki string, plain []byte, hybrid bool) string {
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

// PivotAPISession creates an API-mode session (IDR 15000, order-1, extra
// fields merged in) with the access token tok and returns its data.
func PivotAPISession(t testing.TB, s *Server, tok string, extra map[string]any, hdr ...string) map[string]any {
	t.Helper()
	body := map[string]any{"clientReferenceId": "order-1", "amount": map[string]any{"value": 15000, "currency": "IDR"},
		"mode": "API", "paymentType": "SINGLE", "autoConfirm": false, "paymentMethod": map[string]any{"type": "CARD"},
		"redirectUrl": map[string]any{"successReturnUrl": "https://shop.example/ok", "failureReturnUrl": "https://shop.example/fail",
			"expirationReturnUrl": "https://shop.example/expired"}}
	for k, v := range extra {
		body[k] = v
	}
	return PivotOK(t, "create", s.Call("POST", "/pivot/v2/payments", tok, body, hdr...))
}

// PivotConfirm confirms session id with card (e.g. {"encryptedCard": …}),
// automatic capture; extra is name, value, … of more body fields.
func PivotConfirm(s *Server, tok, id string, card map[string]any, extra ...any) Resp {
	body := map[string]any{"paymentMethod": map[string]any{"type": "CARD", "card": card},
		"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": "automatic"}}}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return s.Call("POST", "/pivot/v2/payments/"+id+"/confirm", tok, body)
}
