package e2e

import (
	"strings"
	"testing"
)

// A ciphertext copied onto another token's row (same merchant, same data
// key) must not decrypt there: the AAD binds it to its own record.
func TestMovedCiphertextFailsToDecrypt(t *testing.T) { backends(t, testMovedCiphertextFailsToDecrypt) }

func testMovedCiphertextFailsToDecrypt(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	a := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	b := tokenize(t, s, sk, map[string]any{"card": card("5555555555554444")}).want(t, 201).str("id")
	ctA := cardCiphertext(t, s, a)
	db := openDB(t, s)
	if _, err := db.Exec(rebind(s, `UPDATE tokens SET card_ct = ? WHERE id = ?`), ctA, b); err != nil {
		t.Fatal(err)
	}
	r := s.call("POST", "/v1/tokens/"+b+"/validate", sk, nil).want(t, 500)
	if strings.Contains(string(r.Raw), "4242") || !strings.Contains(s.Logs.String(), "ciphertext failed authentication") {
		t.Fatalf("decryption of a moved ciphertext must fail loudly in the log and quietly in the response: %s", r.Raw)
	}
	// The original row still works.
	s.call("POST", "/v1/tokens/"+a+"/validate", sk, nil).want(t, 200)
}
