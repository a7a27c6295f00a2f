package ottu

// Checkouts: the seed's (004) example taken as written, created and read
// with and without the trailing slash (JSON and multipart), amounts exact
// at the currency's precision.

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestOttuCheckout: the seed's request as written, then the fields of
// Ottu's checkout API, read back with and without the trailing slash.
func TestOttuCheckout(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey

		r := harness.OttuCheckout(t, s, sk, seedCheckout)
		sid := r.Str("session_id")
		if !strings.HasPrefix(sid, "ps_") || r.Str("amount") != "19.000" || r.Str("currency_code") != "KWD" ||
			r.Str("type") != "payment_request" || r.Str("customer_id") != "user_example" || r.Str("order_no") != "token_showcase" ||
			r.Str("payment_type") != "one_off" || r.Str("state") != "created" || r.Str("expiration_time") != "1 00:00:00" ||
			r.Str("operation") != "purchase" || r.Str("checkout_url") != s.URL+"/pay/"+sid || r.Str("checkout_short_url") == "" ||
			r.Str("qr_code_url") != s.URL+"/pay/"+sid+"/qr.png" {
			t.Fatalf("the seed's checkout: %s", r.Raw)
		}
		if pg, _ := r.Body["pg_codes"].([]any); len(pg) != 1 || pg[0] != "ottu_pg_kwd_tkn" {
			t.Errorf("pg_codes: %s", r.Raw)
		}
		pm, _ := r.Body["payment_methods"].([]any)
		if len(pm) != 1 || harness.Dig(pm[0], "code") != "ottu_pg_kwd_tkn" || harness.Dig(pm[0], "flow") != "redirect" ||
			harness.Dig(pm[0], "redirect_url") != r.Str("checkout_url") || harness.Dig(pm[0], "fee") != "0.000" || harness.Dig(pm[0], "pg") == nil {
			t.Errorf("payment_methods: %s", r.Raw)
		}
		// The native session: a customer by reference, offered the save
		// option and its saved cards; the Ottu format for its webhooks.
		n := s.Call("GET", "/v1/sessions/"+sid, sk, nil).Want(t, 200)
		if n.Str("save_card") != "optional" || n.Body["show_saved_cards"] != true || n.Str("customer") == "" || harness.Dig(n.Body, "amount") != float64(19000) {
			t.Errorf("native session: %s", n.Raw)
		}
		if c := s.Call("GET", "/v1/customers?reference=user_example", sk, nil); !strings.Contains(string(c.Raw), n.Str("customer")) {
			t.Errorf("customer_id made no customer by reference: %s", c.Raw)
		}
		for _, p := range []string{"/b/checkout/v1/pymt-txn/" + sid, "/b/checkout/v1/pymt-txn/" + sid + "/"} {
			g := harness.OttuCall(t, s, "GET", p, sk, nil).Want(t, 200)
			if g.Str("session_id") != sid || g.Str("amount") != "19.000" || g.Str("state") != "created" || g.Str("customer_id") != "user_example" {
				t.Errorf("GET %s: %s", p, g.Raw)
			}
		}
		if pg := s.Call("GET", "/pay/"+sid, "", nil); pg.Status != 200 {
			t.Errorf("checkout_url: HTTP %d", pg.Status)
		}
		if q := s.Call("GET", "/pay/"+sid+"/qr.png", "", nil); q.Status != 200 || q.Header.Get("Content-Type") != "image/png" {
			t.Errorf("qr_code_url: HTTP %d %s", q.Status, q.Header.Get("Content-Type"))
		}

		// Without the slash, every field, amount echoed at KWD precision.
		full := map[string]any{"type": "e_commerce", "amount": "12.34", "currency_code": "KWD", "pg_codes": []string{"knet", "credit-card"},
			"order_no": "ord-7", "customer_email": "abu@example.com", "customer_first_name": "Abu", "customer_last_name": "Ali",
			"customer_phone": "+96550000000", "webhook_url": "https://shop.example/hooks/ottu", "redirect_url": "https://shop.example/back",
			"expiration_time": "00:30:00", "operation": "authorize"}
		f := harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn", sk, full).Want(t, 201)
		for k, v := range full {
			if want := fmt.Sprint(v); k != "amount" && k != "pg_codes" && f.Str(k) != want {
				t.Errorf("%s echoed %q, want %q", k, f.Str(k), want)
			}
		}
		if f.Str("amount") != "12.340" || f.Str("customer_id") != "" || len(f.Body["payment_methods"].([]any)) != 2 {
			t.Errorf("full checkout: %s", f.Raw)
		}
		n = s.Call("GET", "/v1/sessions/"+f.Str("session_id"), sk, nil).Want(t, 200)
		if n.Str("capture_method") != "manual" || n.Str("save_card") != "off" || n.Str("order_id") != "ord-7" ||
			n.Str("success_url") != "https://shop.example/back?order_no=ord-7" {
			t.Errorf("native session of the full checkout: %s", n.Raw)
		}
		// A JSON number amount is read as its text.
		if j := harness.OttuCheckout(t, s, sk, `{"type":"e_commerce","amount":86.5,"currency_code":"kwd","pg_codes":["x"]}`); j.Str("amount") != "86.500" || j.Str("currency_code") != "KWD" {
			t.Errorf("numeric amount: %s", j.Raw)
		}

		// save_card: amount "0", always saved, needs customer_id.
		sc := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "0", "currency_code": "KWD", "pg_codes": []string{"x"},
			"payment_type": "save_card", "customer_id": "saver"})
		if sc.Str("amount") != "0.000" || sc.Str("payment_type") != "save_card" || sc.Str("state") != "created" {
			t.Errorf("save_card: %s", sc.Raw)
		}
		if n := s.Call("GET", "/v1/sessions/"+sc.Str("session_id"), sk, nil); n.Str("save_card") != "always" {
			t.Errorf("save_card native: %s", n.Raw)
		}

		// Multipart, as when the checkout carries an attachment.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"type": "payment_request", "amount": "7.250", "currency_code": "KWD", "order_no": "mp-1",
			"customer_id": "mp_user", "agreement": `{"id":"a1","type":"unscheduled"}`} {
			mw.WriteField(k, v)
		}
		mw.WriteField("pg_codes", "knet")
		mw.WriteField("pg_codes", "ottu_pg_kwd_tkn")
		fw, _ := mw.CreateFormFile("attachment", "invoice.pdf")
		fw.Write([]byte("%PDF-1.4 not really"))
		mw.Close()
		mp := harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, buf.Bytes(), "Content-Type", mw.FormDataContentType()).Want(t, 201)
		if mp.Str("amount") != "7.250" || mp.Str("order_no") != "mp-1" || len(mp.Body["pg_codes"].([]any)) != 2 || harness.Dig(mp.Body, "agreement", "id") != "a1" {
			t.Errorf("multipart checkout: %s", mp.Raw)
		}
	})
}

// TestOttuAmountsExact: amounts are exact at the currency's precision and
// never overflow into a 500: too many decimals, huge values and JPY with
// decimals are DRF field errors.
func TestOttuAmountsExact(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	for _, c := range []struct{ cur, amount string }{{"KWD", "1.0001"}, {"KWD", "99999999999999999999999999"}, {"JPY", "19.5"},
		{"KWD", "1."}, {"KWD", ".5"}, {"KWD", "+1"}, {"KWD", " 1 2"}} {
		r := harness.OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, map[string]any{"type": "e_commerce", "amount": c.amount,
			"currency_code": c.cur, "pg_codes": []string{"x"}})
		harness.OttuFieldError(t, c.cur+" "+c.amount, r, "amount")
	}
	for _, c := range []struct{ cur, amount, want string }{{"KWD", "12.34", "12.340"}, {"JPY", "19", "19"}, {"USD", "0.1", "0.10"}, {"BHD", "7", "7.000"}} {
		r := harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": c.amount, "currency_code": c.cur, "pg_codes": []string{"x"}})
		if r.Str("amount") != c.want {
			t.Errorf("%s %s echoed %q, want %q", c.cur, c.amount, r.Str("amount"), c.want)
		}
	}
}
