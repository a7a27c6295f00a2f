package harness

// The senangPay dialect (/senangpay) as merchants speak it: its hash,
// its server-to-server calls in each body encoding with Basic auth, its
// get-token request fields and return fields, and the merchant's
// Tokenization Callback URL, and the get-token flow's browser side over
// HTTP (no browser; see page.go for that).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// SenangPayChallengeCard asks the simulator for a 3-D Secure challenge;
// SenangPayOTP answers it.
const (
	SenangPayChallengeCard = "4000002500003155"
	SenangPayOTP           = "123456"
)

// SenangPaySign is senangPay's hash (hex HMAC-SHA256 under secret of the
// parts joined), computed independently of the dialect.
func SenangPaySign(secret string, parts ...string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(mac.Sum(nil))
}

// SenangPayPost sends fields to /senangpay/apiv1/<path> in one encoding
// (form, multipart or json) with Basic auth user:pass ("" user: none); the
// answer must be JSON (SenangPayDo).
func SenangPayPost(t testing.TB, s *Server, path, user, pass, enc string, fields map[string]string) Resp {
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
	return SenangPayDo(t, req)
}

// SenangPayDo sends req with Client and decodes the answer, which must be
// JSON (senangPay answers JSON even to errors).
func SenangPayDo(t testing.TB, req *http.Request) Resp {
	t.Helper()
	res, err := Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := Resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", req.URL.Path, err, raw)
	}
	return r
}

// SenangPayQuery asks query_order_status with Basic auth user:pass (""
// user: no Authorization header).
func SenangPayQuery(t testing.TB, s *Server, user, pass, merchantID, orderID, hash string) Resp {
	t.Helper()
	q := url.Values{"merchant_id": {merchantID}, "order_id": {orderID}, "hash": {hash}}
	req, err := http.NewRequest("GET", s.URL+"/senangpay/apiv1/query_order_status?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return SenangPayDo(t, req)
}

// SenangPayFail checks senangPay's error shape {status:0, msg} and status.
func SenangPayFail(t testing.TB, r Resp, status int) {
	t.Helper()
	if r.Status != status || r.Body["status"] != float64(0) || r.Str("msg") == "" {
		t.Errorf("want %d {status:0,msg}: %d %s", status, r.Status, r.Raw)
	}
}

// SenangPayFields is a valid get-token request for order by merchant c,
// its hash included.
func SenangPayFields(c Creds, order string) url.Values {
	return url.Values{"order_id": {order}, "name": {"Abu Bin Ali"}, "email": {"abu@example.my"}, "phone": {"+60123456789"},
		"hash": {SenangPaySign(c.HMACSecret, c.ID, order)}}
}

// SenangPayCheckFields checks senangPay's seven get-token result fields
// (exactly those, each once, msg not empty), the values in want, and their
// hash recomputed here independently.
func SenangPayCheckFields(t testing.TB, c Creds, q url.Values, want map[string]string) {
	t.Helper()
	for _, k := range []string{"order_id", "status_id", "token", "cc_num", "cc_type", "msg", "hash"} {
		if len(q[k]) != 1 {
			t.Errorf("field %s: %q (fields %v)", k, q[k], q)
		}
	}
	if len(q) != 7 {
		t.Errorf("want exactly senangPay's seven fields, got %v", q)
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s=%q, want %q (fields %v)", k, q.Get(k), v, q)
		}
	}
	h := SenangPaySign(c.HMACSecret, c.ID, q.Get("order_id"), q.Get("status_id"), q.Get("token"), q.Get("cc_num"), q.Get("cc_type"), q.Get("msg"))
	if q.Get("hash") != h {
		t.Errorf("hash %q, recomputed %q", q.Get("hash"), h)
	}
	if q.Get("msg") == "" {
		t.Error("msg is empty")
	}
}

// SenangPayAwaitSession polls a merchant's session (5 s at most) until its
// status is want, and returns it.
func SenangPayAwaitSession(t testing.TB, s *Server, key, sid, want string) Resp {
	t.Helper()
	var r Resp
	WaitUntil(t, 5*time.Second, "session "+sid+" "+want, func() bool {
		r = s.Call("GET", "/v1/sessions/"+sid, key, nil)
		return r.Status == 200 && r.Str("status") == want
	})
	return r
}

// SenangPayPayCC charges a token with senangPay's pay_cc (RM15.00, order
// sub-1) as merchant c, and expects 200.
func SenangPayPayCC(t testing.TB, s *Server, c Creds, token string) Resp {
	t.Helper()
	f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789", "detail": "Langganan",
		"order_id": "sub-1", "amount": "1500", "token": token}
	f["hash"] = SenangPaySign(c.HMACSecret, c.ID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	return SenangPayPost(t, s, "pay_cc", c.ID, c.HMACSecret, "form", f).Want(t, 200)
}

// SenangPayCallbacks is a merchant's Tokenization Callback URL on loopback:
// it records every arrival and answers "received" (a 200 that is not
// senangPay's OK) to the first notOK of them, then "OK". (A Recorder cannot
// answer a 200 that means "not yet".)
type SenangPayCallbacks struct {
	URL   string
	mu    sync.Mutex
	notOK int
	got   []SenangPayArrival
}

// SenangPayArrival is one request a SenangPayCallbacks received, its body
// also parsed as a form.
type SenangPayArrival struct {
	Method, ContentType string
	Form                url.Values
	Raw                 string
}

