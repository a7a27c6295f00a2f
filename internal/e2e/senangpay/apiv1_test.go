package senangpay

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

func TestSenangPay(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	mid, sec, sk := s.Dev.ID, s.Dev.HMACSecret, s.Dev.SecretKey
	if mid == "" || sec == "" {
		t.Fatal("no development merchant")
	}
	good := s.NewToken(t, sk, "4242424242424242")

	payFields := func(order, amount, token string) map[string]string {
		f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789",
			"detail": "Order " + order, "order_id": order, "amount": amount, "token": token}
		f["hash"] = harness.SenangPaySign(sec, mid, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
		return f
	}
	checkPayHash := func(t *testing.T, r harness.Resp) {
		t.Helper()
		st := strconv.FormatFloat(harness.Float(r.Body, "status"), 'f', -1, 64)
		paid := strconv.FormatFloat(harness.Float(r.Body, "amount_paid"), 'f', -1, 64)
		want := harness.SenangPaySign(sec, mid, st, r.Str("order_id"), r.Str("transaction_id"), paid, r.Str("msg"))
		if r.Str("hash") != want {
			t.Errorf("response hash %q, want %q: %s", r.Str("hash"), want, r.Raw)
		}
	}

	for _, enc := range []string{"form", "multipart", "json"} {
		t.Run("pay_cc success "+enc, func(t *testing.T) {
			order := "ord-" + enc
			r := harness.SenangPayPost(t, s, "pay_cc", mid, sec, enc, payFields(order, "200", good)).Want(t, 200)
			if r.Body["status"] != float64(1) || r.Str("msg") != "Payment was successful" || r.Body["amount_paid"] != float64(200) ||
				r.Str("order_id") != order || !strings.HasPrefix(r.Str("transaction_id"), "pay_") {
				t.Fatalf("pay_cc: %s", r.Raw)
			}
			for _, k := range []string{"status", "transaction_id", "order_id", "amount_paid", "msg", "hash"} {
				if _, ok := r.Body[k]; !ok {
					t.Errorf("missing %s: %s", k, r.Raw)
				}
			}
			checkPayHash(t, r)
			// The native API sees the same payment, in MYR, captured.
			p := s.Call("GET", "/v1/payments/"+r.Str("transaction_id"), sk, nil).Want(t, 200)
			if p.Str("status") != "succeeded" || p.Str("currency") != "MYR" || p.Body["amount_captured"] != float64(200) ||
				p.Str("order_id") != order || p.Str("metadata", "email") != "abu@example.my" {
				t.Errorf("native payment: %s", p.Raw)
			}
		})
	}

	t.Run("pay_cc wrong hash", func(t *testing.T) {
		f := payFields("ord-badhash", "200", good)
		f["amount"] = "300" // tampered after signing
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f), 401)
		f = payFields("ord-badhash", "200", good)
		f["hash"] = harness.SenangPaySign("wrong", mid)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f), 401)
		// A hash is a hex digest, only compared: a run of its digits that
		// looks like a card number is a wrong hash, not a card in free text.
		f["hash"] = "4242424242424242" + harness.SenangPaySign("wrong", mid)[16:]
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f), 401)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "json", f), 401)
	})

	t.Run("basic auth", func(t *testing.T) {
		f := payFields("ord-auth", "200", good)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", "mer_nosuchmerchant0000", "", "form", f), 401)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", "", "", "form", f), 401)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, "notempty", "form", f), 401)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "validate_token", "mer_nosuchmerchant0000", "", "form", map[string]string{"token": good}), 401)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "update_token_status", "", "", "json", map[string]string{"token": good}), 401)
		// Another merchant's credentials and hash cannot reach this token.
		other := s.NewMerchant("Other")
		of := map[string]string{"name": "A", "email": "a@b.my", "phone": "6012", "detail": "x", "order_id": "o1", "amount": "100", "token": good}
		of["hash"] = harness.SenangPaySign(other.HMACSecret, other.ID, of["name"], of["email"], of["phone"], of["detail"], of["order_id"], of["amount"])
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", other.ID, other.HMACSecret, "form", of), 404)
		// Its hash with this merchant's id is a wrong hash.
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", of), 401)
	})

	t.Run("pay_cc decline", func(t *testing.T) {
		decl := s.NewToken(t, sk, "4000000000000341") // verifies, later charges decline
		v := harness.SenangPayPost(t, s, "validate_token", mid, sec, "form", map[string]string{"token": decl}).Want(t, 200)
		if v.Body["status"] != float64(1) {
			t.Errorf("validate 0341: %s", v.Raw)
		}
		r := harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", payFields("ord-decline", "500", decl)).Want(t, 200)
		if r.Body["status"] != float64(0) || r.Body["amount_paid"] != float64(0) || r.Str("msg") == "" ||
			r.Str("msg") == "Payment was successful" || !strings.HasPrefix(r.Str("transaction_id"), "pay_") {
			t.Fatalf("decline: %s", r.Raw)
		}
		checkPayHash(t, r)
		p := s.Call("GET", "/v1/payments/"+r.Str("transaction_id"), sk, nil).Want(t, 200)
		if p.Str("status") != "failed" {
			t.Errorf("native payment: %s", p.Raw)
		}
		if strings.Contains(string(r.Raw), "4000000000000341") {
			t.Errorf("card number echoed: %s", r.Raw)
		}
	})

	t.Run("pay_cc bad input", func(t *testing.T) {
		f := payFields("ord-bad", "2.00", good)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f), 400)
		f = payFields("ord-bad", "200", good)
		delete(f, "token")
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "multipart", f), 400)
		f = payFields("ord-bad", "200", good)
		f["detail"] = strings.Repeat("d", 101)
		f["hash"] = harness.SenangPaySign(sec, mid, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "json", f), 400)
		// A card number sent as the token is refused by the input guard, not echoed.
		f = payFields("ord-bad", "200", "4242424242424242")
		r := harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f)
		harness.SenangPayFail(t, r, 400)
		if strings.Contains(string(r.Raw), "4242424242424242") {
			t.Errorf("card number echoed: %s", r.Raw)
		}
		// Body limit.
		f = payFields("ord-big", "200", good)
		f["name"] = strings.Repeat("n", 70<<10)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", f), 400)
	})

	t.Run("update_token_status toggles", func(t *testing.T) {
		tok := s.NewToken(t, sk, "4242424242424242")
		r := harness.SenangPayPost(t, s, "update_token_status", mid, sec, "form", map[string]string{"token": tok}).Want(t, 200)
		if r.Str("msg") != "Credit card successfully disabled" || r.Str("token") != tok {
			t.Fatalf("first toggle: %s", r.Raw)
		}
		if st := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200).Str("status"); st != "disabled" {
			t.Errorf("after disable: %s", st)
		}
		// A disabled token is declined by pay_cc and fails validate_token.
		p := harness.SenangPayPost(t, s, "pay_cc", mid, sec, "json", payFields("ord-disabled", "100", tok)).Want(t, 200)
		if p.Body["status"] != float64(0) {
			t.Errorf("pay with disabled token: %s", p.Raw)
		}
		checkPayHash(t, p)
		v := harness.SenangPayPost(t, s, "validate_token", mid, sec, "json", map[string]string{"token": tok}).Want(t, 200)
		if v.Body["status"] != float64(0) || v.Str("token") != tok || v.Str("msg") == "" {
			t.Errorf("validate disabled: %s", v.Raw)
		}
		r = harness.SenangPayPost(t, s, "update_token_status", mid, sec, "multipart", map[string]string{"token": tok}).Want(t, 200)
		if r.Str("msg") != "Credit card successfully enabled" || r.Str("token") != tok {
			t.Fatalf("second toggle: %s", r.Raw)
		}
		if st := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200).Str("status"); st != "active" {
			t.Errorf("after enable: %s", st)
		}
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "update_token_status", mid, sec, "json", map[string]string{"token": "tok_nosuchtoken000000"}), 404)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "update_token_status", mid, sec, "json", map[string]string{}), 400)
	})

	t.Run("validate_token", func(t *testing.T) {
		for _, enc := range []string{"form", "multipart", "json"} {
			r := harness.SenangPayPost(t, s, "validate_token", mid, sec, enc, map[string]string{"token": good}).Want(t, 200)
			if r.Body["status"] != float64(1) || r.Str("msg") != "Card has been successfully verified." || r.Str("token") != good {
				t.Errorf("%s: %s", enc, r.Raw)
			}
		}
		r := harness.SenangPayPost(t, s, "validate_token", mid, sec, "form", map[string]string{"token": "5555555555554444"})
		harness.SenangPayFail(t, r, 400) // the input guard refuses a card number in any field
		if strings.Contains(string(r.Raw), "5555555555554444") {
			t.Errorf("card number echoed: %s", r.Raw)
		}
	})

	t.Run("query_order_status", func(t *testing.T) {
		harness.SenangPayPost(t, s, "pay_cc", mid, sec, "form", payFields("ord-q", "700", good)).Want(t, 200)
		r := harness.SenangPayQuery(t, s, mid, sec, mid, "ord-q", harness.SenangPaySign(sec, mid, sec, "ord-q")).Want(t, 200)
		data, _ := r.Body["data"].([]any)
		if r.Body["status"] != float64(1) || len(data) != 1 {
			t.Fatalf("query: %s", r.Raw)
		}
		d0 := data[0].(map[string]any)
		if d0["order_id"] != "ord-q" || d0["amount_paid"] != float64(700) || harness.Dig(d0, "payment_info", "status") != "paid" ||
			!strings.HasPrefix(d0["transaction_id"].(string), "pay_") {
			t.Errorf("entry: %v", d0)
		}
		// A declined order reads failed.
		r = harness.SenangPayQuery(t, s, mid, sec, mid, "ord-decline", harness.SenangPaySign(sec, mid, sec, "ord-decline")).Want(t, 200)
		data, _ = r.Body["data"].([]any)
		if len(data) != 1 || harness.Dig(data[0], "payment_info", "status") != "failed" || harness.Dig(data[0], "amount_paid") != float64(0) {
			t.Errorf("declined order: %s", r.Raw)
		}
		// Unknown order: accepted, empty data.
		r = harness.SenangPayQuery(t, s, mid, sec, mid, "ord-none", harness.SenangPaySign(sec, mid, sec, "ord-none")).Want(t, 200)
		if data, ok := r.Body["data"].([]any); r.Body["status"] != float64(1) || !ok || len(data) != 0 {
			t.Errorf("unknown order: %s", r.Raw)
		}
		harness.SenangPayFail(t, harness.SenangPayQuery(t, s, mid, sec, mid, "ord-q", harness.SenangPaySign(sec, mid, "ord-q")), 401)
		harness.SenangPayFail(t, harness.SenangPayQuery(t, s, mid, sec, mid, "ord-q", harness.SenangPaySign(sec, mid, sec, "ord-other")), 401)
		harness.SenangPayFail(t, harness.SenangPayQuery(t, s, "mer_nosuchmerchant0000", sec, "mer_nosuchmerchant0000", "ord-q", harness.SenangPaySign(sec, mid, sec, "ord-q")), 401)
		harness.SenangPayFail(t, harness.SenangPayQuery(t, s, mid, sec, mid, "", "x"), 400)
	})

	if strings.Contains(s.Logs.String(), "4242424242424242") || strings.Contains(s.Logs.String(), sec) {
		t.Error("card number or secret in logs")
	}
}

