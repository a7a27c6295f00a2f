package wire

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/card"
)

type cardBody struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month"`
	CVC      string `json:"cvc"`
}

type body struct {
	Card     *cardBody         `json:"card"`
	Cards    []cardBody        `json:"cards"`
	Phone    string            `json:"phone"`
	Verify   *bool             `json:"verify"`
	Metadata map[string]string `json:"metadata"`
	Customer *struct {
		Phone struct {
			Number string `json:"number"`
		} `json:"phoneNumber"`
	} `json:"customer"`
}

var cardRules = Rules{Card: []string{"card.number", "cards[].number"}, Strict: true}

const pan = "4242424242424242"

func TestDecodeJSONRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		code, param string
		detail      string
	}{
		{"duplicate", `{"phone":"1","phone":"2"}`, CodeDuplicate, "phone", "more than once"},
		{"duplicate by case", `{"card":{"number":"` + pan + `","Number":"4000056655665556"}}`, CodeDuplicate, "card.Number", "differ only in case"},
		{"duplicate by Kelvin sign", `{"phone":"1","p\u0048one":"2"}`, CodeDuplicate, "pHone", "differ only in case"},
		{"duplicate metadata key by case", `{"metadata":{"a":"1","A":"2"}}`, CodeDuplicate, "metadata.A", "differ only in case"},
		{"duplicate in an array element", `{"cards":[{"cvc":"1"},{"cvc":"1","CVC":"2"}]}`, CodeDuplicate, "cards[1].CVC", "more than once"},
		{"invalid UTF-8", "{\"phone\":\"a\xffb\"}", CodeInvalid, "phone", "UTF-8"},
		{"lone high surrogate", `{"phone":"\ud800x"}`, CodeInvalid, "phone", "UTF-8"},
		{"lone low surrogate", `{"phone":"\udc00"}`, CodeInvalid, "phone", "UTF-8"},
		{"surrogate encoded in UTF-8", "{\"phone\":\"\xed\xa0\x80\"}", CodeInvalid, "phone", "UTF-8"},
		{"NUL escape", `{"phone":"1\u0000"}`, CodeInvalid, "phone", "NUL"},
		{"raw NUL", "{\"phone\":\"1\x00\"}", CodeInvalid, "phone", "NUL"},
		{"NUL in a key", `{"metadata":{"a\u0000":"x"}}`, CodeInvalid, "metadata", "key that holds a NUL"},
		{"invalid UTF-8 in a key", "{\"metadata\":{\"a\xff\":\"x\"}}", CodeInvalid, "metadata", "key that is not valid UTF-8"},
		{"card number in phone", `{"phone":"4242 4242 4242 4242"}`, CodeInvalid, "phone", "must not contain a card number"},
		{"card number deep", `{"customer":{"phoneNumber":{"number":"` + pan + `"}}}`, CodeInvalid, "customer.phoneNumber.number", "card number"},
		{"card number as a metadata key", `{"metadata":{"` + pan + `":"x"}}`, CodeInvalid, "metadata", "key that holds a card number"},
		{"card number as a top-level key", `{"` + pan + `":1}`, CodeInvalid, "", "key that holds a card number"},
		{"card number as a JSON number", `{"metadata":{"a":` + pan + `}}`, CodeType, "metadata", "must be of type string"},
		{"card number in an undeclared card field", `{"card":{"cvc":"` + pan + `"}}`, CodeInvalid, "card.cvc", "card number"},
		{"card number at an index not declared", `{"cards":[{"cvc":"` + pan + `"}]}`, CodeInvalid, "cards[0].cvc", "card number"},
		{"wrong type, a card number not echoed", `{"card":{"number":"x","exp_month":` + pan + `.5}}`, CodeType, "card.exp_month", "not number"},
		{"unknown field", `{"cards":[{},{"bogus":1}]}`, CodeUnknown, "cards[1].bogus", "not a parameter"},
		{"unknown field with a long digit run", `{"4242424242424241x":1}`, CodeUnknown, "****************x", "not a parameter"},
		{"unknown field that is a card number", `{"` + pan + `x":1}`, CodeInvalid, "", "key that holds a card number"},
		{"not an object", `[]`, CodeSyntax, "", "must be a JSON object"},
		{"trailing data", `{} {}`, CodeSyntax, "", "exactly one JSON object"},
		{"truncated", `{"phone":"1`, CodeSyntax, "", "truncated"},
		{"syntax", `{"phone":1,}`, CodeSyntax, "", "not valid JSON"},
		{"trailing comma in array", `{"cards":[{},]}`, CodeSyntax, "", "not valid JSON"},
		{"bad escape", `{"phone":"\x"}`, CodeSyntax, "", "not valid JSON"},
		{"raw control character", "{\"phone\":\"a\nb\"}", CodeSyntax, "", "not valid JSON"},
		{"leading zero", `{"verify":01}`, CodeSyntax, "", "not valid JSON"},
		{"too deep", `{"metadata":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, CodeSyntax, "", "deeper"},
		{"empty", ` `, CodeEmpty, "", "must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v body
			e := DecodeJSON([]byte(tc.body), &v, cardRules)
			if e == nil {
				t.Fatalf("accepted %q", tc.body)
			}
			if e.Code != tc.code || e.Param != tc.param || !strings.Contains(e.Detail, tc.detail) || e.Status != 400 {
				t.Errorf("got %d %s param %q %q; want %s param %q saying %q", e.Status, e.Code, e.Param, e.Detail, tc.code, tc.param, tc.detail)
			}
			if strings.Contains(e.Error(), "4242424242") {
				t.Errorf("the error echoes the card number: %s", e)
			}
		})
	}
}

func TestDecodeJSONAccepts(t *testing.T) {
	phone12 := card.CompleteLuhn("60193456789") // Luhn-valid, 12 digits
	for _, b := range []string{
		`{"card":{"number":"` + pan + `","exp_month":12,"cvc":"123"}}`,
		`{"CARD":{"Number":"4242 4242 4242 4242"}}`, // declared paths match as encoding/json matches
		`{"cards":[{"number":"` + pan + `"},{"number":"5555555555554444"}]}`,
		`{"phone":"+60 12-345 6789"}`,
		`{"phone":"+` + phone12 + `"}`,
		`{"phone":"` + phone12[:2] + " " + phone12[2:4] + "-" + phone12[4:8] + " " + phone12[8:] + `"}`,
		`{"phone":"order 000000000000"}`, // Luhn-valid but no brand
		`{"metadata":{"a":"1","b":"\ud83d\ude00 \u00e9"}}`,
		`{"metadata":{"a\"b":"\\ \/ \b\f\n\r\t"}}`,
		`{"verify":true,"customer":null}`,
	} {
		var v body
		if e := DecodeJSON([]byte(b), &v, cardRules); e != nil {
			t.Errorf("%s: %v", b, e)
		}
	}
	var v body
	if e := DecodeJSON([]byte(`{"metadata":{"a":"1"}}`), &v, cardRules); e != nil || v.Metadata["a"] != "1" {
		t.Errorf("decoded %+v %v", v, e)
	}
	if e := DecodeJSON(nil, &v, Rules{Empty: true}); e != nil {
		t.Errorf("an empty body with Empty: %v", e)
	}
	// Not strict: an unknown field is ignored, but still guarded.
	if e := DecodeJSON([]byte(`{"other":1}`), &v, Rules{}); e != nil {
		t.Errorf("unknown field, not strict: %v", e)
	}
	if e := DecodeJSON([]byte(`{"other":"`+pan+`"}`), &v, Rules{}); e == nil || e.Param != "other" {
		t.Errorf("a card number in an ignored field: %v", e)
	}
	var raw struct {
		Amount json.RawMessage `json:"amount"`
	}
	if e := DecodeJSON([]byte(`{"amount":`+pan+`}`), &raw, Rules{}); e == nil || e.Param != "amount" || e.Code != CodeInvalid {
		t.Errorf("a card number as a JSON number: %v", e)
	}
	if e := DecodeJSON([]byte(`{"amount":4242424242424241}`), &raw, Rules{}); e != nil {
		t.Errorf("a number that fails Luhn: %v", e)
	}
}

// TestOrder: a malformed body is refused as such before its content is
// looked at; a wrong type before a card number.
func TestOrder(t *testing.T) {
	var v body
	if e := DecodeJSON([]byte(`{"phone":"`+pan+`","phone":"x"}`), &v, cardRules); e == nil || e.Code != CodeDuplicate {
		t.Errorf("duplicate after a card number: %v", e)
	}
	if e := DecodeJSON([]byte(`{"phone":"`+pan+`","verify":"yes"}`), &v, cardRules); e == nil || e.Code != CodeType || e.Param != "verify" {
		t.Errorf("wrong type after a card number: %v", e)
	}
	if e := DecodeJSON([]byte(`{"phone":"`+pan+`","customer":{"phoneNumber":{"number":"`+pan+`"}}}`), &v, cardRules); e == nil || e.Param != "phone" {
		t.Errorf("two card numbers: the first is named: %v", e)
	}
}

func TestCheckJSON(t *testing.T) {
	if e := CheckJSON([]byte(`["a",{"b":1}]`), Rules{}); e != nil {
		t.Errorf("an array: %v", e)
	}
	if e := CheckJSON([]byte(`[{"n":"`+pan+`"}]`), Rules{}); e == nil || e.Param != "[0].n" {
		t.Errorf("a card number in an array: %v", e)
	}
	if e := CheckJSON([]byte(`[{"n":"`+pan+`"}]`), Rules{Card: []string{"[].n"}}); e != nil {
		t.Errorf("declared: %v", e)
	}
	if e := CheckJSON([]byte(`1 2`), Rules{}); e == nil || e.Code != CodeSyntax {
		t.Errorf("two values: %v", e)
	}
}

func TestCheckForm(t *testing.T) {
	for _, tc := range []struct {
		form  string
		rules Rules
		param string // "-" accepted
		code  string
	}{
		{"token=tok_1&name=Abu&phone=%2B60+12-345+6789", Rules{}, "-", ""},
		{"cc_number=4242424242424242", Rules{Card: []string{"cc_number"}}, "-", ""},
		{"CC_NUMBER=4242424242424242", Rules{Card: []string{"cc_number"}}, "", CodeDuplicate}, // see below
		{"name=4242424242424242", Rules{}, "name", CodeInvalid},
		{"phone=4242-4242-4242-4242", Rules{Card: []string{"cc_number"}}, "phone", CodeInvalid},
		{"4242424242424242=x", Rules{}, "", CodeInvalid},
		{"token=a&token=b", Rules{}, "token", CodeDuplicate},
		{"token=a&Token=b", Rules{}, "token", CodeDuplicate},
		{"pg_codes=a&pg_codes=b", Rules{Repeat: []string{"pg_codes"}}, "-", ""},
		{"name=a%00b", Rules{}, "name", CodeInvalid},
		{"name=a%FFb", Rules{}, "name", CodeInvalid},
		{"a%FF=b", Rules{}, "", CodeInvalid},
	} {
		f, err := url.ParseQuery(tc.form)
		if err != nil {
			t.Fatal(err)
		}
		e := CheckForm(f, tc.rules)
		if tc.form == "CC_NUMBER=4242424242424242" {
			// Fields are read by exact names: this one is not the card field.
			if e == nil || e.Code != CodeInvalid || e.Param != "CC_NUMBER" {
				t.Errorf("%s: %v", tc.form, e)
			}
			continue
		}
		switch {
		case tc.param == "-" && e != nil:
			t.Errorf("%s: %v", tc.form, e)
		case tc.param != "-" && (e == nil || e.Param != tc.param || e.Code != tc.code):
			t.Errorf("%s: %v, want %s naming %q", tc.form, e, tc.code, tc.param)
		}
		if e != nil && strings.Contains(e.Error(), "4242424242") {
			t.Errorf("%s: echoes the card number: %v", tc.form, e)
		}
	}
	if e := CheckText("order_id", "x 4242424242424242"); e == nil || e.Param != "order_id" {
		t.Errorf("CheckText: %v", e)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		`currency "000000000000"… is not a supported ISO 4217 currency code`: `currency "************"… is not a supported ISO 4217 currency code`,
		"Unknown route GET /v1/tokens/4242-4242-4242-4241":                   "Unknown route GET /v1/tokens/****-****-****-****",
		"The request body is larger than 1048576 bytes.":                     "The request body is larger than 1048576 bytes.",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("é", 200)
	if p := param(long); len(p) > maxParam+len("…") || !strings.HasSuffix(p, "…") || !strings.HasPrefix(long, strings.TrimSuffix(p, "…")) {
		t.Errorf("param(%d bytes) = %q", len(long), p)
	}
}

func TestReadBodyAndWriteJSON(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 20)))
	w := httptest.NewRecorder()
	if _, e := ReadBody(w, r, 10); e == nil || e.Status != 413 || e.Limit != 10 || e.Code != CodeTooLarge {
		t.Errorf("over the limit: %+v", e)
	}
	if e := BodyError(errors.New("reset")); e.Code != CodeUnreadable || e.Status != 400 {
		t.Errorf("unreadable: %+v", e)
	}
	WriteJSON(w, 201, map[string]int{"a": 1}, `{"x":1}`)
	if w.Code != 201 || w.Body.String() != "{\"a\":1}\n" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("WriteJSON: %d %q %v", w.Code, w.Body, w.Header())
	}
	w = httptest.NewRecorder()
	WriteJSON(w, 200, func() {}, `{"x":1}`)
	if w.Code != http.StatusInternalServerError || w.Body.String() != "{\"x\":1}\n" {
		t.Errorf("WriteJSON fallback: %d %q", w.Code, w.Body)
	}
}

// A field that is only compared (a signature) may hold any digits; the
// other rules still hold there, and a card number elsewhere is refused.
func TestOpaqueFields(t *testing.T) {
	digest := "4242424242424242" + strings.Repeat("ab", 24)
	form := url.Values{"hash": {digest}}
	if e := CheckForm(form, Rules{}); e == nil {
		t.Fatal("a card number in a plain field passed")
	}
	if e := CheckForm(form, Rules{Opaque: []string{"hash"}}); e != nil {
		t.Fatalf("opaque field refused: %v", e)
	}
	if e := CheckForm(url.Values{"hash": {"a\x00"}}, Rules{Opaque: []string{"hash"}}); e == nil {
		t.Fatal("a NUL passed in an opaque field")
	}
	var v map[string]any
	if e := DecodeJSON([]byte(`{"hash":"`+digest+`"}`), &v, Rules{Opaque: []string{"hash"}}); e != nil {
		t.Fatalf("opaque JSON field refused: %v", e)
	}
	if e := DecodeJSON([]byte(`{"hash":"`+digest+`","name":"4242 4242 4242 4242"}`), &v, Rules{Opaque: []string{"hash"}}); e == nil || e.Param != "name" {
		t.Fatalf("card number beside an opaque field: %v", e)
	}
}
