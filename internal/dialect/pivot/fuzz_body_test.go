package pivot_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/wire/wiretest"
)

// FuzzPivotBody sends fuzzed bodies to Pivot's create and confirm through
// the real handler over a real service and database: no body makes a 5xx
// (other than 502, the acquirer's); a refused one (400, 413) answers in
// Pivot's envelope, stores nothing and echoes no run of 12 digits; an
// accepted one holds no card number outside paymentMethod.card.encryptedCard,
// and the session reads back with the fields as sent.
func FuzzPivotBody(f *testing.F) {
	s := wiretest.New(f)
	w := s.Do("POST", "/pivot/v1/access-token", []byte(`{"grantType":"client_credentials"}`),
		"X-MERCHANT-ID", s.Merchant.ID, "X-MERCHANT-SECRET", s.Merchant.SecretKey)
	var at struct{ Data struct{ AccessToken string } }
	if json.Unmarshal(w.Body.Bytes(), &at) != nil || at.Data.AccessToken == "" {
		f.Fatalf("access token: %s", w.Body)
	}
	auth := "Bearer " + at.Data.AccessToken
	w = s.Do("POST", "/pivot/v2/payments", []byte(`{"amount":{"value":100,"currency":"IDR"},"mode":"API"}`), "Authorization", auth)
	var created struct{ Data struct{ ID string } }
	if json.Unmarshal(w.Body.Bytes(), &created) != nil || created.Data.ID == "" {
		f.Fatalf("a session: %s", w.Body)
	}
	paths := []string{"/pivot/v2/payments", "/pivot/v2/payments/" + created.Data.ID + "/confirm"}
	for _, b := range []string{
		`{"amount":{"value":10000,"currency":"IDR"},"mode":"REDIRECT","clientReferenceId":"o-1","statementDescriptor":"Shop",
		  "customer":{"givenName":"Siti","email":"siti@example.id","phoneNumber":{"countryCode":"62","number":"812345678"}},
		  "orderInformation":{"items":[{"name":"Tea","qty":2}]},"metadata":{"k":"v","n":5},"redirectUrl":{"successReturnUrl":"https://shop.example/ok"}}`,
		`{"amount":{"value":"12.50","currency":"USD"},"paymentMethodOptions":{"card":{"captureMethod":"manual","threeDsMethod":"NEVER"}}}`,
		`{"paymentMethod":{"type":"CARD","card":{"token":"tok_x","cvc":"123"}}}`,
		`{"paymentMethod":{"type":"CARD","card":{"encryptedCard":"QUJD"}}}`,
		`{"amount":{"value":1,"currency":"IDR","Currency":"USD"}}`,
		`{"amount":{"value":1,"currency":"000000000000\u0080"}}`,
		`{"amount":{"value":1,"currency":"IDR"},"metadata":{"4242424242424242":"x"}}`,
	} {
		f.Add(uint8(0), []byte(b))
		f.Add(uint8(1), []byte(b))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		before := s.Rows(t)
		w := s.Do("POST", path, body, "Authorization", auth)
		out := w.Body.Bytes()
		var env struct {
			Code    string
			Message string
			Data    json.RawMessage
		}
		if err := json.Unmarshal(out, &env); err != nil || env.Code == "" {
			t.Fatalf("%s: not Pivot's envelope (%d): %s", path, w.Code, out)
		}
		switch {
		case w.Code >= 500 && w.Code != http.StatusBadGateway:
			t.Fatalf("%s: %d for %q: %s", path, w.Code, body, out)
		case w.Code == http.StatusBadRequest || w.Code == http.StatusRequestEntityTooLarge:
			if run := wiretest.LongRun([]byte(env.Message)); run != "" {
				t.Fatalf("the error holds the digit run %s: %s", run, out)
			}
			if !wiretest.Same(before, s.Rows(t)) {
				t.Fatalf("%s refused %q (%s) but stored rows", path, body, out)
			}
		case w.Code == http.StatusOK:
			wiretest.Texts(wiretest.Decode(body), func(p, v string) {
				if strings.EqualFold(p, "paymentMethod.card.encryptedCard") {
					return
				}
				if logging.HasCardNumber(v) || strings.IndexByte(v, 0) >= 0 {
					t.Fatalf("%s accepted %q at %q", path, v, p)
				}
			})
			if which%2 == 0 {
				pivotRoundTrip(t, s, auth, body, env.Data)
			}
		}
	})
}

// pivotRoundTrip reads a created session back: clientReferenceId,
// statementDescriptor and the merchant's string metadata as sent.
func pivotRoundTrip(t *testing.T, s *wiretest.Server, auth string, body []byte, data json.RawMessage) {
	var sent struct {
		ClientReferenceID   string
		StatementDescriptor string
		Metadata            map[string]any
	}
	json.Unmarshal(body, &sent)
	var created struct{ ID string }
	json.Unmarshal(data, &created)
	var got struct {
		Data struct {
			ClientReferenceID   *string
			StatementDescriptor *string
			Metadata            map[string]string
		}
	}
	json.Unmarshal(s.Do("GET", "/pivot/v2/payments/"+created.ID, nil, "Authorization", auth).Body.Bytes(), &got)
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if str(got.Data.ClientReferenceID) != sent.ClientReferenceID || str(got.Data.StatementDescriptor) != sent.StatementDescriptor {
		t.Fatalf("sent %q, read back %+v", body, got.Data)
	}
	for k, v := range sent.Metadata {
		if sv, ok := v.(string); ok && got.Data.Metadata[k] != sv {
			t.Fatalf("metadata %q: sent %q, read back %q", k, sv, got.Data.Metadata[k])
		}
	}
}
