package e2e

// senangPay's 3-D Secure get-token flow and its deprecated 2-D
// get_payment_token, spoken over HTTP to the real server on both backends.
// The browser half (a real merchant page, typing, the OTP form) is in
// senangpay_browser_test.go. Helper names start with spg; spSign and spPost
// of senangpay_test.go are reused.

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// spgChallengeCard asks for a 3-D Secure challenge; spgOTP answers it.
const (
	spgChallengeCard = "4000002500003155"
	spgOTP           = "123456"
)

// spgCallbacks is a merchant's Tokenization Callback URL: it records every
// arrival and answers "received" (a 200 that is not senangPay's OK) to the
// first notOK of them, then "OK".
type spgCallbacks struct {
	URL   string
	mu    sync.Mutex
	notOK int
	got   []spgArrival
}

type spgArrival struct {
	Method, ContentType string
	Form                url.Values
	Raw                 string
}

func spgNewCallbacks(t testing.TB, notOK int) *spgCallbacks {
	cb := &spgCallbacks{notOK: notOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(raw))
		cb.mu.Lock()
		defer cb.mu.Unlock()
		cb.got = append(cb.got, spgArrival{Method: r.Method, ContentType: r.Header.Get("Content-Type"), Form: form, Raw: string(raw)})
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

func (cb *spgCallbacks) arrivals() []spgArrival {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]spgArrival(nil), cb.got...)
}

// spgShop is a merchant set up for the get-token flow: its return URL is a
// recording site, its callback URL a recording receiver.
type spgShop struct {
	creds
	rs *returnSite
	cb *spgCallbacks
}

func spgNewShop(t testing.TB, s *server, notOK int) spgShop {
	t.Helper()
	sh := spgShop{creds: s.newMerchant("Kedai Abu"), rs: newReturnSite(t), cb: spgNewCallbacks(t, notOK)}
	s.call("PATCH", "/v1/merchant", sh.SecretKey, map[string]any{"tokenization_return_url": sh.rs.URL,
		"tokenization_callback_url": sh.cb.URL}).want(t, 200)
	return sh
}

// spgFields is a valid get-token request for order.
func spgFields(c creds, order string) url.Values {
	return url.Values{"order_id": {order}, "name": {"Abu Bin Ali"}, "email": {"abu@example.my"}, "phone": {"+60123456789"},
		"hash": {spSign(c.HMACSecret, c.ID, order)}}
}

// spgGetToken sends a get-token request as a browser would: enc is "query"
// (GET), "form" or "multipart" (POST). Redirects are not followed.
func spgGetToken(t testing.TB, s *server, merchantID, enc string, f url.Values) page {
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
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, res)
}

// spgStarted checks a get-token answer is a 303 to a hosted page and
// returns the session id.
func spgStarted(t testing.TB, s *server, p page) string {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, s.URL+"/pay/ps_") {
		t.Fatalf("get-token: want a 303 to a hosted page, got %d Location %q:\n%s", p.Status, p.Location, p.Body)
	}
	return path.Base(p.Location)
}

