package dialects

// payment.CardCipher: encrypted cards that do not open are one 400.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestCardEnvelopesRefusedAlike: every malformed or
// forged encryptedCard (envelope fields missing, mistyped, wrong sizes,
// tampered tag, a short AES key, the session-bound native form, garbage)
// is the same 400 naming the field, never a 5xx or a dropped connection,
// and never counts as an attempt.
func TestCardEnvelopesRefusedAlike(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := harness.PivotToken(t, s, s.Dev.ID, sk)
	v := harness.PivotAPISession(t, s, tok, nil)
	id := harness.Str(v, "id")
	der, _ := base64.StdEncoding.DecodeString(harness.Str(v, "encryptionKey"))
	k, _ := x509.ParsePKIXPublicKey(der)
	pub := k.(*rsa.PublicKey)
	b64 := base64.StdEncoding.EncodeToString
	wrap := func(key []byte, label []byte) string {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, label)
		if err != nil {
			t.Fatal(err)
		}
		return b64(ct)
	}
	key32 := make([]byte, 32)
	rand.Read(key32)
	good := harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON("4000056655665556", "846"), true)
	raw, _ := base64.StdEncoding.DecodeString(good)
	var env map[string]string
	json.Unmarshal(raw, &env)
	tampered := func(field string, f func([]byte) []byte) string {
		m := map[string]any{}
		for k, v := range env {
			m[k] = v
		}
		b, _ := base64.StdEncoding.DecodeString(env[field])
		m[field] = b64(f(append([]byte(nil), b...)))
		return pivotEnvelope(m)
	}
	cases := map[string]string{
		"empty object":       b64([]byte(`{}`)),
		"not json":           b64([]byte(`{not json`)),
		"array":              b64([]byte(`[1,2,3]`)),
		"numbers":            pivotEnvelope(map[string]any{"encryptedKey": 1, "nonce": 2, "ciphertext": 3}),
		"null fields":        pivotEnvelope(map[string]any{"encryptedKey": nil, "nonce": nil, "ciphertext": nil}),
		"bad base64 fields":  pivotEnvelope(map[string]any{"encryptedKey": "%%%", "nonce": "***", "ciphertext": "!!"}),
		"short nonce":        pivotEnvelope(map[string]any{"encryptedKey": env["encryptedKey"], "nonce": b64([]byte("short")), "ciphertext": env["ciphertext"]}),
		"empty ciphertext":   pivotEnvelope(map[string]any{"encryptedKey": env["encryptedKey"], "nonce": env["nonce"], "ciphertext": ""}),
		"tampered tag":       tampered("ciphertext", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"tampered key":       tampered("encryptedKey", func(b []byte) []byte { b[10] ^= 1; return b }),
		"truncated key":      tampered("encryptedKey", func(b []byte) []byte { return b[:100] }),
		"16-byte aes key":    pivotEnvelope(map[string]any{"encryptedKey": wrap(key32[:16], nil), "nonce": env["nonce"], "ciphertext": env["ciphertext"]}),
		"other label":        pivotEnvelope(map[string]any{"encryptedKey": wrap(key32, []byte("ps_other")), "nonce": env["nonce"], "ciphertext": env["ciphertext"]}),
		"plain oaep garbage": wrap([]byte("not a card"), nil),
		"plain oaep empty":   wrap([]byte{}, nil),
		"plain oaep '{'":     wrap([]byte("{"), nil),
		"random bytes":       b64(bytes.Repeat([]byte{0x7b}, 256)),
		"too long":           strings.Repeat("A", 5000),
		"whitespace":         "   ",
		"url-safe garbage":   "-_-_-_-_",
	}
	var msg string
	for name, enc := range cases {
		r := harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": enc})
		if r.Status != 400 || !strings.Contains(r.Str("message"), "paymentMethod.card.encryptedCard") {
			t.Errorf("%s: want 400 naming paymentMethod.card.encryptedCard, got %d %s", name, r.Status, r.Raw)
			continue
		}
		if msg == "" {
			msg = r.Str("message")
		} else if r.Str("message") != msg {
			t.Errorf("%s: a distinguishable error %q (others: %q)", name, r.Str("message"), msg)
		}
	}
	if g := harness.PivotOK(t, "after the bad cards", s.Call("GET", "/pivot/v2/payments/"+id, tok, nil)); g["status"] != "REQUIRE_CONFIRMATION" {
		t.Errorf("the session after malformed cards: %v", g["status"])
	}
	if n := s.Call("GET", "/v1/sessions/"+id, sk, nil).Want(t, 200); harness.Dig(n.Body, "attempts") != float64(0) {
		t.Errorf("malformed cards counted as attempts: %s", n.Raw)
	}
	// A label-less dialect ciphertext (plain or hybrid) does not open a
	// native session, whose cards are bound to it by the OAEP label; nor
	// does one made for this merchant open another merchant's session.
	ns := s.Call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "mode": "api"}).Want(t, 201)
	for _, hybrid := range []bool{false, true} {
		enc := harness.PivotEncrypt(t, ns.Str("encryption_key", "spki"), []byte(`{"number":"4000056655665556","exp_month":12,"exp_year":2031,"cvc":"846"}`), hybrid)
		if r := s.Call("POST", "/v1/sessions/"+ns.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": enc}); r.Status != 400 ||
			r.Str("error", "code") != "encrypted_card_invalid" {
			t.Errorf("a label-less ciphertext (hybrid %v) on a native session: %d %s", hybrid, r.Status, r.Raw)
		}
	}
	other := s.NewMerchant("Toko Lain")
	otok := harness.PivotToken(t, s, other.ID, other.SecretKey)
	ov := harness.PivotAPISession(t, s, otok, nil)
	if r := harness.PivotConfirm(s, otok, harness.Str(ov, "id"), map[string]any{"encryptedCard": good}); r.Status != 400 {
		t.Errorf("merchant A's ciphertext on merchant B's session: %d %s", r.Status, r.Raw)
	}
	// The genuine envelope still pays.
	if d := harness.PivotOK(t, "the good envelope", harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": good})); d["status"] != "PAID" {
		t.Errorf("good envelope: %v", d)
	}
}
