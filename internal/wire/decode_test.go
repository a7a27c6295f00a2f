package wire

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// holder declares its own card path, as a dialect's request type does.
type holder struct {
	Pay struct {
		Number string `json:"number"`
	} `json:"pay"`
	Note  string `json:"note"`
	Count int    `json:"count"`
}

func (*holder) CardPaths() []string { return []string{"pay.number"} }

// TestReadJSON: a body read with a limit and decoded in one step; a type's
// own card paths are honoured, and only those.
func TestReadJSON(t *testing.T) {
	send := func(body string, limit int64, v any, rules Rules) *Error {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		return ReadJSON(w, r, limit, v, rules)
	}
	var h holder
	if e := send(`{"pay":{"number":"`+pan+`"},"note":"x"}`, 1024, &h, Rules{}); e != nil || h.Pay.Number != pan {
		t.Fatalf("declared card path refused: %v", e)
	}
	// The same number where the type takes none is refused, naming the
	// field and not echoing the number.
	e := send(`{"note":"`+pan+`"}`, 1024, &holder{}, Rules{})
	if e == nil || e.Code != CodeInvalid || e.Param != "note" || strings.Contains(e.Error(), pan) {
		t.Fatalf("card number outside the card path: %+v", e)
	}
	// A type without CardPaths takes none at all.
	var plain struct {
		Pay struct {
			Number string `json:"number"`
		} `json:"pay"`
	}
	if e := send(`{"pay":{"number":"`+pan+`"}}`, 1024, &plain, Rules{}); e == nil || e.Code != CodeInvalid {
		t.Fatalf("undeclared card path accepted: %+v", e)
	}
	// The rules' own paths still count beside the type's.
	var both struct {
		holder
		Card string `json:"card"`
	}
	if e := send(`{"card":"`+pan+`"}`, 1024, &both, Rules{Card: []string{"card"}}); e != nil {
		t.Fatalf("rules' card path dropped: %v", e)
	}
	if e := send(`{"note":"`+strings.Repeat("x", 100)+`"}`, 20, &holder{}, Rules{}); e == nil || e.Status != 413 || e.Limit != 20 {
		t.Fatalf("limit: %+v", e)
	}
	if e := send(``, 1024, &holder{}, Rules{}); e == nil || e.Code != CodeEmpty {
		t.Fatalf("empty body: %+v", e)
	}
	if e := send(` `, 1024, &holder{}, Rules{Empty: true}); e != nil {
		t.Fatalf("empty optional body: %v", e)
	}
}

// TestMessage is the one field-echo rule: the path as sent, then what is
// wrong; the kind of a wrong value, never the value.
func TestMessage(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"count":"` + pan + `"}`, "count must not be a JSON string"},
		{`{"count":1.5}`, "count must not be a JSON number"},
		{`{"pay":{"number":5}}`, "pay.number must not be a JSON number"},
		{`{"note":"a\u0000"}`, "note must not contain a NUL character"},
		{`{"note":"x","Note":"y"}`, "Note is given more than once"},
		{`{"note":`, "The request body is truncated JSON."},
	} {
		e := DecodeJSON([]byte(tc.body), &holder{}, Rules{})
		if e == nil || !strings.HasPrefix(e.Message(), tc.want) || strings.Contains(e.Message(), pan) {
			t.Errorf("%s: %v, want %q", tc.body, e, tc.want)
		}
	}
}

func TestAbsent(t *testing.T) {
	for raw, want := range map[string]bool{"": true, " null ": true, "0": false, `""`: false, "{}": false, "false": false} {
		if got := Absent(json.RawMessage(raw)); got != want {
			t.Errorf("Absent(%q) = %v", raw, got)
		}
	}
}

func TestCurrency(t *testing.T) {
	if got := NormalCurrency(" myr ", "USD"); got != "MYR" {
		t.Errorf("NormalCurrency = %q", got)
	}
	if got := NormalCurrency("  ", "USD"); got != "USD" {
		t.Errorf("default = %q", got)
	}
	for in, want := range map[string]string{"kwd": "KWD", " Jpy": "JPY", "": "MYR"} {
		if got, e := Currency("amount.currency", in, "MYR"); e != nil || got != want {
			t.Errorf("Currency(%q) = %q, %v", in, got, e)
		}
	}
	for _, in := range []string{"XYZ", "DOLLARS", pan} {
		_, e := Currency("amount.currency", in, "MYR")
		if e == nil || e.Code != CodeInvalid || e.Param != "amount.currency" || strings.Contains(e.Error(), pan) {
			t.Errorf("Currency(%q) = %+v", in, e)
		}
	}
	if _, e := Currency("currency", "", ""); e == nil || e.Message() != "currency is required" {
		t.Errorf("no currency and no default: %v", e)
	}
}
