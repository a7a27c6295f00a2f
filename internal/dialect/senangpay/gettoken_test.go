package senangpay

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/logging"
)

func goodTokenFields() map[string]string {
	return map[string]string{"order_id": "56", "name": "Abu Bin Ali", "email": "abu@example.my", "phone": "+60123456789",
		"hash": "151bf4a479ed166d6b211528d0a0b452625c8fe83656489c82286fcb975889b5"}
}

func TestParseTokenRequest(t *testing.T) {
	req, fe := parseTokenRequest(goodTokenFields())
	if fe != nil || req.OrderID != "56" || req.Name != "Abu Bin Ali" || req.Phone != "+60123456789" {
		t.Fatalf("good request: %+v %v", req, fe)
	}
	// order_id is kept exactly, since the hash covers it as sent.
	f := goodTokenFields()
	f["order_id"], f["name"] = " ord 56 ", "  Abu  "
	if req, fe := parseTokenRequest(f); fe != nil || req.OrderID != " ord 56 " || req.Name != "Abu" {
		t.Fatalf("spaces: %+v %v", req, fe)
	}
	cases := []struct{ field, value, wantField string }{
		{"order_id", "", "order_id"},
		{"name", "   ", "name"},
		{"email", "", "email"},
		{"phone", "", "phone"},
		{"hash", "", "hash"},
		{"name", strings.Repeat("a", 101), "name"},
		{"name", strings.Repeat("é", 100), ""}, // 100 characters, 200 bytes: fits
		{"order_id", strings.Repeat("1", 256), "order_id"},
		{"order_id", "56\n", "order_id"},
		{"name", "Abu \xff", "name"},
		{"name", "Abu 4242 4242 4242 4242", "name"},
		{"order_id", "4242424242424242", "order_id"},
		{"email", "not-an-email", "email"},
		{"email", "Abu <abu@example.my>", "email"},
		{"phone", "call me", "phone"},
		{"phone", "12345", "phone"},
		{"phone", "+60 (12) 345-6789", ""},
		{"phone", "4242424242424242", "phone"},
		{"hash", strings.Repeat("a", 129), "hash"},
	}
	for _, c := range cases {
		f := goodTokenFields()
		f[c.field] = c.value
		_, fe := parseTokenRequest(f)
		switch {
		case c.wantField == "" && fe != nil:
			t.Errorf("%s=%q refused: %v", c.field, c.value, fe)
		case c.wantField != "" && (fe == nil || fe.Field != c.wantField):
			t.Errorf("%s=%q: error %v, want one naming %s", c.field, c.value, fe, c.wantField)
		case fe != nil && strings.Contains(fe.Error(), "4242"):
			t.Errorf("the error quotes the value: %v", fe)
		}
	}
}

