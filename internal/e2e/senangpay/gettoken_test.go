package senangpay

// senangPay's 3-D Secure get-token flow and its deprecated 2-D
// get_payment_token, spoken over HTTP to the real server on both backends.
// The browser half (a real merchant page, typing, the OTP form) is in
// browser_test.go.

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// returnHop is a merchant's get-token return hop for a session.
func returnHop(s *harness.Server, merchantID, sid string) string {
	return s.URL + "/senangpay/tokenization/" + merchantID + "/return?session_id=" + url.QueryEscape(sid)
}

// deliveries is the delivery log of the session's one event of type typ.
func deliveries(t testing.TB, s *harness.Server, key, sid, typ string) []any {
	t.Helper()
	l := s.Call("GET", "/v1/events?object="+sid+"&type="+typ, key, nil).Want(t, 200)
	data, _ := l.Body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("events %s of %s: %s", typ, sid, l.Raw)
	}
	id, _ := harness.Dig(data[0], "id").(string)
	e := s.Call("GET", "/v1/events/"+id, key, nil).Want(t, 200)
	d, _ := e.Body["deliveries"].([]any)
	return d
}

// TestSenangPayGetToken: the get-token flow end to end over HTTP — the
// request in its three encodings, the hosted page forcing 3-D Secure, the
// OTP, the return with senangPay's fields and hash, the callback retried
// until the receiver answers OK, and the token charged with pay_cc.
func TestSenangPayGetToken(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, harness.WithWebhookRetryBase(50*time.Millisecond))...)
		sh := harness.NewSenangPayShop(t, s, 2)

		// The three ways a browser may come, each opening a save-card-only
		// session that forces 3-D Secure and reports in senangPay's shape.
		var sid string
		for i, enc := range []string{"query", "form", "multipart"} {
			order := "ord-" + enc
			sid = harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, enc, harness.SenangPayFields(sh.Creds, order)))
			g := s.Call("GET", "/v1/sessions/"+sid, sh.SecretKey, nil).Want(t, 200)
			hop := s.URL + "/senangpay/tokenization/" + sh.ID + "/return"
			if g.Str("status") != "open" || harness.Dig(g.Body, "amount") != float64(0) || g.Str("currency") != "MYR" ||
				g.Str("three_d_secure") != "required" || g.Str("order_id") != order || g.Str("callback_url") != sh.Callbacks.URL ||
				g.Str("success_url") != hop || g.Str("failure_url") != hop || g.Str("cancel_url") != hop || g.Str("expired_url") != hop ||
				g.Str("metadata", "email") != "abu@example.my" || g.Str("metadata", "phone") != "+60123456789" ||
				g.Str("metadata", "name") != "Abu Bin Ali" {
				t.Errorf("session %d (%s): %s", i, enc, g.Raw)
			}
			if p := harness.ChallengePage(t, s.URL+"/pay/"+sid); p.Status != 200 {
				t.Errorf("hosted page: %d", p.Status)
			}
		}
		// A session not yet ended: the return hop sends the holder back to
		// its page.
		if p := harness.ChallengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+sid); p.Status != 303 || p.Location != s.URL+"/pay/"+sid {
			t.Errorf("return hop of an open session: %d %q", p.Status, p.Location)
		}

		// The card needs its OTP; answered, the chain of redirects ends on
		// the merchant's return URL.
		c := harness.SenangPayConfirm(t, s, sh, sid, harness.SenangPayChallengeCard)
		if c.Str("status") != "requires_action" || !strings.HasPrefix(c.Str("next_action", "url"), s.URL+"/3ds/") {
			t.Fatalf("confirm: %s", c.Raw)
		}
		otp := harness.SubmitOTP(t, c.Str("next_action", "url"), harness.SenangPayOTP)
		if otp.Status != 303 {
			t.Fatalf("OTP: %d %s", otp.Status, otp.Body)
		}
		landed := harness.SenangPayFollow(t, otp.Location)
		q := harness.SenangPayResult(t, sh, landed, map[string]string{"order_id": "ord-multipart", "status_id": "1",
			"cc_num": "XXXXXXXXXXXX3155", "cc_type": "vs", "msg": "Card has been successfully validated."})
		tok := q.Get("token")
		if !strings.HasPrefix(tok, "tok_") {
			t.Fatalf("token %q", tok)
		}
		g := harness.SenangPayAwaitSession(t, s, sh.SecretKey, sid, "succeeded")
		if g.Str("token") != tok {
			t.Errorf("session token %q, return token %q", g.Str("token"), tok)
		}
		tk := s.Call("GET", "/v1/tokens/"+tok, sh.SecretKey, nil).Want(t, 200)
		if tk.Str("status") != "active" || tk.Str("verification", "status") != "verified" ||
			tk.Str("verification", "three_d_secure") != "authenticated" || tk.Str("card", "last4") != "3155" {
			t.Errorf("token: %s", tk.Raw)
		}
		// Coming back through the hop again gives the same answer.
		if again := harness.SenangPayFollow(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+sid); again != landed {
			t.Errorf("the return hop again: %s, first %s", again, landed)
		}

		// The token is charged by senangPay's pay_cc.
		if p := harness.SenangPayPayCC(t, s, sh.Creds, tok); p.Body["status"] != float64(1) || p.Body["amount_paid"] != float64(1500) {
			t.Errorf("pay_cc with the get-token token: %s", p.Raw)
		}

		// The callback: a form POST of the same fields, tried again after
		// each answer that is not OK (two "received"), never after the OK.
		harness.WaitUntil(t, 15*time.Second, "the callback's third attempt", func() bool { return len(sh.Callbacks.Arrivals()) >= 3 })
		time.Sleep(time.Second) // retries come within ~100 ms here: any fourth would be in
		got := sh.Callbacks.Arrivals()
		if len(got) != 3 {
			t.Fatalf("callback arrivals: %d, want 3 (two not OK, then OK)", len(got))
		}
		for i, a := range got {
			if a.Method != "POST" || a.ContentType != "application/x-www-form-urlencoded" {
				t.Errorf("callback %d: %s %s", i, a.Method, a.ContentType)
			}
			harness.SenangPayCheckFields(t, sh.Creds, a.Form, map[string]string{})
			if a.Form.Encode() != q.Encode() {
				t.Errorf("callback %d %v differs from the return %v", i, a.Form, q)
			}
		}
		ds := deliveries(t, s, sh.SecretKey, sid, "session.succeeded")
		if len(ds) != 1 || harness.Dig(ds[0], "status") != "succeeded" {
			t.Fatalf("deliveries: %v", ds)
		}
		atts, _ := harness.Dig(ds[0], "attempts").([]any)
		if len(atts) != 3 {
			t.Fatalf("attempts: %v", atts)
		}
		for i, a := range atts[:2] {
			why, _ := harness.Dig(a, "error").(string)
			if why == "" || strings.Contains(why, "received") || harness.Dig(a, "status_code") != float64(200) {
				t.Errorf("attempt %d: %v (a reason, never the body)", i+1, a)
			}
		}
		if harness.Dig(atts[2], "error") != nil {
			t.Errorf("the OK attempt: %v", atts[2])
		}
		// Progress is not told: session.created's callback is skipped.
		for _, d := range deliveries(t, s, sh.SecretKey, sid, "session.created") {
			if harness.Dig(d, "status") != "skipped" {
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
	t.Parallel()
	s := harness.Start(t)
	sh := harness.NewSenangPayShop(t, s, 0)
	sid := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "form", harness.SenangPayFields(sh.Creds, "frictionless")))
	if c := harness.SenangPayConfirm(t, s, sh, sid, "4242424242424242"); c.Str("status") != "succeeded" {
		t.Fatalf("confirm: %s", c.Raw)
	}
	tok := harness.SenangPayAwaitSession(t, s, sh.SecretKey, sid, "succeeded").Str("token")
	if tk := s.Call("GET", "/v1/tokens/"+tok, sh.SecretKey, nil).Want(t, 200); tk.Str("verification", "three_d_secure") != "authenticated" {
		t.Errorf("get-token token: %s", tk.Raw)
	}
	plain := s.NewSession(t, sh.SecretKey, map[string]any{"amount": 0})
	if plain.Str("three_d_secure") != "if_required" {
		t.Errorf("a session's default three_d_secure: %s", plain.Raw)
	}
	if c := harness.SenangPayConfirm(t, s, sh, plain.Str("id"), "4242424242424242"); c.Str("status") != "succeeded" {
		t.Fatalf("confirm: %s", c.Raw)
	}
	tok2 := harness.SenangPayAwaitSession(t, s, sh.SecretKey, plain.Str("id"), "succeeded").Str("token")
	if tk := s.Call("GET", "/v1/tokens/"+tok2, sh.SecretKey, nil).Want(t, 200); tk.Str("verification", "three_d_secure") != "not_required" {
		t.Errorf("plain session token: %s", tk.Raw)
	}
	// The option is the core's, for every session: validated like a token's.
	if r := s.Call("POST", "/v1/sessions", sh.SecretKey, map[string]any{"amount": 100, "three_d_secure": "always"}); r.Status != 400 {
		t.Errorf("three_d_secure always: %d %s", r.Status, r.Raw)
	}
	s.Call("PATCH", "/v1/merchant", sh.SecretKey, map[string]any{"tokenization_requires_3ds": true}).Want(t, 200)
	if r := s.Call("POST", "/v1/sessions", sh.SecretKey, map[string]any{"amount": 0, "three_d_secure": "never"}); r.Status != 400 {
		t.Errorf("three_d_secure never against tokenization_requires_3ds: %d %s", r.Status, r.Raw)
	}
}

