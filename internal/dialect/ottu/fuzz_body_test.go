package ottu_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/wire/wiretest"
)

// ottuCalls are where FuzzOttuBody sends bodies; form sends the body as a
// urlencoded form instead of JSON.
var ottuCalls = []struct {
	path string
	form bool
}{
	{"/ottu/b/checkout/v1/pymt-txn/", false},
	{"/ottu/b/checkout/v1/pymt-txn/", true},
	{"/ottu/b/pbl/v2/card/", false},
	{"/ottu/b/pbl/v2/auto-debit/", false},
}

// FuzzOttuBody sends fuzzed JSON and form bodies to Ottu's checkout, cards
// and auto-debit calls through the real handler over a real service and
// database: no body makes a 5xx (other than 502, the acquirer's); a refused
// one (400, 413) answers in DRF's shape, stores nothing and echoes no run
// of 12 digits; an accepted checkout holds no card number anywhere, and
// reads back with its fields as sent.
func FuzzOttuBody(f *testing.F) {
	s := wiretest.New(f)
	auth := "Api-Key " + s.Merchant.SecretKey
	for _, b := range []string{
		`{"type":"e_commerce","amount":"10.000","currency_code":"KWD","pg_codes":["knet"],"order_no":"o-1","customer_id":"c1",
		  "customer_email":"a@example.com","customer_first_name":"Abu","customer_phone":"+965 5000 0000","redirect_url":"https://shop.example/back"}`,
		`{"type":"payment_request","payment_type":"auto_debit","amount":"1.500","currency_code":"KWD","pg_codes":["knet"],"customer_id":"c1",
		  "agreement":{"id":"a1","type":"unscheduled","frequency":"monthly"}}`,
		`{"type":"e_commerce","payment_type":"save_card","amount":"0","currency_code":"KWD","pg_codes":["knet"],"customer_id":"c1"}`,
		`{"customer_id":"c1","pg_codes":["knet"]}`, `{"session_id":"ps_x","token":"tok_x"}`,
		`{"type":"e_commerce","Type":"x"}`, `{"type":"e_commerce","amount":"1","currency_code":"000000000000\u0080"}`,
		`type=e_commerce&amount=10.000&currency_code=KWD&pg_codes=knet&pg_codes=credit&agreement=%7B%22id%22%3A%22a1%22%7D`,
		`type=e_commerce&amount=10.000&currency_code=KWD&pg_codes=knet&customer_phone=4242+4242+4242+4242`,
	} {
		for i := range ottuCalls {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		call := ottuCalls[int(which)%len(ottuCalls)]
		ct := "application/json"
		if call.form {
			ct = "application/x-www-form-urlencoded"
		}
		before := s.Rows(t)
		w := s.Do("POST", call.path, body, "Authorization", auth, "Content-Type", ct)
		out := w.Body.Bytes()
		switch {
		case w.Code >= 500 && w.Code != http.StatusBadGateway:
			t.Fatalf("%s: %d for %q: %s", call.path, w.Code, body, out)
		case w.Code == http.StatusBadRequest || w.Code == http.StatusRequestEntityTooLarge:
			var e map[string]any
			if json.Unmarshal(out, &e) != nil || len(e) == 0 {
				t.Fatalf("not DRF's error shape: %s", out)
			}
			// As the client reads it: JSON's own escapes ("\u0026") are not
			// the client's digits.
			wiretest.Texts(wiretest.Decode(out), func(_, x string) {
				if run := wiretest.LongRun([]byte(x)); run != "" {
					t.Fatalf("the error holds the digit run %s: %s", run, out)
				}
			})
			if !wiretest.Same(before, s.Rows(t)) {
				t.Fatalf("%s refused %q (%s) but stored rows", call.path, body, out)
			}
		case w.Code == http.StatusCreated:
			fields := map[string]any{}
			if call.form {
				// What a form holds is its values, JSON inside them included.
				r, _ := http.NewRequest("POST", "/", strings.NewReader(string(body)))
				r.Header.Set("Content-Type", ct)
				r.ParseForm()
				for k, vs := range r.PostForm {
					for _, v := range vs {
						checkText(t, call.path, k, k)
						checkText(t, call.path, k, v)
					}
					fields[k] = r.PostForm.Get(k)
				}
			} else {
				v := wiretest.Decode(body)
				wiretest.Texts(v, func(p, x string) { checkText(t, call.path, p, x) })
				fields, _ = v.(map[string]any)
			}
			var created map[string]any
			json.Unmarshal(out, &created)
			sid, _ := created["session_id"].(string)
			var got map[string]any
			json.Unmarshal(s.Do("GET", "/ottu/b/checkout/v1/pymt-txn/"+sid, nil, "Authorization", auth).Body.Bytes(), &got)
			for _, k := range []string{"order_no", "customer_email", "customer_first_name", "customer_last_name", "customer_phone"} {
				if sent, ok := fields[k].(string); ok && k != "order_no" && strings.TrimSpace(sent) != got[k] {
					t.Fatalf("%s: sent %q, read back %q", k, sent, got[k])
				} else if ok && k == "order_no" && sent != got[k] {
					t.Fatalf("order_no: sent %q, read back %q", sent, got[k])
				}
			}
		}
	})
}

func checkText(t *testing.T, path, field, v string) {
	t.Helper()
	if logging.HasCardNumber(v) || strings.IndexByte(v, 0) >= 0 {
		t.Fatalf("%s accepted %q in %q", path, v, field)
	}
}