// spgRefused checks a get-token answer is the small error page with status,
// naming field ("" for none).
func spgRefused(t testing.TB, p page, status int, field string) {
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

// spgFollow follows redirects from u (GET) until an answer that is not one,
// and returns the URL it ended at.
func spgFollow(t testing.TB, u string) string {
	t.Helper()
	for range 10 {
		res, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		p := readPage(t, res)
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

// spgResult checks the query the browser reached the merchant's return URL
// with: the merchant's own query kept, exactly senangPay's seven fields
// beside it, and a hash recomputed here independently.
func spgResult(t testing.TB, sh spgShop, landed string, want map[string]string) url.Values {
	t.Helper()
	base := strings.Split(sh.rs.URL, "?")[0]
	if !strings.HasPrefix(landed, base+"?") {
		t.Fatalf("landed on %s, want the tokenization_return_url %s", landed, sh.rs.URL)
	}
	u, _ := url.Parse(landed)
	q := u.Query()
	if q.Get("cart") != "42" {
		t.Errorf("the return URL's own query is lost: %v", q)
	}
	q.Del("cart")
	spgCheckFields(t, sh.creds, q, want)
	return q
}

// spgCheckFields checks senangPay's seven fields and their hash.
func spgCheckFields(t testing.TB, c creds, q url.Values, want map[string]string) {
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
	h := spSign(c.HMACSecret, c.ID, q.Get("order_id"), q.Get("status_id"), q.Get("token"), q.Get("cc_num"), q.Get("cc_type"), q.Get("msg"))
	if q.Get("hash") != h {
		t.Errorf("hash %q, recomputed %q", q.Get("hash"), h)
	}
	if q.Get("msg") == "" {
		t.Error("msg is empty")
	}
}

// spgConfirm pays a get-token session's hosted page through the API with
// number: the page's own confirmation, minus the browser.
func spgConfirm(t testing.TB, s *server, sh spgShop, sid, number string) resp {
	t.Helper()
	g := s.call("GET", "/v1/sessions/"+sid, sh.SecretKey, nil).want(t, 200)
	return s.call("POST", "/v1/sessions/"+sid+"/confirm", sh.SecretKey, map[string]any{"encrypted_card": encryptFor(t, g, number, "123")}).want(t, 200)
}

// spgAwait polls a merchant's session until its status is want.
func spgAwait(t testing.TB, s *server, key, sid, want string) resp {
	t.Helper()
	var r resp
	waitUntil(t, 5*time.Second, "session "+sid+" "+want, func() bool {
		r = s.call("GET", "/v1/sessions/"+sid, key, nil)
		return r.Status == 200 && r.str("status") == want
	})
	return r
}

// spgPayCC charges a token with senangPay's pay_cc.
func spgPayCC(t testing.TB, s *server, c creds, token string) resp {
	t.Helper()
	f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789", "detail": "Langganan",
		"order_id": "sub-1", "amount": "1500", "token": token}
	f["hash"] = spSign(c.HMACSecret, c.ID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	return spPost(t, s, "pay_cc", c.ID, c.HMACSecret, "form", f).want(t, 200)
}

// spgDeliveries is the delivery log of the session's one event of type typ.
func spgDeliveries(t testing.TB, s *server, key, sid, typ string) []any {
	t.Helper()
	l := s.call("GET", "/v1/events?object="+sid+"&type="+typ, key, nil).want(t, 200)
	data, _ := l.Body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("events %s of %s: %s", typ, sid, l.Raw)
	}
	id, _ := dig(data[0], "id").(string)
	e := s.call("GET", "/v1/events/"+id, key, nil).want(t, 200)
	d, _ := e.Body["deliveries"].([]any)
	return d
}

// TestSenangPayGetToken: the get-token flow end to end over HTTP — the
// request in its three encodings, the hosted page forcing 3-D Secure, the
// OTP, the return with senangPay's fields and hash, the callback retried
// until the receiver answers OK, and the token charged with pay_cc.
func TestSenangPayGetToken(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withWebhookRetryBase(50*time.Millisecond))...)
		sh := spgNewShop(t, s, 2)

		// The three ways a browser may come, each opening a save-card-only
		// session that forces 3-D Secure and reports in senangPay's shape.
		var sid string
		for i, enc := range []string{"query", "form", "multipart"} {
			order := "ord-" + enc
			sid = spgStarted(t, s, spgGetToken(t, s, sh.ID, enc, spgFields(sh.creds, order)))
			g := s.call("GET", "/v1/sessions/"+sid, sh.SecretKey, nil).want(t, 200)
			hop := s.URL + "/senangpay/tokenization/" + sh.ID + "/return"
			if g.str("status") != "open" || dig(g.Body, "amount") != float64(0) || g.str("currency") != "MYR" ||
				g.str("three_d_secure") != "required" || g.str("order_id") != order || g.str("callback_url") != sh.cb.URL ||
				g.str("success_url") != hop || g.str("failure_url") != hop || g.str("cancel_url") != hop || g.str("expired_url") != hop ||
				g.str("metadata", "email") != "abu@example.my" || g.str("metadata", "phone") != "+60123456789" ||
				g.str("metadata", "name") != "Abu Bin Ali" {
				t.Errorf("session %d (%s): %s", i, enc, g.Raw)
			}
			if p := challengePage(t, s.URL+"/pay/"+sid); p.Status != 200 {
				t.Errorf("hosted page: %d", p.Status)
			}
		}
		// A session not yet ended: the return hop sends the holder back to
		// its page.
		if p := challengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+sid); p.Status != 303 || p.Location != s.URL+"/pay/"+sid {
			t.Errorf("return hop of an open session: %d %q", p.Status, p.Location)
		}

		// The card needs its OTP; answered, the chain of redirects ends on
		// the merchant's return URL.
		c := spgConfirm(t, s, sh, sid, spgChallengeCard)
		if c.str("status") != "requires_action" || !strings.HasPrefix(c.str("next_action", "url"), s.URL+"/3ds/") {
			t.Fatalf("confirm: %s", c.Raw)
		}
		otp := submitOTP(t, c.str("next_action", "url"), spgOTP)
		if otp.Status != 303 {
			t.Fatalf("OTP: %d %s", otp.Status, otp.Body)
		}
		landed := spgFollow(t, otp.Location)
		q := spgResult(t, sh, landed, map[string]string{"order_id": "ord-multipart", "status_id": "1",
			"cc_num": "XXXXXXXXXXXX3155", "cc_type": "vs", "msg": "Card has been successfully validated."})
		tok := q.Get("token")
		if !strings.HasPrefix(tok, "tok_") {
			t.Fatalf("token %q", tok)
		}
		g := spgAwait(t, s, sh.SecretKey, sid, "succeeded")
		if g.str("token") != tok {
			t.Errorf("session token %q, return token %q", g.str("token"), tok)
		}
		tk := s.call("GET", "/v1/tokens/"+tok, sh.SecretKey, nil).want(t, 200)
		if tk.str("status") != "active" || tk.str("verification", "status") != "verified" ||
			tk.str("verification", "three_d_secure") != "authenticated" || tk.str("card", "last4") != "3155" {
			t.Errorf("token: %s", tk.Raw)
		}
		// Coming back through the hop again gives the same answer.
		if again := spgFollow(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+sid); again != landed {
			t.Errorf("the return hop again: %s, first %s", again, landed)
		}

		// The token is charged by senangPay's pay_cc.
		if p := spgPayCC(t, s, sh.creds, tok); p.Body["status"] != float64(1) || p.Body["amount_paid"] != float64(1500) {
			t.Errorf("pay_cc with the get-token token: %s", p.Raw)
		}

		// The callback: a form POST of the same fields, tried again after
		// each answer that is not OK (two "received"), never after the OK.
		waitUntil(t, 15*time.Second, "the callback's third attempt", func() bool { return len(sh.cb.arrivals()) >= 3 })
		time.Sleep(time.Second) // retries come within ~100 ms here: any fourth would be in
		got := sh.cb.arrivals()
		if len(got) != 3 {
			t.Fatalf("callback arrivals: %d, want 3 (two not OK, then OK)", len(got))
		}
		for i, a := range got {
			if a.Method != "POST" || a.ContentType != "application/x-www-form-urlencoded" {
				t.Errorf("callback %d: %s %s", i, a.Method, a.ContentType)
			}
			spgCheckFields(t, sh.creds, a.Form, map[string]string{})
			if a.Form.Encode() != q.Encode() {
				t.Errorf("callback %d %v differs from the return %v", i, a.Form, q)
			}
		}
		ds := spgDeliveries(t, s, sh.SecretKey, sid, "session.succeeded")
		if len(ds) != 1 || dig(ds[0], "status") != "succeeded" {
			t.Fatalf("deliveries: %v", ds)
		}
		atts, _ := dig(ds[0], "attempts").([]any)
		if len(atts) != 3 {
			t.Fatalf("attempts: %v", atts)
		}
		for i, a := range atts[:2] {
			why, _ := dig(a, "error").(string)
			if why == "" || strings.Contains(why, "received") || dig(a, "status_code") != float64(200) {
				t.Errorf("attempt %d: %v (a reason, never the body)", i+1, a)
			}
		}
		if dig(atts[2], "error") != nil {
			t.Errorf("the OK attempt: %v", atts[2])
		}
		// Progress is not told: session.created's callback is skipped.
		for _, d := range spgDeliveries(t, s, sh.SecretKey, sid, "session.created") {
			if dig(d, "status") != "skipped" {
				t.Errorf("session.created delivery: %v", d)
			}
		}
	})
}

