package wire

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/logging"
)

var fuzzSeeds = []string{
	`{"card":{"number":"4242424242424242","exp_month":12,"cvc":"123"},"phone":"+60 12-345 6789"}`,
	`{"cards":[{"number":"4242424242424242"},{"number":"5555555555554444","Number":"x"}]}`,
	`{"metadata":{"a":"1","A":"2"}}`,
	`{"phone":"\ud800"}`, `{"phone":"\ud83d\ude00"}`, `{"p":"\u0000"}`, "{\"p\":\"\xff\"}",
	`{"4242424242424242":1}`, `{"n":4242424242424242}`, `{"n":-0.5e+10}`, `[1,"a",null,true,false]`,
	`{"a":{"b":{"c":[[[{"d":"4000 0566 5566 5556"}]]]}}}`, `{} {}`, `{"a":1,}`, ``, `"x"`, `{"a":"\x"}`,
}

// decodeAny decodes with numbers as text: 1e700 is JSON, if no float64.
func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// walk visits every key and string of a decoded JSON value.
func walk(v any, fn func(s string, key bool)) {
	switch x := v.(type) {
	case string:
		fn(x, false)
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	case map[string]any:
		for k, e := range x {
			fn(k, true)
			walk(e, fn)
		}
	}
}

// noLongRun fails when an error's text holds a run of 12 digits.
func noLongRun(t *testing.T, e *Error) {
	t.Helper()
	if e == nil {
		return
	}
	n := 0
	for _, c := range []byte(e.Error()) {
		if c >= '0' && c <= '9' {
			n++
			if n >= 12 {
				t.Fatalf("the error holds a run of 12 digits: %q", e)
			}
		} else {
			n = 0
		}
	}
	if logging.Redact(e.Error()) != e.Error() || logging.HasCardNumber(e.Param) {
		t.Fatalf("the error holds a card number: %q", e)
	}
}

// FuzzCheckJSON holds the guard to encoding/json: it accepts only JSON the
// standard library accepts, refuses well-formed JSON only for the guard's
// own reasons, and what it accepts decodes to keys and strings that are
// UTF-8, free of NUL and card numbers, with no two keys of one object
// equal but for case. Decoded, re-encoded and checked again, an accepted
// value is accepted again and decodes the same.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := CheckJSON(b, Rules{})
		noLongRun(t, e)
		if e != nil {
			if e.Status != 400 || e.Code == "" || e.Detail == "" {
				t.Fatalf("malformed error %+v", e)
			}
			if e.Code == CodeSyntax && json.Valid(b) && !strings.Contains(e.Detail, "deeper") {
				t.Fatalf("refused as malformed, but encoding/json takes it: %q: %v", b, e)
			}
			return
		}
		if !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("accepted %q, which is not valid UTF-8 JSON", b)
		}
		v, err := decodeAny(b)
		if err != nil {
			t.Fatalf("accepted %q: %v", b, err)
		}
		walk(v, func(s string, key bool) {
			if strings.IndexByte(s, 0) >= 0 || logging.HasCardNumber(s) || (strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(b, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(b), []byte(`\ufffd`))) {
				t.Fatalf("accepted %q, which holds %q", b, s)
			}
		})
		var dups func(v any)
		dups = func(v any) {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					dups(e)
				}
			case map[string]any:
				seen := map[string]bool{}
				for k, e := range x {
					if seen[fold(k)] {
						t.Fatalf("accepted %q with two keys like %q", b, k)
					}
					seen[fold(k)] = true
					dups(e)
				}
			}
		}
		dups(v)
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if e := CheckJSON(again, Rules{}); e != nil {
			t.Fatalf("accepted %q, refused it re-encoded as %q: %v", b, again, e)
		}
		if w, err := decodeAny(again); err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("%q does not round-trip: %v", b, err)
		}
	})
}

// FuzzDecodeJSON: into a typed request with declared card paths, a refused
// body's error names a path and echoes no digit run, a card number is
// accepted only where declared, and an accepted body decodes exactly as
// encoding/json decodes it.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v body
		e := DecodeJSON(b, &v, cardRules)
		noLongRun(t, e)
		if e != nil {
			return
		}
		var w body
		if err := json.Unmarshal(b, &w); err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("%q: decoded %+v, encoding/json %+v %v", b, v, w, err)
		}
		texts := []string{v.Phone}
		for k, m := range v.Metadata {
			texts = append(texts, k, m)
		}
		if v.Card != nil {
			texts = append(texts, v.Card.CVC)
		}
		for _, c := range v.Cards {
			texts = append(texts, c.CVC)
		}
		if v.Customer != nil {
			texts = append(texts, v.Customer.Phone.Number)
		}
		for _, s := range texts {
			if logging.HasCardNumber(s) || strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
				t.Fatalf("accepted %q holding %q outside the card fields", b, s)
			}
		}
	})
}

// FuzzCheckForm: the form guard never panics, and what it accepts holds
// no card number outside the card field, no NUL, no invalid UTF-8, no
// repeated key.
func FuzzCheckForm(f *testing.F) {
	for _, s := range []string{"token=tok_1&name=Abu&phone=%2B60+12-345+6789", "cc_number=4242424242424242&name=x",
		"a=1&a=2&A=3", "4242424242424242=x", "%ff=1", "n=%00", "pg_codes=1&pg_codes=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		e := CheckForm(q, Rules{Card: []string{"cc_number"}, Repeat: []string{"pg_codes"}})
		noLongRun(t, e)
		if e != nil {
			return
		}
		seen := map[string]bool{}
		for k, vs := range q {
			if seen[fold(k)] || (len(vs) > 1 && k != "pg_codes") {
				t.Fatalf("accepted %q: %q repeated", s, k)
			}
			seen[fold(k)] = true
			for i, x := range append([]string{k}, vs...) {
				if !utf8.ValidString(x) || strings.IndexByte(x, 0) >= 0 {
					t.Fatalf("accepted %q holding %q", s, x)
				}
				if logging.HasCardNumber(x) && (i == 0 || k != "cc_number") {
					t.Fatalf("accepted %q holding a card number in %q", s, k)
				}
			}
		}
	})
}
