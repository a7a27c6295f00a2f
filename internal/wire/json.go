package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/logging"
)

// Rules are what a call declares about its body.
type Rules struct {
	// Card lists the paths that carry card data and so may hold a card
	// number: "card.number", "cards[].number" ("[]" is any index), matched
	// without regard to case as encoding/json matches field names. A CVC
	// needs no entry: 3 or 4 digits are never a card number.
	Card []string
	// Opaque lists the paths whose values are only compared, never stored
	// or echoed — a signature, a hash —: a hex digest may hold any run of
	// digits, so the card-number check skips them (the others still apply).
	Opaque []string
	// Strict refuses a field the target type does not have (JSON).
	Strict bool
	// Empty accepts an empty body as no fields at all (JSON).
	Empty bool
	// UseNumber decodes numbers into an interface as json.Number (JSON).
	UseNumber bool
	// Repeat lists the form fields that may be given more than once.
	Repeat []string
}

// maxDepth bounds how deeply a JSON body nests; no request of any API shape
// needs a tenth of it, and the guard recurses.
const maxDepth = 100

// DecodeJSON reads body, one JSON object, into v: the guard (see the
// package comment), then encoding/json. An empty body is an error unless
// rules.Empty (then v is left as it is). When v is a CardHolder, its card
// paths count as rules.Card's do.
func DecodeJSON(body []byte, v any, rules Rules) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		if rules.Empty {
			return nil
		}
		return bodyError(CodeEmpty, "The request body must be a JSON object.")
	}
	found, e := guard(body, true, rules, cardPaths(v))
	if e != nil {
		return e
	}
	if err := unmarshal(body, v, rules); err != nil {
		return decodeError(err, body, reflect.TypeOf(v))
	}
	return found
}

// unmarshal is encoding/json's decoding of body, one value (the guard has
// seen to that), by rules. Only a Decoder has the options; without them,
// Unmarshal decodes the same, to the same errors, without a Decoder's
// allocations and its copy of the body.
func unmarshal(body []byte, v any, rules Rules) error {
	if !rules.Strict && !rules.UseNumber {
		return json.Unmarshal(body, v)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if rules.Strict {
		dec.DisallowUnknownFields()
	}
	if rules.UseNumber {
		dec.UseNumber()
	}
	return dec.Decode(v)
}

// CheckJSON applies the guard to body, any one JSON value (a form field
// holding JSON, say), without decoding it.
func CheckJSON(body []byte, rules Rules) *Error {
	found, e := guard(body, false, rules, nil)
	if e != nil {
		return e
	}
	return found
}

// decodeError explains encoding/json's refusal of a body the guard passed
// (so the JSON is well-formed): a type mismatch or an unknown field, named
// by path; the standard messages are not echoed, since a type error's
// Value quotes a number literal as sent.
func decodeError(err error, body []byte, target reflect.Type) *Error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		got, _, _ := strings.Cut(te.Value, " ") // "number 4242…": the kind only
		if te.Field == "" {
			return bodyError(CodeSyntax, "The request body must be a JSON object.")
		}
		want := jsonType(te.Type)
		return &Error{Status: 400, Code: CodeType, Param: param(te.Field), Want: want, Got: got,
			Detail: "must be of type " + want + ", not " + got}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if p := unknownFieldPath(body, target, name); p != "" {
			name = p
		}
		if logging.HasCardNumber(name) {
			// A key that is a card number is what the guard refuses anyway;
			// say that rather than echo a masked key.
			return bodyError(CodeInvalid, "The request body must not have a key that holds a card number.")
		}
		return &Error{Status: 400, Code: CodeUnknown, Param: param(name), Detail: "is not a parameter of this call"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return bodyError(CodeSyntax, "The request body is truncated JSON.")
	}
	return bodyError(CodeSyntax, "The request body is not a valid JSON object.")
}

// jsonType names a Go type as JSON does.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.Kind().String()
}

// unknownFieldPath finds where an unknown field sits ("card.bogus",
// "cards[2].bogus"): encoding/json names only the field, and a client needs
// the path to find it.
func unknownFieldPath(body []byte, target reflect.Type, name string) string {
	var v any
	if target == nil || json.Unmarshal(body, &v) != nil {
		return ""
	}
	var walk func(v any, t reflect.Type, path string) string
	walk = func(v any, t reflect.Type, path string) string {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch x := v.(type) {
		case map[string]any:
			if t.Kind() != reflect.Struct {
				return ""
			}
			fields := map[string]reflect.Type{}
			for i := range t.NumField() {
				f := t.Field(i)
				tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if tag == "" {
					tag = f.Name
				}
				if tag != "-" {
					fields[fold(tag)] = f.Type
				}
			}
			for k, sub := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				ft, ok := fields[fold(k)]
				if !ok {
					if k == name {
						return p
					}
					continue
				}
				if found := walk(sub, ft, p); found != "" {
					return found
				}
			}
		case []any:
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return ""
			}
			for i, sub := range x {
				if found := walk(sub, t.Elem(), path+"["+strconv.Itoa(i)+"]"); found != "" {
					return found
				}
			}
		}
		return ""
	}
	return walk(v, target, "")
}

// fold is a key as encoding/json compares field names: two keys with the
// same fold are the same field to it (bytes.EqualFold).
func fold(k string) string {
	ascii := true
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf || ('a' <= k[i] && k[i] <= 'z') {
			ascii = false
			break
		}
	}
	if ascii {
		return k
	}
	b := make([]byte, 0, len(k))
	for _, r := range k {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b = append(b, byte(r))
			continue
		}
		b = utf8.AppendRune(b, foldRune(r))
	}
	return string(b)
}

// foldRune is the smallest rune of r's case-folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