// TestSenangPayGetTokenForces3DS: a card whose issuer would let it through
// without a challenge is still authenticated — the flow asks for 3-D Secure
// (senangPay's OTP check) whatever the card — while the same card saved by
// a plain session is not.
func TestSenangPayGetTokenForces3DS(t *testing.T) {
	s := start(t)
	sh := spgNewShop(t, s, 0)
	sid := spgStarted(t, s, spgGetToken(t, s, sh.ID, "form", spgFields(sh.creds, "frictionless")))
	if c := spgConfirm(t, s, sh, sid, "4242424242424242"); c.str("status") != "succeeded" {
		t.Fatalf("confirm: %s", c.Raw)
	}
	tok := spgAwait(t, s, sh.SecretKey, sid, "succeeded").str("token")
	if tk := s.call("GET", "/v1/tokens/"+tok, sh.SecretKey, nil).want(t, 200); tk.str("verification", "three_d_secure") != "authenticated" {
		t.Errorf("get-token token: %s", tk.Raw)
	}
	plain := newSession(t, s, sh.SecretKey, map[string]any{"amount": 0})
	if plain.str("three_d_secure") != "if_required" {
		t.Errorf("a session's default three_d_secure: %s", plain.Raw)
	}
	if c := spgConfirm(t, s, sh, plain.str("id"), "4242424242424242"); c.str("status") != "succeeded" {
		t.Fatalf("confirm: %s", c.Raw)
	}
	tok2 := spgAwait(t, s, sh.SecretKey, plain.str("id"), "succeeded").str("token")
	if tk := s.call("GET", "/v1/tokens/"+tok2, sh.SecretKey, nil).want(t, 200); tk.str("verification", "three_d_secure") != "not_required" {
		t.Errorf("plain session token: %s", tk.Raw)
	}
	// The option is the core's, for every session: validated like a token's.
	if r := s.call("POST", "/v1/sessions", sh.SecretKey, map[string]any{"amount": 100, "three_d_secure": "always"}); r.Status != 400 {
		t.Errorf("three_d_secure always: %d %s", r.Status, r.Raw)
	}
	s.call("PATCH", "/v1/merchant", sh.SecretKey, map[string]any{"tokenization_requires_3ds": true}).want(t, 200)
	if r := s.call("POST", "/v1/sessions", sh.SecretKey, map[string]any{"amount": 0, "three_d_secure": "never"}); r.Status != 400 {
		t.Errorf("three_d_secure never against tokenization_requires_3ds: %d %s", r.Status, r.Raw)
	}
}