// postRaw sends body with Content-Type ct to a senangPay path (Basic auth
// with the merchant's id and hmac_secret when c is set); redirects are not
// followed.
func postRaw(t testing.TB, s *harness.Server, path string, c *harness.Creds, ct, body string) harness.Page {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	if c != nil {
		req.SetBasicAuth(c.ID, c.HMACSecret)
	}
	res, err := harness.NoRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return harness.ReadPage(t, res)
}

// TestSenangPayJSONDuplicateFieldsRefused: a field given twice is refused in
// a form, a multipart body and a query string ("is given more than once"),
// but a JSON body with the same key twice is taken silently, its last value
// winning. Whatever reads the body before Coffer (a WAF, a log, a proxy
// that checks the hash) may read the first: the same request means two
// things. JSON must refuse a duplicate key like the other encodings.
func TestSenangPayJSONDuplicateFieldsRefused(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	good := s.NewToken(t, s.Dev.SecretKey, "4242424242424242")

	// validate_token: the first token is unknown, the last is real.
	p := postRaw(t, s, "/senangpay/apiv1/validate_token", &s.Dev, "application/json",
		`{"token":"tok_nosuchtoken000000","token":"`+good+`"}`)
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "more than once") {
		t.Errorf("validate_token with token twice in JSON: %d %s; want 400 naming the duplicate, as a form gets", p.Status, p.Body)
	}
	// The same duplicate in a form is refused today: the yardstick.
	f := url.Values{"token": {"tok_nosuchtoken000000", good}}
	if p := postRaw(t, s, "/senangpay/apiv1/validate_token", &s.Dev, "application/x-www-form-urlencoded", f.Encode()); p.Status != http.StatusBadRequest {
		t.Errorf("validate_token with token twice in a form: %d %s", p.Status, p.Body)
	}

	// The get-token request: order_id twice, the hash signing the last.
	sh := harness.NewSenangPayShop(t, s, 0)
	hash := harness.SenangPaySign(sh.HMACSecret, sh.ID, "ord-dup")
	body := `{"order_id":"ord-first","order_id":"ord-dup","name":"Abu Bin Ali","email":"abu@example.my","phone":"+60123456789","hash":"` + hash + `"}`
	p = postRaw(t, s, "/senangpay/tokenization/"+sh.ID, nil, "application/json", body)
	if p.Status != http.StatusBadRequest || p.Location != "" {
		t.Errorf("get-token with order_id twice in JSON: %d Location %q; want the 400 page a form gets", p.Status, p.Location)
	}
}

