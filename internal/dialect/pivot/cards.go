package pivot

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
)

// cardIn is paymentMethod.card: an encrypted card, or a stored token and
// its CVC. It holds a CVC, so it formats itself redacted: a stray %v or
// slog call cannot leak it.
type cardIn struct {
	EncryptedCard string `json:"encryptedCard"`
	Token         string `json:"token"`
	CVC           string `json:"cvc"`
}

func (c cardIn) String() string       { return "card(redacted)" }
func (c cardIn) GoString() string     { return "pivot.cardIn{redacted}" }
func (c cardIn) LogValue() slog.Value { return slog.StringValue("card(redacted)") }

// plainCard is the decrypted encryptedCard's card.
type plainCard struct {
	Number      string          `json:"number"`
	ExpiryMonth json.RawMessage `json:"expiryMonth"`
	ExpiryYear  json.RawMessage `json:"expiryYear"`
	CVC         string          `json:"cvc"`
	NameOnCard  string          `json:"nameOnCard"`
}

// Errors of ParseCard. They name fields, never values: the core turns any
// of them into one "could not be decrypted" answer anyway.
var (
	errCardJSON  = errors.New("pivot: the decrypted card is not {\"card\":{…}} JSON")
	errCardMonth = errors.New("pivot: card.expiryMonth must be 1 to 12")
	errCardYear  = errors.New("pivot: card.expiryYear must have 2 or 4 digits")
)

// ParseCard reads a decrypted encryptedCard:
// {"card":{"number","expiryMonth","expiryYear","cvc","nameOnCard"}}, the
// expiry as strings or numbers, the year with 2 or 4 digits. A plaintext
// without the "card" wrapper is read as the card itself. Validation of the
// number, expiry and CVC is the core's.
func ParseCard(plain []byte) (*payment.CardInput, error) {
	var env struct {
		Card *plainCard `json:"card"`
	}
	if err := json.Unmarshal(plain, &env); err != nil {
		return nil, errCardJSON
	}
	c := env.Card
	if c == nil {
		c = &plainCard{}
		if err := json.Unmarshal(plain, c); err != nil {
			return nil, errCardJSON
		}
	}
	month, ok := digitsOf(c.ExpiryMonth, 1, 2)
	if !ok || month < 1 || month > 12 {
		return nil, errCardMonth
	}
	ys, _ := scalarText(c.ExpiryYear)
	year, ok := digitsOf(c.ExpiryYear, 2, 4)
	if !ok || len(ys) == 3 {
		return nil, errCardYear
	}
	if len(ys) <= 2 {
		year += 2000
	}
	return &payment.CardInput{Number: strings.TrimSpace(c.Number), ExpMonth: month, ExpYear: year,
		CVC: strings.TrimSpace(c.CVC), HolderName: strings.TrimSpace(c.NameOnCard)}, nil
}

// scalarText is a JSON string's content or a JSON number's text.
func scalarText(raw json.RawMessage) (string, bool) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || string(s) == "null" {
		return "", false
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(s, &v) != nil {
			return "", false
		}
		return strings.TrimSpace(v), true
	}
	return string(s), true
}

// digitsOf reads a JSON string or number of minLen to maxLen digits.
func digitsOf(raw json.RawMessage, minLen, maxLen int) (int, bool) {
	s, ok := scalarText(raw)
	if !ok || len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// cipher is how Pivot clients encrypt a card (the hybrid envelope or plain
// RSA-OAEP, both read by the core).
var cipher = &payment.CardCipher{Field: "paymentMethod.card.encryptedCard", Parse: ParseCard}