// TestSenangPayGetTokenFailure: a holder who cancels, a session that
// fails (five declines) and a session that expires all end at the return
// URL and the callback with senangPay's failure values.
func TestSenangPayGetTokenFailure(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withWebhookRetryBase(50*time.Millisecond))...)
		sh := spgNewShop(t, s, 0)
		fails := map[string]string{"status_id": "0", "token": "0", "cc_num": "0000", "cc_type": "xx"}
		with := func(kv ...string) map[string]string {
			m := map[string]string{}
			for k, v := range fails {
				m[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		hop := func(sid string) string {
			return s.URL + "/senangpay/tokenization/" + sh.ID + "/return?session_id=" + sid
		}

		// Canceled on the hosted page.
		sid := spgStarted(t, s, spgGetToken(t, s, sh.ID, "form", spgFields(sh.creds, "cancel-me")))
		res, err := noRedirect.PostForm(s.URL+"/pay/"+sid+"/cancel", nil)
		if err != nil {
			t.Fatal(err)
		}
		p := readPage(t, res)
		if p.Status != 303 || p.Location != hop(sid) {
			t.Fatalf("cancel: %d %q", p.Status, p.Location)
		}
		q := spgResult(t, sh, spgFollow(t, p.Location), with("order_id", "cancel-me", "msg", "Card validation was canceled by the card holder."))

		// Five declined cards: the holder may retry, then the session fails.
		sid2 := spgStarted(t, s, spgGetToken(t, s, sh.ID, "query", spgFields(sh.creds, "declined")))
		for i := 1; i <= 5; i++ {
			g := s.call("GET", "/v1/sessions/"+sid2, sh.SecretKey, nil).want(t, 200)
			r := s.call("POST", "/v1/sessions/"+sid2+"/confirm", sh.SecretKey, map[string]any{"encrypted_card": encryptFor(t, g, "4000000000000002", "123")})
			if r.Status != 402 {
				t.Fatalf("decline %d: %d %s", i, r.Status, r.Raw)
			}
			if i < 5 {
				// Not final: the return hop sends the holder back to the page.
				if p := challengePage(t, hop(sid2)); p.Status != 303 || p.Location != s.URL+"/pay/"+sid2 {
					t.Fatalf("return hop after decline %d: %d %q", i, p.Status, p.Location)
				}
			}
		}
		spgAwait(t, s, sh.SecretKey, sid2, "failed")
		q2 := spgResult(t, sh, spgFollow(t, hop(sid2)), with("order_id", "declined"))
		if q2.Get("msg") != "Your card was declined." { // the last decline's words
			t.Errorf("failure msg %q", q2.Get("msg"))
		}

		// The callbacks tell the same, once each (the receiver says OK).
		waitUntil(t, 15*time.Second, "two callbacks", func() bool { return len(sh.cb.arrivals()) >= 2 })
		time.Sleep(300 * time.Millisecond)
		got := sh.cb.arrivals()
		if len(got) != 2 {
			t.Fatalf("callbacks: %d", len(got))
		}
		byOrder := map[string]url.Values{}
		for _, a := range got {
			byOrder[a.Form.Get("order_id")] = a.Form
		}
		if byOrder["cancel-me"].Encode() != q.Encode() || byOrder["declined"].Encode() != q2.Encode() {
			t.Errorf("callbacks %v differ from the returns %v %v", byOrder, q, q2)
		}
	})
}