// TestSenangPayFieldsFromBodyOnly: the apiv1 POSTs read their fields from
// the body alone: a hash (or any field) put in the query string is not
// taken, in any encoding.
func TestSenangPayFieldsFromBodyOnly(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := s.NewToken(t, s.Dev.SecretKey, "4242424242424242")
	f := map[string]string{"name": "Abu", "email": "abu@example.my", "phone": "60123456789", "detail": "x", "order_id": "q-1", "amount": "100", "token": tok}
	hash := harness.SenangPaySign(s.Dev.HMACSecret, s.Dev.ID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	v := url.Values{}
	for k, x := range f {
		v.Set(k, x)
	}
	p := postRaw(t, s, "/senangpay/apiv1/pay_cc?hash="+hash, &s.Dev, "application/x-www-form-urlencoded", v.Encode())
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "hash") {
		t.Errorf("pay_cc with the hash in the query: %d %s", p.Status, p.Body)
	}
	p = postRaw(t, s, "/senangpay/apiv1/pay_cc?hash="+hash, &s.Dev, "application/json", `{"name":"Abu","email":"abu@example.my","phone":"60123456789","detail":"x","order_id":"q-1","amount":"100","token":"`+tok+`"}`)
	if p.Status != http.StatusBadRequest {
		t.Errorf("pay_cc JSON with the hash in the query: %d %s", p.Status, p.Body)
	}
}
