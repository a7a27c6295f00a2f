package harness

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// Helpers for requests that must be refused: the case table, the error
// matching, and what a merchant holds before and after.

// AnyParam in a BadCase (or a Refused code or param) means API.md does not
// fix that part of the error, so it is not checked.
const AnyParam = "*"

// BadCase is one request that must be refused without storing anything.
type BadCase struct {
	Name   string
	Method string
	Path   string
	Key    string // "" sends no Authorization header
	Body   any    // nil, a raw string or a JSON value
	Hdr    []string

	Status    int
	Typ, Code string // Code may list alternatives: "a|b"
	Param     string // exact error.param; "" means none; AnyParam means unchecked
	Skip      string // why the case does not apply today
}

// TokenIDs lists every token id of a merchant (at most 100; more is a test error).
func (s *Server) TokenIDs(t testing.TB, key string) []string {
	t.Helper()
	r := s.Call("GET", "/v1/tokens?limit=100", key, nil).Want(t, 200)
	if r.Body["has_more"] != false {
		t.Fatalf("more than 100 tokens: %s", Short(r.Raw))
	}
	var ids []string
	for _, d := range r.Body["data"].([]any) {
		ids = append(ids, Dig(d, "id").(string))
	}
	return ids
}

// CustomersByRef maps each reference to the customer id found for it ("" if none).
func (s *Server) CustomersByRef(t testing.TB, key string, refs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ref := range refs {
		r := s.Call("GET", "/v1/customers?reference="+url.QueryEscape(ref), key, nil).Want(t, 200)
		d, _ := r.Body["data"].([]any)
		switch len(d) {
		case 0:
			out[ref] = ""
		case 1:
			out[ref] = Dig(d[0], "id").(string)
		default:
			t.Fatalf("reference %s found %d customers", ref, len(d))
		}
	}
	return out
}

// OneOf reports whether v is one of the |-separated alternatives.
func OneOf(v, alts string) bool {
	for _, a := range strings.Split(alts, "|") {
		if v == a {
			return true
		}
	}
	return false
}

// SameSet reports whether a and b hold the same strings, in any order
// (equal lengths, every element of b in a).
func SameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// BodyString renders a request body (nil, a raw string or a JSON value) as
// the exact bytes Request sends.
func BodyString(t testing.TB, body any) string {
	switch b := body.(type) {
	case nil:
		return ""
	case string:
		return b
	}
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

// Short cuts a response body to 600 bytes for a failure message.
func Short(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Refused asserts an error answer: status, error.type, error.code and
// error.param (AnyParam: unchecked; "a|b": alternatives), with a message.
func Refused(t testing.TB, r Resp, status int, typ, code, param string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d %s/%s: %s", r.Status, status, typ, code, Short(r.Raw))
		return
	}
	gt, gc, gp := r.ErrInfo()
	if (typ != AnyParam && gt != typ) || (code != AnyParam && !OneOf(gc, code)) || (param != AnyParam && !OneOf(gp, param)) {
		t.Errorf("error %s/%s param %q, want %s/%s param %q: %s", gt, gc, gp, typ, code, param, Short(r.Raw))
	}
	if r.Str("error", "message") == "" {
		t.Errorf("error without a message: %s", Short(r.Raw))
	}
}