// NewSenangPayCallbacks starts a callback receiver for the test's lifetime,
// at path /senangpay/callback.
func NewSenangPayCallbacks(t testing.TB, notOK int) *SenangPayCallbacks {
	cb := &SenangPayCallbacks{notOK: notOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(raw))
		cb.mu.Lock()
		defer cb.mu.Unlock()
		cb.got = append(cb.got, SenangPayArrival{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Form: form, Raw: string(raw)})
		if len(cb.got) <= cb.notOK {
			io.WriteString(w, "received")
			return
		}
		io.WriteString(w, "OK\n")
	}))
	t.Cleanup(srv.Close)
	cb.URL = srv.URL + "/senangpay/callback"
	return cb
}

// Arrivals lists the requests received, in arrival order.
func (cb *SenangPayCallbacks) Arrivals() []SenangPayArrival {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]SenangPayArrival(nil), cb.got...)
}

// SenangPayShop is a merchant set up for the get-token flow: its
// tokenization_return_url is a recording ReturnSite, its
// tokenization_callback_url a SenangPayCallbacks.
type SenangPayShop struct {
	Creds
	Return    *ReturnSite
	Callbacks *SenangPayCallbacks
}

// NewSenangPayShop creates merchant "Kedai Abu" with a new return site and
// callback receiver (answering "received" to the first notOK callbacks) as
// its tokenization URLs.
func NewSenangPayShop(t testing.TB, s *Server, notOK int) SenangPayShop {
	t.Helper()
	sh := SenangPayShop{Creds: s.NewMerchant("Kedai Abu"), Return: NewReturnSite(t), Callbacks: NewSenangPayCallbacks(t, notOK)}
	s.Call("PATCH", "/v1/merchant", sh.SecretKey, map[string]any{"tokenization_return_url": sh.Return.URL,
		"tokenization_callback_url": sh.Callbacks.URL}).Want(t, 200)
	return sh
}

// SenangPayGetToken sends a get-token request as a browser would: enc is
// "query" (GET), "form" or "multipart" (POST). Redirects are not followed.
func SenangPayGetToken(t testing.TB, s *Server, merchantID, enc string, f url.Values) Page {
	t.Helper()
	u := s.URL + "/senangpay/tokenization/" + merchantID
	var req *http.Request
	var err error
	switch enc {
	case "query":
		req, err = http.NewRequest("GET", u+"?"+f.Encode(), nil)
	case "form":
		req, err = http.NewRequest("POST", u, strings.NewReader(f.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case "multipart":
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, vs := range f {
			for _, v := range vs {
				mw.WriteField(k, v)
			}
		}
		mw.Close()
		req, err = http.NewRequest("POST", u, &b)
		if req != nil {
			req.Header.Set("Content-Type", mw.FormDataContentType())
		}
	default:
		t.Fatalf("encoding %q", enc)
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := NoRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return ReadPage(t, res)
}

// SenangPayStarted checks a get-token answer is a 303 to a hosted page and
// returns the session id.
func SenangPayStarted(t testing.TB, s *Server, p Page) string {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, s.URL+"/pay/ps_") {
		t.Fatalf("get-token: want a 303 to a hosted page, got %d Location %q:\n%s", p.Status, p.Location, p.Body)
	}
	return path.Base(p.Location)
}

// SenangPayRefused checks a get-token answer is the small error page with
// status, naming field ("" for none).
func SenangPayRefused(t testing.TB, p Page, status int, field string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d:\n%s", p.Status, status, p.Body)
	}
	h := p.Header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Location") != "" {
		t.Errorf("error page headers: %v", h)
	}
	if field != "" && !strings.Contains(p.Body, `<code id="field">`+field+`</code>`) {
		t.Errorf("the page does not name the field %s:\n%s", field, p.Body)
	}
}

// SenangPayFollow follows redirects from u (GET, at most 10) until an
// answer that is not one, which must be a 200, and returns the URL it
// ended at.
func SenangPayFollow(t testing.TB, u string) string {
	t.Helper()
	for range 10 {
		res, err := NoRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		p := ReadPage(t, res)
		if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
			if p.Status != 200 {
				t.Fatalf("GET %s: %d:\n%s", u, p.Status, p.Body)
			}
			return u
		}
		next, err := url.Parse(p.Location)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := url.Parse(u)
		u = base.ResolveReference(next).String()
	}
	t.Fatalf("too many redirects, at %s", u)
	return ""
}

// SenangPayResult checks the URL the browser landed on is the shop's
// return URL with its own query (cart=42) kept and exactly senangPay's
// seven fields beside it (SenangPayCheckFields); it returns those fields.
func SenangPayResult(t testing.TB, sh SenangPayShop, landed string, want map[string]string) url.Values {
	t.Helper()
	base := strings.Split(sh.Return.URL, "?")[0]
	if !strings.HasPrefix(landed, base+"?") {
		t.Fatalf("landed on %s, want the tokenization_return_url %s", landed, sh.Return.URL)
	}
	u, _ := url.Parse(landed)
	q := u.Query()
	if q.Get("cart") != "42" {
		t.Errorf("the return URL's own query is lost: %v", q)
	}
	q.Del("cart")
	SenangPayCheckFields(t, sh.Creds, q, want)
	return q
}

// SenangPayConfirm pays a get-token session's hosted page through the API
// with number (CVC 123): the page's own confirmation, minus the browser;
// it expects 200.
func SenangPayConfirm(t testing.TB, s *Server, sh SenangPayShop, sid, number string) Resp {
	t.Helper()
	g := s.Call("GET", "/v1/sessions/"+sid, sh.SecretKey, nil).Want(t, 200)
	return s.Call("POST", "/v1/sessions/"+sid+"/confirm", sh.SecretKey, map[string]any{"encrypted_card": EncryptFor(t, g, number, "123")}).Want(t, 200)
}
