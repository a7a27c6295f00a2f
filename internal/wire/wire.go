// Package wire is the HTTP plumbing the native API and every dialect share:
// bodies in (bounded, read once), one strict guard over what a client sends,
// JSON out, whole HTML pages out (WritePage, for the hosted pages and the
// dashboard), and one sanitizer for every error message. It holds no business
// rules and knows no API shape: each caller words a wire.Error in its own
// envelope (status code and body format are the caller's).
//
// # The input guard
//
// Every client-supplied string that is stored or echoed goes through one
// guard, default deny, so that a new field cannot forget it:
//
//   - JSON bodies (DecodeJSON, CheckJSON): one pass over the raw bytes, before
//     anything is unmarshalled, refuses a key given twice — exactly or in
//     another case ("number" then "Number", which encoding/json would
//     silently take as one field; metadata keys included) —, text that is
//     not UTF-8 (a lone surrogate escape too, which the standard decoder
//     would turn into U+FFFD), a NUL (raw or \u0000), and any string, key or
//     number that holds a card number, except at the paths the caller
//     declares as card data (Rules.Card: "card.number", "cards[].number").
//   - Form bodies and query parameters (CheckForm, CheckText): the same for
//     every key and value, a key given twice (or in two cases) included,
//     except the fields listed in Rules.Repeat (which may repeat) and
//     Rules.Card.
//
// Each refusal names the field by its path ("customer.phoneNumber.number",
// "cards[3].number", "metadata" for a key of metadata) and never echoes the
// value. A JSON body is refused in this order: malformed (syntax, UTF-8,
// NUL, a duplicate key), then of the wrong shape (the caller's type: a wrong
// JSON type, an unknown field under Rules.Strict), then holding a card
// number. Nothing is stored before the guard has passed, since callers
// decode first and act after.
//
// A card number, for refusal, is what logging.HasCardNumber finds: digit
// groups (spaces, dashes, dots between them) of 12 to 19 digits that pass
// Luhn under a card brand's prefix, at a length that brand issues
// (card.Plausible). The brand and length test keeps phone numbers usable:
// "+60 11-2345 6789" has 12 digits and passes Luhn one time in ten, but no
// brand issues 12-digit cards under 60. Numbers that merely pass Luhn are
// still masked in logs (logging.Redact) and in errors (Clean).
//
// # Errors
//
// No error message echoes a run of 12 or more digits, whatever the field:
// every error writer passes its messages through Clean, which masks such
// runs whether or not they could be a card number.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/logging"
)

// Codes of an Error, in the native API's vocabulary; dialects map them to
// their own.
const (
	CodeTooLarge   = "body_too_large"         // 413
	CodeUnreadable = "body_unreadable"        // the connection failed
	CodeEmpty      = "body_missing"           // an empty body where one is required
	CodeSyntax     = "json_invalid"           // not one JSON object
	CodeDuplicate  = "parameter_duplicate"    // a key given twice
	CodeInvalid    = "parameter_invalid"      // not UTF-8, a NUL, a card number
	CodeType       = "parameter_invalid_type" // the wrong JSON type for the field
	CodeUnknown    = "parameter_unknown"      // a field the call does not take (Rules.Strict)
)

// Error is a refused body or field. Its text never holds a value the
// client sent; Param is the only part taken from the request (a key path),
// cleaned and bounded.
type Error struct {
	Status int    // 400, or 413 for CodeTooLarge
	Code   string // one of the Code constants
	// Param is the field's path, "" for the body as a whole.
	Param string
	// Detail says what is wrong. With a Param it follows the param's name
	// ("must not contain a card number"); without one it is a sentence.
	Detail string
	// Want and Got are the JSON types of a CodeType error ("integer",
	// "string"): Got is the kind of value sent, never the value.
	Want, Got string
	// Limit is a CodeTooLarge error's bound in bytes.
	Limit int64
}

// Error is the message: the param's name then the detail.
func (e *Error) Error() string {
	if e.Param == "" {
		return e.Detail
	}
	return e.Param + " " + e.Detail
}

// Clean is the one sanitizer every error writer passes its messages (and
// params) through: each run of 12 or more digits, separators between
// groups allowed, has its digits replaced by '*'. It does not ask whether
// the run could be a card number: an error has no reason to repeat a long
// run of a client's digits, and a value that is not a card number in one
// field ("000000000000" as a currency) is one in the log guard's eyes.
func Clean(s string) string { return logging.MaskDigitRuns(s, minRun) }

// minRun is the shortest digit run Clean masks: the shortest card number.
const minRun = 12

// maxParam bounds a param echoed in an error: a key can be as long as the
// body.
const maxParam = 100

// param makes a path fit to echo: cleaned and bounded.
func param(p string) string {
	p = Clean(p)
	if len(p) > maxParam {
		cut := maxParam
		for cut > 0 && p[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		p = p[:cut] + "…"
	}
	return p
}

func fieldError(code, path, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Param: param(path), Detail: Clean(fmt.Sprintf(format, args...))}
}

func bodyError(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Detail: Clean(fmt.Sprintf(format, args...))}
}

// ReadBody reads r's body, at most limit bytes when limit > 0 (the native
// API bounds every body in its middleware already).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Error) {
	body := r.Body
	if limit > 0 {
		body = http.MaxBytesReader(w, body, limit)
	}
	b, err := readAll(body, bodySize(r.ContentLength, limit))
	if err != nil {
		return nil, BodyError(err)
	}
	return b, nil
}

// maxSizeHint bounds the buffer a declared Content-Length buys before any
// of the body has come: a client that declares much and sends little must
// not make the server set aside much. Most API bodies fit well within it.
const maxSizeHint = 64 << 10

// bodySize is how large a buffer to read a body into: its declared length
// (bounded by limit and maxSizeHint), or 0 when unknown.
func bodySize(declared, limit int64) int {
	if declared <= 0 || (limit > 0 && declared > limit) {
		return 0 // unknown, or a body that will be refused when read
	}
	return int(min(declared, maxSizeHint))
}

// readAll is io.ReadAll, reading into a buffer of size bytes first (plus
// one, to read the end of the body without growing it), so that a body of
// the declared size is read in one allocation and not copied.
func readAll(r io.Reader, size int) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than declared: grow
		}
	}
}

// BodyError is the Error of a failed body read (an *http.MaxBytesError
// anywhere in err's chain is CodeTooLarge, with its limit).
func BodyError(err error) *Error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Limit: mb.Limit,
			Detail: fmt.Sprintf("The request body is larger than %d bytes.", mb.Limit)}
	}
	return bodyError(CodeUnreadable, "The request body could not be read.")
}

// WriteJSON answers v as JSON with status, never cached. If v cannot be
// encoded the answer is a 500 with fallback, the caller's own error body.
func WriteJSON(w http.ResponseWriter, status int, v any, fallback string) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(strings.TrimSpace(fallback))
	}
	writeJSONHeader(w, status)
	w.Write(append(b, '\n'))
}

// WriteJSONBytes answers with JSON already rendered by json.Marshal, as
// WriteJSON would have written it. b is the caller's and is not changed.
func WriteJSONBytes(w http.ResponseWriter, status int, b []byte) {
	writeJSONHeader(w, status)
	w.Write(b)
	w.Write(newline)
}

var newline = []byte{'\n'}

func writeJSONHeader(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}