// TestSenangPayGetTokenExpired: a session left to expire reports the
// failure values with its own message.
func TestSenangPayGetTokenExpired(t *testing.T) {
	s := start(t, withSweepInterval(100*time.Millisecond), withWebhookRetryBase(50*time.Millisecond))
	sh := spgNewShop(t, s, 0)
	sid := spgStarted(t, s, spgGetToken(t, s, sh.ID, "form", spgFields(sh.creds, "too-late")))
	// Sessions last at least a minute; the test moves the clock of the
	// database instead of waiting: expires_at is set into the past.
	db := openDB(t, s)
	if _, err := db.Exec(rebind(s, `UPDATE sessions SET expires_at = ? WHERE id = ?`), time.Now().Add(-time.Second).UnixMicro(), sid); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the callback", func() bool { return len(sh.cb.arrivals()) >= 1 })
	spgAwait(t, s, sh.SecretKey, sid, "expired")
	q := spgResult(t, sh, spgFollow(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+sid),
		map[string]string{"order_id": "too-late", "status_id": "0", "token": "0", "cc_num": "0000", "cc_type": "xx",
			"msg": "Card validation expired before it was completed."})
	if got := sh.cb.arrivals()[0].Form; got.Encode() != q.Encode() {
		t.Errorf("callback %v, return %v", got, q)
	}
}

