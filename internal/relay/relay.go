// Package relay sends a vaulted card to a third-party API on a merchant's
// behalf (POST /v1/relay): it parses the merchant's request template, whose
// headers and body hold placeholders such as {{tok_….number}}, substitutes
// the cards with the escaping the body's Content-Type needs, calls the
// destination under the webhook address rules, and masks every card number
// in the answer before it goes back.
//
// It knows no store and no vault: the caller (internal/payment) checks the
// destination against the merchant's allowlist, audits each substitution
// and opens the cards, then hands them to Template.Render.
package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
)

// Request is what a merchant asks Coffer to send.
type Request struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Response is the destination's answer as the merchant gets it, every card
// number in its headers and body masked.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Error is a relay request refused or failed, with the HTTP status the API
// answers and the request field it concerns. Its message never holds card
// data: placeholders and origins only.
type Error struct {
	Status  int
	Code    string
	Param   string
	Message string
	cause   error // what the client reported, for the server's log only
}

// Cause is the text of the error behind a failed call (for the server's
// log, which masks card numbers itself), or "" when there is none.
func Cause(err error) string {
	var e *Error
	if errors.As(err, &e) && e.cause != nil {
		return e.cause.Error()
	}
	return ""
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Param, e.Message)
	}
	return e.Code + ": " + e.Message
}

func badRequest(param, code, format string, args ...any) *Error {
	return &Error{Status: 400, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// Field is what a placeholder asks of a card.
type Field string

// The fields a placeholder may name after its token id.
const (
	FieldNumber     Field = "number"
	FieldExpMonth   Field = "exp_month"
	FieldExpYear    Field = "exp_year"
	FieldHolderName Field = "holder_name"
	FieldCVC        Field = "cvc"
)

var fields = map[Field]bool{FieldNumber: true, FieldExpMonth: true, FieldExpYear: true, FieldHolderName: true, FieldCVC: true}

// Card is one vaulted card opened for a relay. It holds a PAN (and maybe a
// CVC), so it formats itself redacted: a stray %v or slog call cannot leak it.
type Card struct {
	Number     string
	ExpMonth   int
	ExpYear    int
	HolderName string
	CVC        string
}

func (Card) String() string               { return "relay.Card(redacted)" }
func (Card) GoString() string             { return "relay.Card{redacted}" }
func (Card) LogValue() slog.Value         { return slog.StringValue("relay.Card(redacted)") }
func (c Card) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// value is the text a field puts in a template. exp_month is two digits
// ("03") except where it stands as a bare JSON number (3), where a leading
// zero would not be JSON.
func (c Card) value(f Field, bare bool) string {
	switch f {
	case FieldNumber:
		return c.Number
	case FieldExpMonth:
		if bare {
			return strconv.Itoa(c.ExpMonth)
		}
		return fmt.Sprintf("%02d", c.ExpMonth)
	case FieldExpYear:
		return strconv.Itoa(c.ExpYear)
	case FieldHolderName:
		return c.HolderName
	case FieldCVC:
		return c.CVC
	}
	return ""
}

// Use is one token a template needs: the fields it substitutes and, for
// error messages, where it first appears and the first placeholder asking
// for a CVC.
type Use struct {
	Token  string
	Fields []Field
	// Param is the request field of its first placeholder ("body",
	// "headers.Authorization").
	Param string
	// CVCPlaceholder is the text of its first .cvc placeholder, "" if none.
	CVCPlaceholder string
	// CVCParam is where that placeholder is.
	CVCParam string
}

// Needs reports whether the template substitutes field of this token.
func (u Use) Needs(f Field) bool {
	for _, x := range u.Fields {
		if x == f {
			return true
		}
	}
	return false
}
