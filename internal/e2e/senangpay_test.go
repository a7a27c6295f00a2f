package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// spSign is senangPay's hash, computed independently of the dialect.
func spSign(secret string, parts ...string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(mac.Sum(nil))
}

// spPost sends fields to a senangPay endpoint in one encoding (form,
// multipart or json) with Basic auth user:pass ("" user: none).
func spPost(t testing.TB, s *server, path, user, pass, enc string, fields map[string]string) resp {
	t.Helper()
	var body bytes.Buffer
	ct := ""
	switch enc {
	case "form":
		v := url.Values{}
		for k, x := range fields {
			v.Set(k, x)
		}
		body.WriteString(v.Encode())
		ct = "application/x-www-form-urlencoded"
	case "multipart":
		mw := multipart.NewWriter(&body)
		for k, x := range fields {
			mw.WriteField(k, x)
		}
		mw.Close()
		ct = mw.FormDataContentType()
	case "json":
		json.NewEncoder(&body).Encode(fields)
		ct = "application/json"
	default:
		t.Fatalf("encoding %q", enc)
	}
	req, err := http.NewRequest("POST", s.URL+"/senangpay/apiv1/"+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return spDo(t, req)
}

func spDo(t testing.TB, req *http.Request) resp {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", req.URL.Path, err, raw)
	}
	return r
}