// TestSenangPayGetTokenRefused: a bad or unknown merchant or hash is 401, a
// missing or bad field 400 naming it, a merchant without a return URL 409 —
// each a small page that echoes nothing it was sent — and the return hop
// serves only its own merchant's get-token sessions.
func TestSenangPayGetTokenRefused(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		sh := spgNewShop(t, s, 0)
		good := func() url.Values { return spgFields(sh.creds, "56") }

		// An unknown merchant is refused exactly as a wrong hash is: the
		// page does not tell whether the merchant exists.
		unknown := spgGetToken(t, s, "mer_nosuchmerchant0000", "form", good())
		spgRefused(t, unknown, 401, "hash")
		if p := spgGetToken(t, s, "4242424242424242", "query", good()); strings.Contains(p.Body, "4242424242424242") {
			t.Errorf("the page echoes the path's merchant id:\n%s", p.Body)
		} else {
			spgRefused(t, p, 401, "hash")
		}
		bad := good()
		bad.Set("hash", spSign(sh.HMACSecret, sh.ID, "57"))
		wrong := spgGetToken(t, s, sh.ID, "form", bad)
		spgRefused(t, wrong, 401, "hash")
		if unknown.Body != wrong.Body {
			t.Errorf("an unknown merchant's page differs from a wrong hash's:\n%s\n%s", unknown.Body, wrong.Body)
		}
		noOrder := good()
		noOrder.Del("order_id")
		spgRefused(t, spgGetToken(t, s, "mer_nosuchmerchant0000", "form", noOrder), 400, "order_id") // as for a real one
		other := s.newMerchant("Kedai Lain")
		spgRefused(t, spgGetToken(t, s, other.ID, "form", good()), 401, "hash") // signed for another merchant

		for _, k := range []string{"order_id", "name", "email", "phone", "hash"} {
			for _, enc := range []string{"query", "form", "multipart"} {
				f := good()
				f.Del(k)
				if k == "order_id" {
					f.Set("hash", spSign(sh.HMACSecret, sh.ID, ""))
				}
				spgRefused(t, spgGetToken(t, s, sh.ID, enc, f), 400, k)
			}
		}
		long := good()
		long.Set("name", strings.Repeat("A", 101))
		spgRefused(t, spgGetToken(t, s, sh.ID, "form", long), 400, "name")
		twice := good()
		twice.Add("order_id", "57")
		spgRefused(t, spgGetToken(t, s, sh.ID, "query", twice), 400, "")
		// A card number typed into the name is refused, and not echoed.
		pan := good()
		pan.Set("name", "4000 0025 0000 3155")
		p := spgGetToken(t, s, sh.ID, "form", pan)
		spgRefused(t, p, 400, "name")
		if regexp.MustCompile(`4000\D?0025\D?0000\D?3155`).MatchString(p.Body) {
			t.Errorf("the page echoes the card number:\n%s", p.Body)
		}
		if strings.Contains(p.Body, "Abu Bin Ali") || strings.Contains(p.Body, "abu@example.my") {
			t.Errorf("the page echoes request fields:\n%s", p.Body)
		}

		// Without a Tokenization Return URL there is nowhere to go.
		bare := s.newMerchant("Kedai Baru")
		spgRefused(t, spgGetToken(t, s, bare.ID, "form", spgFields(bare, "1")), 409, "")

		// The hop: only this flow's sessions, only under their merchant.
		sid := spgStarted(t, s, spgGetToken(t, s, sh.ID, "form", good()))
		spgRefused(t, challengePage(t, s.URL+"/senangpay/tokenization/"+bare.ID+"/return?session_id="+sid), 404, "")
		plain := newSession(t, s, sh.SecretKey, map[string]any{"amount": 0})
		s.call("POST", "/v1/sessions/"+plain.str("id")+"/cancel", sh.SecretKey, nil).want(t, 200)
		spgRefused(t, challengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+plain.str("id")), 404, "")
		spgRefused(t, challengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return"), 400, "session_id")
		spgRefused(t, challengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id=ps_nosuch"), 404, "")
		if sh.rs.last() != nil {
			t.Errorf("a refused request reached the merchant: %v", sh.rs.last())
		}
	})
}

// spgVerifyProc is the simulator with a window on Verify: it records the
// amount and currency of every verification (never the card).
type spgVerifyProc struct {
	*simulator.Simulator
	mu       sync.Mutex
	verifies []spgVerify
}

type spgVerify struct {
	Amount        int64
	Currency      string
	Authenticated bool
}