func TestDelivered(t *testing.T) {
	c := callbacks{}
	for _, tc := range []struct {
		status    int
		body      string
		delivered bool
	}{
		{200, "OK", true},
		{200, " OK\r\n", true},
		{204, "OK", true},
		{200, "ok", false},
		{200, "received", false},
		{200, "", false},
		{200, "<html>OK</html>", false},
		{200, "OK OK", false},
		{500, "OK", false},
		{302, "OK", false},
	} {
		why := c.Delivered(tc.status, []byte(tc.body))
		if (why == "") != tc.delivered {
			t.Errorf("Delivered(%d, %q) = %q, want delivered=%v", tc.status, tc.body, why, tc.delivered)
		}
		if why != "" && tc.body != "" && strings.Contains(why, tc.body) && tc.body != "OK" {
			t.Errorf("the reason quotes the body: %q", why)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	for in, want := range map[string][2]int{"0429": {4, 2029}, "12/31": {12, 2031}, " 0130 ": {1, 2030}} {
		m, y, ok := parseExpiry(in)
		if !ok || m != want[0] || y != want[1] {
			t.Errorf("parseExpiry(%q) = %d %d %v", in, m, y, ok)
		}
	}
	for _, in := range []string{"", "1329", "0029", "429", "04290", "ab29", "04-29", "0/429"} {
		if _, _, ok := parseExpiry(in); ok {
			t.Errorf("parseExpiry(%q) accepted", in)
		}
	}
}

// TestErrorPage: the page escapes what it shows, and its headers forbid
// caching, framing and loading anything.
func TestErrorPage(t *testing.T) {
	rec := httptest.NewRecorder()
	errorPage(rec, 400, pageBadRequest, `The field "<script>alert(1)</script>" is required.`, "<b>x</b>")
	if rec.Code != 400 || strings.Contains(rec.Body.String(), "<script>") || strings.Contains(rec.Body.String(), "<b>") {
		t.Fatalf("page not escaped: %d %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	if !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", h)
	}
}

// FuzzForm: the body reader never panics, never returns more than was sent
// (every key and value comes out of the body, decoded), never reads the
// query string, and its errors never repeat a long digit run of the input.
func FuzzForm(f *testing.F) {
	mp := func(fields ...string) []byte {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.SetBoundary("fuzzboundary")
		for i := 0; i+1 < len(fields); i += 2 {
			mw.WriteField(fields[i], fields[i+1])
		}
		mw.Close()
		return b.Bytes()
	}
	const formCT, jsonCT, mpCT = "application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=fuzzboundary"
	f.Add(formCT, []byte("token=tok_1&name=Abu+Bin+Ali&cc_number=4242424242424242"))
	f.Add(formCT, []byte("a=1&a=2"))
	f.Add(formCT, []byte("%zz=1"))
	f.Add(jsonCT, []byte(`{"token":"tok_1","amount":200,"cc_number":4242424242424242}`))
	f.Add(jsonCT, []byte(`{"4242424242424242":{"x":1}}`))
	f.Add(jsonCT, []byte(`{"a":"\ud800"} {}`))
	f.Add(mpCT, mp("token", "tok_1", "cc_cvv", "123"))
	f.Add(mpCT, mp("a", "1", "a", "2"))
	f.Add("text/plain", []byte("4242424242424242"))
	f.Add("", []byte("token=x"))
	f.Add("multipart/form-data", []byte("--x\r\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest("POST", "/senangpay/apiv1/pay_cc?fromquery=4242424242424242", bytes.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		got, err := form(httptest.NewRecorder(), r)
		if err != nil {
			if got != nil {
				t.Fatalf("values with an error: %v", got)
			}
			for _, run := range digitRuns(err.Error(), 12) {
				if bytes.Contains(body, []byte(run)) || strings.Contains(ct, run) {
					t.Fatalf("error %q repeats the input's digits %s", err, run)
				}
			}
			return
		}
		total := 0
		for k, v := range got {
			total += len(k) + len(v)
			if k == "fromquery" {
				t.Fatal("a query parameter was read as a body field")
			}
		}
		if total > len(body) {
			t.Fatalf("%d bytes of keys and values out of a %d-byte body: %q", total, len(body), got)
		}
		// What an urlencoded body gives is exactly what an independent
		// decoder reads from it.
		if mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(ct)), ";"); mt == formCT || ct == "" {
			q, qerr := url.ParseQuery(string(body))
			if qerr == nil {
				for k, v := range got {
					if len(q[k]) != 1 || q[k][0] != v {
						t.Fatalf("%q = %q, the body says %q", k, v, q[k])
					}
				}
			}
		}
		if strings.HasPrefix(ct, jsonCT) && len(got) > 0 {
			var raw map[string]any
			if json.Unmarshal(body, &raw) == nil {
				for k := range got {
					if _, ok := raw[k]; !ok {
						t.Fatalf("key %q is not in the JSON body", k)
					}
				}
			}
		}
	})
}

// FuzzTokenRequest: the get-token validation never panics; what it accepts
// is within senangPay's and the core's limits, printable and free of card
// numbers; its errors name a field and never quote the value.
func FuzzTokenRequest(f *testing.F) {
	g := goodTokenFields()
	f.Add(g["order_id"], g["name"], g["email"], g["phone"], g["hash"])
	f.Add("4242424242424242", "Abu", "abu@example.my", "0109876543", "x")
	f.Add("56", "Abu 4000 0025 0000 3155", "abu@example.my", "0109876543", "x")
	f.Add("56", strings.Repeat("é", 101), "a@b.c", "+60 12-345 6789", "x")
	f.Add(" ", "\x00", "@", "++", "")
	f.Fuzz(func(t *testing.T, order, name, email, phone, hash string) {
		in := map[string]string{"order_id": order, "name": name, "email": email, "phone": phone, "hash": hash}
		req, fe := parseTokenRequest(in)
		if fe != nil {
			known := false
			for _, n := range tokenFields {
				known = known || fe.Field == n
			}
			if !known {
				t.Fatalf("error names %q, not a field", fe.Field)
			}
			all := order + "\x00" + name + "\x00" + email + "\x00" + phone + "\x00" + hash
			for _, run := range digitRuns(fe.Error(), 12) {
				if strings.Contains(all, run) {
					t.Fatalf("error %q repeats the input's digits", fe)
				}
			}
			return
		}
		if req.OrderID != order {
			t.Fatalf("order_id changed: %q → %q", order, req.OrderID)
		}
		for _, c := range []struct {
			v   string
			max int
		}{{req.OrderID, maxOrderID}, {req.Name, maxName}, {req.Email, maxEmail}, {req.Phone, maxPhone}} {
			if strings.TrimSpace(c.v) == "" || !utf8.ValidString(c.v) || utf8.RuneCountInString(c.v) > c.max || logging.HasCardNumber(c.v) ||
				strings.IndexFunc(c.v, unicode.IsControl) >= 0 {
				t.Fatalf("accepted %q", c.v)
			}
		}
		if req.Hash == "" || len(req.Hash) > maxHash {
			t.Fatalf("accepted hash %q", req.Hash)
		}
	})
}

// digitRuns lists the runs of at least n ASCII digits in s.
func digitRuns(s string, n int) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i >= n {
			out = append(out, s[i:j])
		}
		if j == i {
			j++
		}
		i = j
	}
	return out
}
