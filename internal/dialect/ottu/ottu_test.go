package ottu

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignExample: PROVIDERS.md's recomputed example, and that fields
// outside the signed list or empty do not change the signature.
func TestOttuSignExample(t *testing.T) {
	const want = "6143b8ad4bd283540721ab000f6de746e722231aaaa90bc38f639081d3ff9f67"
	p := map[string]any{"amount": "86.000", "currency_code": "KWD", "customer_first_name": "example-customer"}
	if got := Sign("pu9MpX3yPR", p); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	p["session_id"], p["customer_last_name"], p["amount_details"] = "ps_x", "", map[string]any{"amount": "1"}
	if got := Sign("pu9MpX3yPR", p); got != want {
		t.Errorf("unsigned or empty fields changed the signature: %s", got)
	}
	p["customer_address_city"] = "Kuwait City"
	if Sign("pu9MpX3yPR", p) == want {
		t.Error("customer_address_* is not signed")
	}
	p["customer_address_city"] = ""
	p["state"] = "paid"
	if Sign("pu9MpX3yPR", p) == want || Sign("other", p) == Sign("pu9MpX3yPR", p) {
		t.Error("state or the key does not change the signature")
	}
}

func TestOttuParseAmount(t *testing.T) {
	for _, c := range []struct {
		in, cur string
		want    int64
		echo    string
	}{
		{"86.000", "KWD", 86000, "86.000"}, {"12.34", "KWD", 12340, "12.340"}, {"19", "KWD", 19000, "19.000"},
		{"0", "KWD", 0, "0.000"}, {"19", "USD", 1900, "19.00"}, {"1000", "JPY", 1000, "1000"}, {"0.5", "BHD", 500, "0.500"},
	} {
		got, err := ParseAmount(c.in, c.cur)
		if err != nil || got != c.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d", c.in, c.cur, got, err, c.want)
		}
		if e := FormatAmount(got, c.cur); e != c.echo {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", got, c.cur, e, c.echo)
		}
	}
	for _, in := range []string{"1.2345", "-1", "abc", "", "1e3", " 1", "1,000", "12.", ".5", "99999999999999"} {
		if v, err := ParseAmount(in, "KWD"); err == nil {
			t.Errorf("ParseAmount(%q, KWD) = %d, want an error", in, v)
		}
	}
	if _, err := ParseAmount("1.234", "USD"); err == nil || !strings.Contains(err.Error(), "2 decimals") {
		t.Errorf("USD with 3 decimals: %v", err)
	}
}

func TestOttuExpiration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1 00:00:00": 24 * time.Hour, "00:30:00": 30 * time.Minute, "3600": time.Hour, "05:00": 5 * time.Minute,
		"1 day, 00:00:00": 24 * time.Hour, "0 02:15:30.5": 2*time.Hour + 15*time.Minute + 30*time.Second, "2 days, 01:00:00": 49 * time.Hour,
	} {
		got, err := ParseExpiration(in)
		if err != nil || got != want {
			t.Errorf("ParseExpiration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1d", "-1 00:00:00", "00:61:00", "1:2:3:4", "P1D", "abc", "10:00:99"} {
		if d, err := ParseExpiration(in); err == nil {
			t.Errorf("ParseExpiration(%q) = %v, want an error", in, d)
		}
	}
	for d, want := range map[time.Duration]string{24 * time.Hour: "1 00:00:00", 30 * time.Minute: "00:30:00",
		90*time.Second + 400*time.Millisecond: "00:01:30", 25*time.Hour + time.Second: "1 01:00:01"} {
		if got := FormatExpiration(d); got != want {
			t.Errorf("FormatExpiration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestOttuAllowedMethods(t *testing.T) {
	for path, want := range map[string]string{
		"/ottu/b/checkout/v1/pymt-txn/": "POST", "/ottu/b/checkout/v1/pymt-txn/ps_1": "GET, HEAD",
		"/ottu/b/checkout/v1/pymt-txn/ps_1/": "GET, HEAD", "/ottu/b/pbl/v2/card": "GET, HEAD, POST",
		"/ottu/b/pbl/v2/card/tok_1/": "DELETE", "/ottu/b/pbl/v2/auto-debit/": "POST", "/ottu/b/pbl/v2/operation/": "",
		"/ottu/b/pbl/v2/card/a/b": "",
	} {
		if got := allowedMethods(path); got != want {
			t.Errorf("allowedMethods(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestOttuFieldErrorsNest(t *testing.T) {
	fe := fieldErrors{}
	fe.add("agreement.id", "This field is required.")
	fe.add("amount", "a")
	fe.add("amount", "b")
	e := fe.err()
	if e.status != http.StatusBadRequest {
		t.Fatal(e.status)
	}
	if a, _ := e.body["agreement"].(map[string]any); a == nil || len(a["id"].([]string)) != 1 {
		t.Errorf("nested: %v", e.body)
	}
	if l := e.body["amount"].([]string); len(l) != 2 {
		t.Errorf("amount: %v", l)
	}
}

// TestOttuChoiceNeverEchoesDigits: a wrong choice is echoed only when it
// holds no digit — a card number with spaces or a CVV sent in the wrong
// field must not come back in the error.
func TestOttuChoiceNeverEchoesDigits(t *testing.T) {
	for in, echoed := range map[string]bool{"4111 1111 1111 1111": false, "4111-1111": false, "123": false, "e-commerce": true} {
		f := fields{m: map[string]any{"type": in}, errs: fieldErrors{}}
		f.choice("type", true, "", "e_commerce", "payment_request")
		msg := fmt.Sprint(f.errs["type"])
		if strings.Contains(msg, in) != echoed || msg == "" {
			t.Errorf("choice(%q): %s", in, msg)
		}
	}
}