func (p *spgVerifyProc) Verify(ctx context.Context, r processor.VerifyRequest) (processor.Verification, error) {
	p.mu.Lock()
	p.verifies = append(p.verifies, spgVerify{r.Amount, r.Currency, r.Authentication != nil && r.Authentication.Status == processor.AuthAuthenticated})
	p.mu.Unlock()
	return p.Simulator.Verify(ctx, r)
}

// TestSenangPayGetTokenVerifiesRM1: the card is checked with an
// authorization of RM1 (100 MYR minor units) made after 3-D Secure and
// voided at once; nothing is captured.
func TestSenangPayGetTokenVerifiesRM1(t *testing.T) {
	proc := &spgVerifyProc{Simulator: simulator.New()}
	s := start(t, withProcessorImpl(proc))
	sh := spgNewShop(t, s, 0)
	before := proc.Stats()
	sid := spgStarted(t, s, spgGetToken(t, s, sh.ID, "form", spgFields(sh.creds, "rm1")))
	c := spgConfirm(t, s, sh, sid, spgChallengeCard)
	otp := submitOTP(t, c.str("next_action", "url"), spgOTP)
	spgResult(t, sh, spgFollow(t, otp.Location), map[string]string{"status_id": "1"})
	after := proc.Stats()
	proc.mu.Lock()
	got := append([]spgVerify(nil), proc.verifies...)
	proc.mu.Unlock()
	if len(got) != 1 || got[0] != (spgVerify{100, "MYR", true}) {
		t.Errorf("verifications %+v, want one of 100 MYR after 3-D Secure", got)
	}
	if after.Verifications-before.Verifications != 1 || after.Voids-before.Voids != 1 || after.Captures != before.Captures {
		t.Errorf("acquirer: %+v → %+v, want one verification, voided, nothing captured", before, after)
	}
}

// spgIsolated reports whether needle occurs in data with no digit on
// either side and no dot before (a CVC inside a longer number, or the
// fraction of a log line's timestamp, is not that CVC).
func spgIsolated(data, needle string) bool {
	for i := 0; ; {
		j := strings.Index(data[i:], needle)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || (data[j-1] < '0' || data[j-1] > '9') && data[j-1] != '.'
		end := j + len(needle)
		after := end == len(data) || data[end] < '0' || data[end] > '9'
		if before && after {
			return true
		}
		i = j + 1
	}
}

