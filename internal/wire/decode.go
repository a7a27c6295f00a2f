package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/money"
)

// CardHolder is a request type that declares where it takes card data:
// DecodeJSON adds its paths to Rules.Card, so that a type and the paths
// of its card fields are written in one place.
type CardHolder interface {
	CardPaths() []string
}

// cardPaths are v's own card paths, when it declares any: the guard takes
// them beside Rules.Card.
func cardPaths(v any) []string {
	if c, ok := v.(CardHolder); ok {
		return c.CardPaths()
	}
	return nil
}

// ReadJSON reads r's body, at most limit bytes when limit > 0, and
// decodes it into v by rules (DecodeJSON): the one way a JSON request body
// comes in, for the native API and every dialect.
func ReadJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, rules Rules) *Error {
	b, e := ReadBody(w, r, limit)
	if e != nil {
		return e
	}
	return DecodeJSON(b, v, rules)
}

// Message is the one field-echo rule for a refused body, in a sentence a
// dialect can send as it is: the field's path as sent (cleaned and
// bounded), then what is wrong; for a wrong JSON type, the kind of value
// sent ("clientEmail must not be a JSON number"), never the value.
func (e *Error) Message() string {
	if e.Code == CodeType && e.Param != "" {
		return e.Param + " must not be a JSON " + e.Got
	}
	return e.Error()
}

// Absent reports whether a raw JSON field was left out or sent as null.
func Absent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// NormalCurrency is a client's currency code as the core takes it: trimmed
// and upper case (the dialects' clients are not held to upper case, as the
// native API's are), or def when it is empty.
func NormalCurrency(code, def string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		return def
	}
	return code
}

// Currency is NormalCurrency, validated: a code the core does not take is
// a CodeInvalid Error naming field ("amount.currency is not a supported
// ISO 4217 currency code").
func Currency(field, code, def string) (string, *Error) {
	code = NormalCurrency(code, def)
	if err := money.ValidateCurrency(code); err != nil {
		msg := "is not a supported ISO 4217 currency code"
		var me *money.Error
		if errors.As(err, &me) {
			msg = me.Message
		}
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Param: param(field), Detail: Clean(msg)}
	}
	return code, nil
}
