package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/wire/wiretest"
)

// nativeBodies are the calls FuzzNativeBody sends bodies to, with the
// paths where each takes card data.
var nativeBodies = []struct {
	method, path string
	card         []string
}{
	{"POST", "/v1/customers", nil},
	{"POST", "/v1/tokens", []string{"card.number", "encrypted_card"}},
	{"POST", "/v1/tokens/batch", []string{"cards[].number"}},
	{"POST", "/v1/payments", []string{"card.number", "encrypted_card"}},
	{"POST", "/v1/sessions", nil},
	{"POST", "/v1/webhook_endpoints", nil},
	{"PATCH", "/v1/merchant", nil},
	{"POST", "/v1/device_keys", nil},
}

// FuzzNativeBody sends fuzzed bodies to the native API's writing calls,
// through the real handler over a real service and database: no body
// makes a 5xx; a refused one (400, 413) stores nothing and its error
// holds no run of 12 digits; an accepted one holds no card number outside
// the call's card fields, and what it stored reads back as sent.
func FuzzNativeBody(f *testing.F) {
	s := wiretest.New(f)
	auth := "Bearer " + s.Merchant.SecretKey
	for i, b := range []string{
		`{"reference":"c1","name":"Abu","email":"abu@example.my","phone":"+60 12-345 6789","metadata":{"a":"1"}}`,
		`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123","holder_name":"Abu"},"verify":false}`,
		`{"cards":[{"number":"4242424242424242","exp_month":12,"exp_year":2034}],"verify":false}`,
		`{"amount":100,"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034},"order_id":"o1","metadata":{"k":"v"}}`,
		`{"amount":100,"order_id":"o1","description":"d","metadata":{"k":"v"}}`,
		`{"url":"https://hooks.example/x","events":["*"],"description":"d"}`,
		`{"default_currency":"MYR","frame_ancestors":["https://shop.example"]}`,
		`{"name":"till 1"}`,
	} {
		f.Add(uint8(i), []byte(b))
	}
	f.Add(uint8(0), []byte(`{"reference":"c1","Reference":"c2"}`))
	f.Add(uint8(0), []byte(`{"reference":"4242 4242 4242 4242"}`))
	f.Add(uint8(0), []byte("{\"reference\":\"\xff\"}"))
	f.Add(uint8(4), []byte(`{"amount":100,"currency":"000000000000\u0080"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := nativeBodies[int(which)%len(nativeBodies)]
		before := s.Rows(t)
		var merchant []byte
		if ep.method == "PATCH" {
			merchant = s.Do("GET", "/v1/merchant", nil, "Authorization", auth).Body.Bytes()
		}
		w := s.Do(ep.method, ep.path, body, "Authorization", auth)
		out := w.Body.Bytes()
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %s: %d for %q: %s", ep.method, ep.path, w.Code, body, out)
		case w.Code == http.StatusBadRequest || w.Code == http.StatusRequestEntityTooLarge:
			var e struct {
				Error struct{ Type, Message, Param string }
			}
			if json.Unmarshal(out, &e) != nil || e.Error.Type == "" || e.Error.Message == "" {
				t.Fatalf("not the error envelope: %s", out)
			}
			// As the client reads it: JSON's own escapes ("\u0026") are not
			// the client's digits.
			if run := wiretest.LongRun([]byte(e.Error.Message + " " + e.Error.Param)); run != "" {
				t.Fatalf("the error holds the digit run %s: %s", run, out)
			}
			if !wiretest.Same(before, s.Rows(t)) {
				t.Fatalf("%s %s refused %q (%s) but stored rows", ep.method, ep.path, body, out)
			}
			if merchant != nil {
				if now := s.Do("GET", "/v1/merchant", nil, "Authorization", auth).Body.Bytes(); string(now) != string(merchant) {
					t.Fatalf("a refused PATCH changed the merchant: %q", body)
				}
			}
		case w.Code < 300:
			wiretest.Texts(wiretest.Decode(body), func(path, v string) {
				for _, c := range ep.card {
					if strings.EqualFold(path, c) {
						return
					}
				}
				if logging.HasCardNumber(v) || strings.IndexByte(v, 0) >= 0 {
					t.Fatalf("%s %s accepted %q at %q", ep.method, ep.path, v, path)
				}
			})
			roundTrip(t, s, auth, ep.path, body, out)
		}
	})
}

// roundTrip reads back what a customer or session call stored.
func roundTrip(t *testing.T, s *wiretest.Server, auth, path string, body, out []byte) {
	var created struct{ ID string }
	json.Unmarshal(out, &created)
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}") // an optional body
	}
	switch path {
	case "/v1/customers":
		var sent payment.CustomerParams
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		var got payment.CustomerParams
		json.Unmarshal(s.Do("GET", "/v1/customers/"+created.ID, nil, "Authorization", auth).Body.Bytes(), &got)
		if got.Reference != strings.TrimSpace(sent.Reference) || got.Name != sent.Name || got.Email != sent.Email ||
			got.Phone != sent.Phone || !sameMap(got.Metadata, sent.Metadata) {
			t.Fatalf("sent %+v, read back %+v", sent, got)
		}
	case "/v1/sessions":
		var sent payment.SessionParams
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		var got payment.SessionView
		json.Unmarshal(s.Do("GET", "/v1/sessions/"+created.ID, nil, "Authorization", auth).Body.Bytes(), &got)
		if deref(got.OrderID) != sent.OrderID || deref(got.Description) != sent.Description || !sameMap(got.Metadata, sent.Metadata) {
			t.Fatalf("sent %+v, read back %+v", sent, got)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