// TestSenangPayGetTokenFailure: a holder who cancels, a session that
// fails (five declines) and a session that expires all end at the return
// URL and the callback with senangPay's failure values.
func TestSenangPayGetTokenFailure(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, harness.WithWebhookRetryBase(50*time.Millisecond))...)
		sh := harness.NewSenangPayShop(t, s, 0)
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
		sid := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "form", harness.SenangPayFields(sh.Creds, "cancel-me")))
		res, err := harness.NoRedirect.PostForm(s.URL+"/pay/"+sid+"/cancel", nil)
		if err != nil {
			t.Fatal(err)
		}
		p := harness.ReadPage(t, res)
		if p.Status != 303 || p.Location != hop(sid) {
			t.Fatalf("cancel: %d %q", p.Status, p.Location)
		}
		q := harness.SenangPayResult(t, sh, harness.SenangPayFollow(t, p.Location), with("order_id", "cancel-me", "msg", "Card validation was canceled by the card holder."))

		// Five declined cards: the holder may retry, then the session fails.
		sid2 := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "query", harness.SenangPayFields(sh.Creds, "declined")))
		for i := 1; i <= 5; i++ {
			g := s.Call("GET", "/v1/sessions/"+sid2, sh.SecretKey, nil).Want(t, 200)
			r := s.Call("POST", "/v1/sessions/"+sid2+"/confirm", sh.SecretKey, map[string]any{"encrypted_card": harness.EncryptFor(t, g, "4000000000000002", "123")})
			if r.Status != 402 {
				t.Fatalf("decline %d: %d %s", i, r.Status, r.Raw)
			}
			if i < 5 {
				// Not final: the return hop sends the holder back to the page.
				if p := harness.ChallengePage(t, hop(sid2)); p.Status != 303 || p.Location != s.URL+"/pay/"+sid2 {
					t.Fatalf("return hop after decline %d: %d %q", i, p.Status, p.Location)
				}
			}
		}
		harness.SenangPayAwaitSession(t, s, sh.SecretKey, sid2, "failed")
		q2 := harness.SenangPayResult(t, sh, harness.SenangPayFollow(t, hop(sid2)), with("order_id", "declined"))
		if q2.Get("msg") != "Your card was declined." { // the last decline's words
			t.Errorf("failure msg %q", q2.Get("msg"))
		}

		// The callbacks tell the same, once each (the receiver says OK).
		harness.WaitUntil(t, 15*time.Second, "two callbacks", func() bool { return len(sh.Callbacks.Arrivals()) >= 2 })
		time.Sleep(300 * time.Millisecond)
		got := sh.Callbacks.Arrivals()
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
	t.Parallel()
	s := harness.Start(t, harness.WithSweepInterval(100*time.Millisecond), harness.WithWebhookRetryBase(50*time.Millisecond))
	sh := harness.NewSenangPayShop(t, s, 0)
	sid := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "form", harness.SenangPayFields(sh.Creds, "too-late")))
	// Sessions last at least a minute; the test moves the clock of the
	// database instead of waiting: expires_at is set into the past.
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE sessions SET expires_at = ? WHERE id = ?`), time.Now().Add(-time.Second).UnixMicro(), sid); err != nil {
		t.Fatal(err)
	}
	harness.WaitUntil(t, 10*time.Second, "the callback", func() bool { return len(sh.Callbacks.Arrivals()) >= 1 })
	harness.SenangPayAwaitSession(t, s, sh.SecretKey, sid, "expired")
	q := harness.SenangPayResult(t, sh, harness.SenangPayFollow(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+sid),
		map[string]string{"order_id": "too-late", "status_id": "0", "token": "0", "cc_num": "0000", "cc_type": "xx",
			"msg": "Card validation expired before it was completed."})
	if got := sh.Callbacks.Arrivals()[0].Form; got.Encode() != q.Encode() {
		t.Errorf("callback %v, return %v", got, q)
	}
}

// TestSenangPayGetTokenRefused: a bad or unknown merchant or hash is 401, a
// missing or bad field 400 naming it, a merchant without a return URL 409 —
// each a small page that echoes nothing it was sent — and the return hop
// serves only its own merchant's get-token sessions.
func TestSenangPayGetTokenRefused(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sh := harness.NewSenangPayShop(t, s, 0)
		good := func() url.Values { return harness.SenangPayFields(sh.Creds, "56") }

		// An unknown merchant is refused exactly as a wrong hash is: the
		// page does not tell whether the merchant exists.
		unknown := harness.SenangPayGetToken(t, s, "mer_nosuchmerchant0000", "form", good())
		harness.SenangPayRefused(t, unknown, 401, "hash")
		if p := harness.SenangPayGetToken(t, s, "4242424242424242", "query", good()); strings.Contains(p.Body, "4242424242424242") {
			t.Errorf("the page echoes the path's merchant id:\n%s", p.Body)
		} else {
			harness.SenangPayRefused(t, p, 401, "hash")
		}
		bad := good()
		bad.Set("hash", harness.SenangPaySign(sh.HMACSecret, sh.ID, "57"))
		wrong := harness.SenangPayGetToken(t, s, sh.ID, "form", bad)
		harness.SenangPayRefused(t, wrong, 401, "hash")
		if unknown.Body != wrong.Body {
			t.Errorf("an unknown merchant's page differs from a wrong hash's:\n%s\n%s", unknown.Body, wrong.Body)
		}
		noOrder := good()
		noOrder.Del("order_id")
		harness.SenangPayRefused(t, harness.SenangPayGetToken(t, s, "mer_nosuchmerchant0000", "form", noOrder), 400, "order_id") // as for a real one
		other := s.NewMerchant("Kedai Lain")
		harness.SenangPayRefused(t, harness.SenangPayGetToken(t, s, other.ID, "form", good()), 401, "hash") // signed for another merchant

		for _, k := range []string{"order_id", "name", "email", "phone", "hash"} {
			for _, enc := range []string{"query", "form", "multipart"} {
				f := good()
				f.Del(k)
				if k == "order_id" {
					f.Set("hash", harness.SenangPaySign(sh.HMACSecret, sh.ID, ""))
				}
				harness.SenangPayRefused(t, harness.SenangPayGetToken(t, s, sh.ID, enc, f), 400, k)
			}
		}
		long := good()
		long.Set("name", strings.Repeat("A", 101))
		harness.SenangPayRefused(t, harness.SenangPayGetToken(t, s, sh.ID, "form", long), 400, "name")
		twice := good()
		twice.Add("order_id", "57")
		harness.SenangPayRefused(t, harness.SenangPayGetToken(t, s, sh.ID, "query", twice), 400, "")
		// A card number typed into the name is refused, and not echoed.
		pan := good()
		pan.Set("name", "4000 0025 0000 3155")
		p := harness.SenangPayGetToken(t, s, sh.ID, "form", pan)
		harness.SenangPayRefused(t, p, 400, "name")
		if regexp.MustCompile(`4000\D?0025\D?0000\D?3155`).MatchString(p.Body) {
			t.Errorf("the page echoes the card number:\n%s", p.Body)
		}
		if strings.Contains(p.Body, "Abu Bin Ali") || strings.Contains(p.Body, "abu@example.my") {
			t.Errorf("the page echoes request fields:\n%s", p.Body)
		}

		// Without a Tokenization Return URL there is nowhere to go.
		bare := s.NewMerchant("Kedai Baru")
		harness.SenangPayRefused(t, harness.SenangPayGetToken(t, s, bare.ID, "form", harness.SenangPayFields(bare, "1")), 409, "")

		// The hop: only this flow's sessions, only under their merchant.
		sid := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "form", good()))
		harness.SenangPayRefused(t, harness.ChallengePage(t, s.URL+"/senangpay/tokenization/"+bare.ID+"/return?session_id="+sid), 404, "")
		plain := s.NewSession(t, sh.SecretKey, map[string]any{"amount": 0})
		s.Call("POST", "/v1/sessions/"+plain.Str("id")+"/cancel", sh.SecretKey, nil).Want(t, 200)
		harness.SenangPayRefused(t, harness.ChallengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id="+plain.Str("id")), 404, "")
		harness.SenangPayRefused(t, harness.ChallengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return"), 400, "session_id")
		harness.SenangPayRefused(t, harness.ChallengePage(t, s.URL+"/senangpay/tokenization/"+sh.ID+"/return?session_id=ps_nosuch"), 404, "")
		if sh.Return.Last() != nil {
			t.Errorf("a refused request reached the merchant: %v", sh.Return.Last())
		}
	})
}

// TestSenangPayHopRefusesForeignSessions: the return hop treats as
// "this flow's session" any session of the merchant whose success_url is the
// hop (gettoken.go TokenizationReturn), and signs its outcome with the
// merchant's secret. But a session's success_url is chosen by whoever
// creates it: a point-of-sale device key through SensePass's
// transactions/init (returnURL), or any native API client. Such a session
// saves a card without the 3-D Secure the get-token flow forces, for an
// order_id the shop never signed (or none), and the hop hands the shop's
// Tokenization Return URL a senangPay result with status_id 1 and a valid
// hash. The code's own comment says another session's outcome "must not be
// dressed up as senangPay's (nor signed with the merchant's secret)". The
// hop must serve only sessions the get-token endpoint made (e.g. recognised
// by CallbackFormat "senangpay", which only this dialect sets), 404 for
// any other.
func TestSenangPayHopRefusesForeignSessions(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sh := harness.NewSenangPayShop(t, s, 0)
	hop := s.URL + "/senangpay/tokenization/" + sh.ID + "/return"
	check := func(who, sid string) {
		t.Helper()
		// The holder types a card its issuer lets through without a
		// challenge: nothing asks for 3-D Secure.
		if c := harness.SenangPayConfirm(t, s, sh, sid, "4242424242424242"); c.Str("status") != "succeeded" {
			t.Fatalf("%s: confirm: %s", who, c.Raw)
		}
		tok := s.Call("GET", "/v1/sessions/"+sid, sh.SecretKey, nil).Want(t, 200).Str("token")
		tds := s.Call("GET", "/v1/tokens/"+tok, sh.SecretKey, nil).Want(t, 200).Str("verification", "three_d_secure")
		p := harness.ChallengePage(t, returnHop(s, sh.ID, sid))
		if p.Status != http.StatusNotFound {
			u, _ := url.Parse(p.Location)
			t.Errorf("%s: the hop dressed the session as senangPay's get-token result (token 3-D Secure %q): %d → fields %v; want 404",
				who, tds, p.Status, u.Query())
		}
	}

	// A native session: no hash of the shop over "ord-victim", no 3-D Secure.
	n := s.Call("POST", "/v1/sessions", sh.SecretKey, map[string]any{"amount": 0, "order_id": "ord-victim", "three_d_secure": "never",
		"success_url": hop, "failure_url": hop, "cancel_url": hop, "expired_url": hop}).Want(t, 201)
	check("native session", n.Str("id"))

	// A SensePass device key (a till's credential, not the secret key).
	dk := s.Call("POST", "/v1/device_keys", sh.SecretKey, map[string]any{"name": "till 1"}).Want(t, 201).Str("key")
	r := s.Call("POST", "/sensepass/api/transactions/init", "", map[string]any{"deviceId": dk, "methodType": "Tokenize", "returnURL": hop})
	sid := r.Str("TransactionNumber")
	if r.Status != 201 || s.Call("GET", "/v1/sessions/"+sid, sh.SecretKey, nil).Str("success_url") != hop {
		t.Logf("SensePass init (being changed by another helper) did not make a session returning to the hop: %d %s", r.Status, r.Raw)
		return
	}
	check("SensePass device-key session", sid)
}

// TestSenangPayGetTokenVerifiesRM1: the card is checked with an
// authorization of RM1 (100 MYR minor units) made after 3-D Secure and
// voided at once; nothing is captured.
func TestSenangPayGetTokenVerifiesRM1(t *testing.T) {
	t.Parallel()
	proc := harness.NewAcquirer()
	s := harness.Start(t, harness.WithProcessor(proc))
	sh := harness.NewSenangPayShop(t, s, 0)
	before := proc.Stats()
	sid := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "form", harness.SenangPayFields(sh.Creds, "rm1")))
	c := harness.SenangPayConfirm(t, s, sh, sid, harness.SenangPayChallengeCard)
	otp := harness.SubmitOTP(t, c.Str("next_action", "url"), harness.SenangPayOTP)
	harness.SenangPayResult(t, sh, harness.SenangPayFollow(t, otp.Location), map[string]string{"status_id": "1"})
	after := proc.Stats()
	got := proc.Verifications()
	if len(got) != 1 || got[0] != (harness.Verification{Amount: 100, Currency: "MYR", Authenticated: true}) {
		t.Errorf("verifications %+v, want one of 100 MYR after 3-D Secure", got)
	}
	if after.Verifications-before.Verifications != 1 || after.Voids-before.Voids != 1 || after.Captures != before.Captures {
		t.Errorf("acquirer: %+v → %+v, want one verification, voided, nothing captured", before, after)
	}
}

// isolated reports whether needle occurs in data with no digit on
// either side and no dot before (a CVC inside a longer number, or the
// fraction of a log line's timestamp, is not that CVC).
func isolated(data, needle string) bool {
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
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Lama")
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
		var answers []harness.Resp
		call := func(user, enc string, f map[string]string) harness.Resp {
			r := harness.SenangPayPost(t, s, "get_payment_token", user, c.HMACSecret, enc, f)
			answers = append(answers, r)
			return r
		}

		// Off by default: 403, whatever the body.
		harness.SenangPayFail(t, call(c.ID, "form", fields()), 403)
		harness.SenangPayFail(t, call("", "form", fields()), 401)
		harness.SenangPayFail(t, call("mer_nosuchmerchant0000", "form", fields()), 401)

		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		stats := s.Sim.Stats()
		var tok string
		for _, enc := range []string{"form", "multipart", "json"} {
			r := call(c.ID, enc, fields()).Want(t, 200)
			if r.Body["status"] != float64(1) || !strings.HasPrefix(r.Str("token"), "tok_") || r.Str("msg") == "" || len(r.Body) != 3 {
				t.Fatalf("get_payment_token %s: %s", enc, r.Raw)
			}
			tok = r.Str("token")
		}
		if d := s.Sim.Stats(); d.Verifications-stats.Verifications != 3 || d.Voids-stats.Voids != 3 || d.Captures != stats.Captures {
			t.Errorf("acquirer: %+v → %+v, want three voided verifications", stats, d)
		}
		tk := s.Call("GET", "/v1/tokens/"+tok, c.SecretKey, nil).Want(t, 200)
		if tk.Str("status") != "active" || tk.Str("verification", "status") != "verified" || tk.Str("card", "last4") != "0005" ||
			tk.Str("card", "holder_name") != "Abu Bin Ali" || tk.Str("metadata", "email") != "abu@example.my" {
			t.Errorf("token: %s", tk.Raw)
		}
		if p := harness.SenangPayPayCC(t, s, c, tok); p.Body["status"] != float64(1) {
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
			harness.SenangPayFail(t, r, 400)
			if !regexp.MustCompile(`cc_number|cc_cvv|cc_exp|name`).MatchString(r.Str("msg")) {
				t.Errorf("the message names no field: %s", r.Raw)
			}
		}
		// A decline is an answer: 200 with status 0.
		if r := call(c.ID, "form", fields("cc_number", "4000000000000002", "cc_cvv", "123")).Want(t, 200); r.Body["status"] != float64(0) || r.Str("token") != "0" {
			t.Errorf("declined card: %s", r.Raw)
		}
		// A card whose issuer wants its holder cannot be saved without one;
		// nothing is left behind.
		before := s.Call("GET", "/v1/tokens?limit=100", c.SecretKey, nil).Want(t, 200)
		if r := call(c.ID, "form", fields("cc_number", harness.SenangPayChallengeCard, "cc_cvv", "123")).Want(t, 200); r.Body["status"] != float64(0) || r.Str("token") != "0" ||
			!strings.Contains(r.Str("msg"), "3-D Secure") {
			t.Errorf("challenge card: %s", r.Raw)
		}
		after := s.Call("GET", "/v1/tokens?limit=100", c.SecretKey, nil).Want(t, 200)
		if n, m := len(before.Body["data"].([]any)), len(after.Body["data"].([]any)); n != m {
			t.Errorf("a challenge card left a live token: %d → %d tokens", n, m)
		}
		if n := s.ChallengeSecrets(t); n != 0 {
			t.Errorf("%d challenges still hold a CVC", n)
		}

		// A merchant that requires 3-D Secure for tokens: this 2-D flow is
		// refused rather than let around it.
		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"tokenization_requires_3ds": true}).Want(t, 200)
		harness.SenangPayFail(t, call(c.ID, "form", fields()), 403)

		for _, r := range answers {
			for _, needle := range []string{pan, "3782 822463 10005", "378282246310006", harness.SenangPayChallengeCard, "4000000000000002"} {
				if strings.Contains(string(r.Raw), needle) {
					t.Errorf("an answer holds a card number: %s", r.Raw)
				}
			}
			if isolated(string(r.Raw), cvc) {
				t.Errorf("an answer holds the CVC: %s", r.Raw)
			}
		}
		logs := s.Logs.String()
		for _, needle := range []string{pan, "378282246310006", harness.SenangPayChallengeCard} {
			if strings.Contains(logs, needle) {
				t.Errorf("the logs hold the card number %s", needle)
			}
		}
		if isolated(logs, cvc) {
			t.Error("the logs hold the CVC")
		}
	})
}

// TestSenangPayGetTokenChallengeFailuresEnd: a holder whose card fails
// five times ends the session: the last OTP's redirects land on the
// Tokenization Return URL with the failure values (token 0, cc_num 0000,
// cc_type xx, status_id 0), the callback carries exactly the same fields,
// once, and no challenge keeps a CVC. Each failure before the last sends
// the holder back to the card page, never to the merchant. The failures
// are wrong codes on two cards and one card declined after its code: a
// card has five wrong codes across all its challenges (not three per
// challenge), so each card's second failed challenge ends after two.
func TestSenangPayGetTokenChallengeFailuresEnd(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(50*time.Millisecond))
	sh := harness.NewSenangPayShop(t, s, 0)
	sid := harness.SenangPayStarted(t, s, harness.SenangPayGetToken(t, s, sh.ID, "form", harness.SenangPayFields(sh.Creds, "otp-fail")))
	const declinedAfter = "4000008400001629" // challenged, then declined
	wrong3, wrong2 := []string{"000000", "000000", "000000"}, []string{"000000", "000000"}
	plan := []struct {
		card string
		otps []string
	}{{harness.SenangPayChallengeCard, wrong3}, {declinedAfter, []string{"123456"}}, {declinedAfter, wrong3}, {harness.SenangPayChallengeCard, wrong2}, {declinedAfter, wrong2}}
	var landed string
	for i := 1; i <= 5; i++ {
		c := harness.SenangPayConfirm(t, s, sh, sid, plan[i-1].card)
		u := c.Str("next_action", "url")
		if c.Str("status") != "requires_action" || u == "" {
			t.Fatalf("attempt %d: %s", i, c.Raw)
		}
		var last harness.Page
		for _, otp := range plan[i-1].otps {
			last = harness.SubmitOTP(t, u, otp)
		}
		if last.Status != http.StatusSeeOther {
			t.Fatalf("attempt %d: last OTP %d %s", i, last.Status, last.Body)
		}
		if i < 5 {
			if p := harness.ChallengePage(t, last.Location); p.Status != 303 || p.Location != s.URL+"/pay/"+sid {
				t.Fatalf("after failed OTP %d: %d %q, want back to the page", i, p.Status, p.Location)
			}
			if sh.Return.Last() != nil {
				t.Fatalf("a failure before the last reached the merchant: %v", sh.Return.Last())
			}
			continue
		}
		landed = harness.SenangPayFollow(t, last.Location)
	}
	q := harness.SenangPayResult(t, sh, landed, map[string]string{"order_id": "otp-fail", "status_id": "0", "token": "0", "cc_num": "0000", "cc_type": "xx"})
	harness.WaitUntil(t, 10*time.Second, "the callback", func() bool { return len(sh.Callbacks.Arrivals()) >= 1 })
	time.Sleep(300 * time.Millisecond)
	got := sh.Callbacks.Arrivals()
	if len(got) != 1 || got[0].Form.Encode() != q.Encode() {
		t.Errorf("callbacks %v, want exactly one with the return's fields %v", got, q)
	}
	if n := s.ChallengeSecrets(t); n != 0 {
		t.Errorf("%d challenges still hold a CVC", n)
	}
}
