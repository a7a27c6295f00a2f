package tokens

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// A ciphertext copied onto another token's row (same merchant, same data
// key) must not decrypt there: the AAD binds it to its own record.
func TestMovedCiphertextFailsToDecrypt(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testMovedCiphertextFailsToDecrypt)
}

func testMovedCiphertextFailsToDecrypt(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	a := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	b := s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444")}).Want(t, 201).Str("id")
	ctA := s.CardCiphertext(t, a)
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE tokens SET card_ct = ? WHERE id = ?`), ctA, b); err != nil {
		t.Fatal(err)
	}
	r := s.Call("POST", "/v1/tokens/"+b+"/validate", sk, nil).Want(t, 500)
	if strings.Contains(string(r.Raw), "4242") || !strings.Contains(s.Logs.String(), "ciphertext failed authentication") {
		t.Fatalf("decryption of a moved ciphertext must fail loudly in the log and quietly in the response: %s", r.Raw)
	}
	// The original row still works.
	s.Call("POST", "/v1/tokens/"+a+"/validate", sk, nil).Want(t, 200)
}