// spQuery asks query_order_status with Basic auth user:pass ("" user:
// no Authorization header).
func spQuery(t testing.TB, s *server, user, pass, merchantID, orderID, hash string) resp {
	t.Helper()
	q := url.Values{"merchant_id": {merchantID}, "order_id": {orderID}, "hash": {hash}}
	req, err := http.NewRequest("GET", s.URL+"/senangpay/apiv1/query_order_status?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return spDo(t, req)
}

// spNum reads a JSON number field.
func spNum(r resp, k string) float64 { f, _ := r.Body[k].(float64); return f }

// spFail checks senangPay's error shape and status.
func spFail(t testing.TB, r resp, status int) {
	t.Helper()
	if r.Status != status || r.Body["status"] != float64(0) || r.str("msg") == "" {
		t.Errorf("want %d {status:0,msg}: %d %s", status, r.Status, r.Raw)
	}
}

func TestSenangPay(t *testing.T) {
	s := start(t)
	mid, sec, sk := s.Dev.ID, s.Dev.HMACSecret, s.Dev.SecretKey
	if mid == "" || sec == "" {
		t.Fatal("no development merchant")
	}
	good := payToken(t, s, sk, "4242424242424242")

	payFields := func(order, amount, token string) map[string]string {
		f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789",
			"detail": "Order " + order, "order_id": order, "amount": amount, "token": token}
		f["hash"] = spSign(sec, mid, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
		return f
	}
	checkPayHash := func(t *testing.T, r resp) {
		t.Helper()
		st := strconv.FormatFloat(spNum(r, "status"), 'f', -1, 64)
		paid := strconv.FormatFloat(spNum(r, "amount_paid"), 'f', -1, 64)
		want := spSign(sec, mid, st, r.str("order_id"), r.str("transaction_id"), paid, r.str("msg"))
		if r.str("hash") != want {
			t.Errorf("response hash %q, want %q: %s", r.str("hash"), want, r.Raw)
		}
	}

	for _, enc := range []string{"form", "multipart", "json"} {
		t.Run("pay_cc success "+enc, func(t *testing.T) {
			order := "ord-" + enc
			r := spPost(t, s, "pay_cc", mid, sec, enc, payFields(order, "200", good)).want(t, 200)
			if r.Body["status"] != float64(1) || r.str("msg") != "Payment was successful" || r.Body["amount_paid"] != float64(200) ||
				r.str("order_id") != order || !strings.HasPrefix(r.str("transaction_id"), "pay_") {
				t.Fatalf("pay_cc: %s", r.Raw)
			}
			for _, k := range []string{"status", "transaction_id", "order_id", "amount_paid", "msg", "hash"} {
				if _, ok := r.Body[k]; !ok {
					t.Errorf("missing %s: %s", k, r.Raw)
				}
			}
			checkPayHash(t, r)
			// The native API sees the same payment, in MYR, captured.
			p := s.call("GET", "/v1/payments/"+r.str("transaction_id"), sk, nil).want(t, 200)
			if p.str("status") != "succeeded" || p.str("currency") != "MYR" || p.Body["amount_captured"] != float64(200) ||
				p.str("order_id") != order || p.str("metadata", "email") != "abu@example.my" {
				t.Errorf("native payment: %s", p.Raw)
			}
		})
	}

	t.Run("pay_cc wrong hash", func(t *testing.T) {
		f := payFields("ord-badhash", "200", good)
		f["amount"] = "300" // tampered after signing
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "form", f), 401)
		f = payFields("ord-badhash", "200", good)
		f["hash"] = spSign("wrong", mid)
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "form", f), 401)
		// A hash is a hex digest, only compared: a run of its digits that
		// looks like a card number is a wrong hash, not a card in free text.
		f["hash"] = "4242424242424242" + spSign("wrong", mid)[16:]
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "form", f), 401)
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "json", f), 401)
	})

	t.Run("basic auth", func(t *testing.T) {
		f := payFields("ord-auth", "200", good)
		spFail(t, spPost(t, s, "pay_cc", "mer_nosuchmerchant0000", "", "form", f), 401)
		spFail(t, spPost(t, s, "pay_cc", "", "", "form", f), 401)
		spFail(t, spPost(t, s, "pay_cc", mid, "notempty", "form", f), 401)
		spFail(t, spPost(t, s, "validate_token", "mer_nosuchmerchant0000", "", "form", map[string]string{"token": good}), 401)
		spFail(t, spPost(t, s, "update_token_status", "", "", "json", map[string]string{"token": good}), 401)
		// Another merchant's credentials and hash cannot reach this token.
		other := s.newMerchant("Other")
		of := map[string]string{"name": "A", "email": "a@b.my", "phone": "6012", "detail": "x", "order_id": "o1", "amount": "100", "token": good}
		of["hash"] = spSign(other.HMACSecret, other.ID, of["name"], of["email"], of["phone"], of["detail"], of["order_id"], of["amount"])
		spFail(t, spPost(t, s, "pay_cc", other.ID, other.HMACSecret, "form", of), 404)
		// Its hash with this merchant's id is a wrong hash.
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "form", of), 401)
	})

	t.Run("pay_cc decline", func(t *testing.T) {
		decl := payToken(t, s, sk, "4000000000000341") // verifies, later charges decline
		v := spPost(t, s, "validate_token", mid, sec, "form", map[string]string{"token": decl}).want(t, 200)
		if v.Body["status"] != float64(1) {
			t.Errorf("validate 0341: %s", v.Raw)
		}
		r := spPost(t, s, "pay_cc", mid, sec, "form", payFields("ord-decline", "500", decl)).want(t, 200)
		if r.Body["status"] != float64(0) || r.Body["amount_paid"] != float64(0) || r.str("msg") == "" ||
			r.str("msg") == "Payment was successful" || !strings.HasPrefix(r.str("transaction_id"), "pay_") {
			t.Fatalf("decline: %s", r.Raw)
		}
		checkPayHash(t, r)
		p := s.call("GET", "/v1/payments/"+r.str("transaction_id"), sk, nil).want(t, 200)
		if p.str("status") != "failed" {
			t.Errorf("native payment: %s", p.Raw)
		}
		if strings.Contains(string(r.Raw), "4000000000000341") {
			t.Errorf("card number echoed: %s", r.Raw)
		}
	})

	t.Run("pay_cc bad input", func(t *testing.T) {
		f := payFields("ord-bad", "2.00", good)
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "form", f), 400)
		f = payFields("ord-bad", "200", good)
		delete(f, "token")
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "multipart", f), 400)
		f = payFields("ord-bad", "200", good)
		f["detail"] = strings.Repeat("d", 101)
		f["hash"] = spSign(sec, mid, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "json", f), 400)
		// A card number sent as the token is refused by the input guard, not echoed.
		f = payFields("ord-bad", "200", "4242424242424242")
		r := spPost(t, s, "pay_cc", mid, sec, "form", f)
		spFail(t, r, 400)
		if strings.Contains(string(r.Raw), "4242424242424242") {
			t.Errorf("card number echoed: %s", r.Raw)
		}
		// Body limit.
		f = payFields("ord-big", "200", good)
		f["name"] = strings.Repeat("n", 70<<10)
		spFail(t, spPost(t, s, "pay_cc", mid, sec, "form", f), 400)
	})

	t.Run("update_token_status toggles", func(t *testing.T) {
		tok := payToken(t, s, sk, "4242424242424242")
		r := spPost(t, s, "update_token_status", mid, sec, "form", map[string]string{"token": tok}).want(t, 200)
		if r.str("msg") != "Credit card successfully disabled" || r.str("token") != tok {
			t.Fatalf("first toggle: %s", r.Raw)
		}
		if st := s.call("GET", "/v1/tokens/"+tok, sk, nil).want(t, 200).str("status"); st != "disabled" {
			t.Errorf("after disable: %s", st)
		}
		// A disabled token is declined by pay_cc and fails validate_token.
		p := spPost(t, s, "pay_cc", mid, sec, "json", payFields("ord-disabled", "100", tok)).want(t, 200)
		if p.Body["status"] != float64(0) {
			t.Errorf("pay with disabled token: %s", p.Raw)
		}
		checkPayHash(t, p)
		v := spPost(t, s, "validate_token", mid, sec, "json", map[string]string{"token": tok}).want(t, 200)
		if v.Body["status"] != float64(0) || v.str("token") != tok || v.str("msg") == "" {
			t.Errorf("validate disabled: %s", v.Raw)
		}
		r = spPost(t, s, "update_token_status", mid, sec, "multipart", map[string]string{"token": tok}).want(t, 200)
		if r.str("msg") != "Credit card successfully enabled" || r.str("token") != tok {
			t.Fatalf("second toggle: %s", r.Raw)
		}
		if st := s.call("GET", "/v1/tokens/"+tok, sk, nil).want(t, 200).str("status"); st != "active" {
			t.Errorf("after enable: %s", st)
		}
		spFail(t, spPost(t, s, "update_token_status", mid, sec, "json", map[string]string{"token": "tok_nosuchtoken000000"}), 404)
		spFail(t, spPost(t, s, "update_token_status", mid, sec, "json", map[string]string{}), 400)
	})

	t.Run("validate_token", func(t *testing.T) {
		for _, enc := range []string{"form", "multipart", "json"} {
			r := spPost(t, s, "validate_token", mid, sec, enc, map[string]string{"token": good}).want(t, 200)
			if r.Body["status"] != float64(1) || r.str("msg") != "Card has been successfully verified." || r.str("token") != good {
				t.Errorf("%s: %s", enc, r.Raw)
			}
		}
		r := spPost(t, s, "validate_token", mid, sec, "form", map[string]string{"token": "5555555555554444"})
		spFail(t, r, 400) // the input guard refuses a card number in any field
		if strings.Contains(string(r.Raw), "5555555555554444") {
			t.Errorf("card number echoed: %s", r.Raw)
		}
	})

	t.Run("query_order_status", func(t *testing.T) {
		spPost(t, s, "pay_cc", mid, sec, "form", payFields("ord-q", "700", good)).want(t, 200)
		r := spQuery(t, s, mid, sec, mid, "ord-q", spSign(sec, mid, sec, "ord-q")).want(t, 200)
		data, _ := r.Body["data"].([]any)
		if r.Body["status"] != float64(1) || len(data) != 1 {
			t.Fatalf("query: %s", r.Raw)
		}
		d0 := data[0].(map[string]any)
		if d0["order_id"] != "ord-q" || d0["amount_paid"] != float64(700) || dig(d0, "payment_info", "status") != "paid" ||
			!strings.HasPrefix(d0["transaction_id"].(string), "pay_") {
			t.Errorf("entry: %v", d0)
		}
		// A declined order reads failed.
		r = spQuery(t, s, mid, sec, mid, "ord-decline", spSign(sec, mid, sec, "ord-decline")).want(t, 200)
		data, _ = r.Body["data"].([]any)
		if len(data) != 1 || dig(data[0], "payment_info", "status") != "failed" || dig(data[0], "amount_paid") != float64(0) {
			t.Errorf("declined order: %s", r.Raw)
		}
		// Unknown order: accepted, empty data.
		r = spQuery(t, s, mid, sec, mid, "ord-none", spSign(sec, mid, sec, "ord-none")).want(t, 200)
		if data, ok := r.Body["data"].([]any); r.Body["status"] != float64(1) || !ok || len(data) != 0 {
			t.Errorf("unknown order: %s", r.Raw)
		}
		spFail(t, spQuery(t, s, mid, sec, mid, "ord-q", spSign(sec, mid, "ord-q")), 401)
		spFail(t, spQuery(t, s, mid, sec, mid, "ord-q", spSign(sec, mid, sec, "ord-other")), 401)
		spFail(t, spQuery(t, s, "mer_nosuchmerchant0000", sec, "mer_nosuchmerchant0000", "ord-q", spSign(sec, mid, sec, "ord-q")), 401)
		spFail(t, spQuery(t, s, mid, sec, mid, "", "x"), 400)
	})

	if strings.Contains(s.Logs.String(), "4242424242424242") || strings.Contains(s.Logs.String(), sec) {
		t.Error("card number or secret in logs")
	}
}