// TestSenangPayGetPaymentToken: the deprecated 2-D get_payment_token is
// refused unless the merchant turned accept_raw_card_data on, and whenever
// it requires 3-D Secure for tokenization; when on, it verifies the card
// (voided RM1) and returns a token pay_cc can charge. No answer and no log
// line ever holds the card number or the CVC.
func TestSenangPayGetPaymentToken(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		c := s.newMerchant("Kedai Lama")
		const pan, cvc = "378282246310005", "7391" // Amex: a four-digit CVC is easier to spot
		exp := time.Now().AddDate(3, 0, 0).Format("0106")
		fields := func(kv ...string) map[string]string {
			f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "0109876543",
				"cc_number": pan, "cc_exp": exp, "cc_cvv": cvc}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == "" {
					delete(f, kv[i])
				} else {
					f[kv[i]] = kv[i+1]
				}
			}
			return f
		}
		var answers []resp
		call := func(user, enc string, f map[string]string) resp {
			r := spPost(t, s, "get_payment_token", user, c.HMACSecret, enc, f)
			answers = append(answers, r)
			return r
		}

		// Off by default: 403, whatever the body.
		spFail(t, call(c.ID, "form", fields()), 403)
		spFail(t, call("", "form", fields()), 401)
		spFail(t, call("mer_nosuchmerchant0000", "form", fields()), 401)

		s.call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"accept_raw_card_data": true}).want(t, 200)
		stats := s.Sim.Stats()
		var tok string
		for _, enc := range []string{"form", "multipart", "json"} {
			r := call(c.ID, enc, fields()).want(t, 200)
			if r.Body["status"] != float64(1) || !strings.HasPrefix(r.str("token"), "tok_") || r.str("msg") == "" || len(r.Body) != 3 {
				t.Fatalf("get_payment_token %s: %s", enc, r.Raw)
			}
			tok = r.str("token")
		}
		if d := s.Sim.Stats(); d.Verifications-stats.Verifications != 3 || d.Voids-stats.Voids != 3 || d.Captures != stats.Captures {
			t.Errorf("acquirer: %+v → %+v, want three voided verifications", stats, d)
		}
		tk := s.call("GET", "/v1/tokens/"+tok, c.SecretKey, nil).want(t, 200)
		if tk.str("status") != "active" || tk.str("verification", "status") != "verified" || tk.str("card", "last4") != "0005" ||
			tk.str("card", "holder_name") != "Abu Bin Ali" || tk.str("metadata", "email") != "abu@example.my" {
			t.Errorf("token: %s", tk.Raw)
		}
		if p := spgPayCC(t, s, c, tok); p.Body["status"] != float64(1) {
			t.Errorf("pay_cc with a get_payment_token token: %s", p.Raw)
		}

		// Bad input: 400 naming the field, never the card.
		for _, bad := range []map[string]string{
			fields("cc_number", ""), fields("cc_cvv", ""), fields("cc_exp", ""), fields("name", ""),
			fields("cc_number", "378282246310006"),          // Luhn
			fields("cc_number", "3782 822463 10005 1234 5"), // too long
			fields("cc_exp", "1399"), fields("cc_exp", "0120"), fields("cc_exp", "12/2030"),
			fields("cc_cvv", "12"), fields("cc_cvv", "abcd"),
			fields("name", "Abu "+pan),
		} {
			r := call(c.ID, "form", bad)
			spFail(t, r, 400)
			if !regexp.MustCompile(`cc_number|cc_cvv|cc_exp|name`).MatchString(r.str("msg")) {
				t.Errorf("the message names no field: %s", r.Raw)
			}
		}
		// A decline is an answer: 200 with status 0.
		if r := call(c.ID, "form", fields("cc_number", "4000000000000002", "cc_cvv", "123")).want(t, 200); r.Body["status"] != float64(0) || r.str("token") != "0" {
			t.Errorf("declined card: %s", r.Raw)
		}
		// A card whose issuer wants its holder cannot be saved without one;
		// nothing is left behind.
		before := s.call("GET", "/v1/tokens?limit=100", c.SecretKey, nil).want(t, 200)
		if r := call(c.ID, "form", fields("cc_number", spgChallengeCard, "cc_cvv", "123")).want(t, 200); r.Body["status"] != float64(0) || r.str("token") != "0" ||
			!strings.Contains(r.str("msg"), "3-D Secure") {
			t.Errorf("challenge card: %s", r.Raw)
		}
		after := s.call("GET", "/v1/tokens?limit=100", c.SecretKey, nil).want(t, 200)
		if n, m := len(before.Body["data"].([]any)), len(after.Body["data"].([]any)); n != m {
			t.Errorf("a challenge card left a live token: %d → %d tokens", n, m)
		}
		if n := challengeSecrets(t, s); n != 0 {
			t.Errorf("%d challenges still hold a CVC", n)
		}

		// A merchant that requires 3-D Secure for tokens: this 2-D flow is
		// refused rather than let around it.
		s.call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"tokenization_requires_3ds": true}).want(t, 200)
		spFail(t, call(c.ID, "form", fields()), 403)

		for _, r := range answers {
			for _, needle := range []string{pan, "3782 822463 10005", "378282246310006", spgChallengeCard, "4000000000000002"} {
				if strings.Contains(string(r.Raw), needle) {
					t.Errorf("an answer holds a card number: %s", r.Raw)
				}
			}
			if spgIsolated(string(r.Raw), cvc) {
				t.Errorf("an answer holds the CVC: %s", r.Raw)
			}
		}
		logs := s.Logs.String()
		for _, needle := range []string{pan, "378282246310006", spgChallengeCard} {
			if strings.Contains(logs, needle) {
				t.Errorf("the logs hold the card number %s", needle)
			}
		}
		if spgIsolated(logs, cvc) {
			t.Error("the logs hold the CVC")
		}
	})
}
