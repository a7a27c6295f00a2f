package senangpay

// senangPay's 3-D Secure get-token flow in headless Chromium: the merchant's
// own page form-POSTs the card holder to Coffer, the holder types the card
// into the hosted page, answers the OTP, and lands back on the merchant's
// Tokenization Return URL with senangPay's fields — while the merchant's
// Tokenization Callback URL is told the same, until it answers OK. SQLite
// only: gettoken_test.go covers both backends over HTTP.

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// shopPage serves the merchant's page: a form that sends the holder to
// Coffer's get-token endpoint with fields, as senangPay's docs describe.
func shopPage(t testing.TB, action string, fields url.Values) string {
	tmpl := template.Must(template.New("shop").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Kedai Abu</title></head>
<body><h1>Save your card for monthly billing</h1>
<form id="f" method="post" action="{{.Action}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<button id="go" type="submit">Save my card with senangPay</button>
</form></body></html>`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/subscribe" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		tmpl.Execute(w, map[string]any{"Action": action, "Fields": fields})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/subscribe"
}

// TestBrowserSenangPayGetToken: the whole get-token flow as a card holder
// lives it, ending on the merchant's return page with the seven fields
// whose hash the test recomputes; the token charges with pay_cc; the
// callback carries the same fields and is tried again until the receiver
// answers OK (twice "received" first), and never after.
func TestBrowserSenangPayGetToken(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(50*time.Millisecond))
	sh := harness.NewSenangPayShop(t, s, 2)
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	shop := shopPage(t, s.URL+"/senangpay/tokenization/"+sh.ID, harness.SenangPayFields(sh.Creds, "sub-1001"))
	if st := harness.Open(t, ctx, shop); st != 200 {
		t.Fatalf("shop page: %d", st)
	}
	harness.Click(t, ctx, "go")
	harness.WaitJS(t, ctx, "the hosted card page", `!!document.getElementById("pay") && !document.getElementById("pay").disabled`)
	loc := harness.PageLocation(t, ctx)
	if !strings.HasPrefix(loc, s.URL+"/pay/ps_") {
		t.Fatalf("after the shop's form the browser is at %s", loc)
	}
	sid := strings.TrimPrefix(loc, s.URL+"/pay/")
	if !strings.Contains(harness.Shown(t, ctx, "save-only"), "Nothing will be charged") {
		t.Errorf("the page does not say it only saves the card:\n%s", harness.PageText(t, ctx))
	}

	harness.FillCard(t, ctx, "4000 0025 0000 3155", "123", "Abu Bin Ali")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "the 3-D Secure challenge page", `!!document.getElementById("otp")`)
	if l := harness.PageLocation(t, ctx); !strings.HasPrefix(l, s.URL+"/3ds/") {
		t.Errorf("the challenge is at %s", l)
	}
	harness.PageNoPAN(t, ctx, harness.SenangPayChallengeCard)
	harness.EnterOTP(t, ctx, harness.SenangPayOTP)

	q := harness.AtReturn(t, ctx, sh.Return)
	if q.Get("cart") != "42" {
		t.Errorf("the return URL's own query is lost: %v", q)
	}
	q.Del("cart")
	harness.SenangPayCheckFields(t, sh.Creds, q, map[string]string{"order_id": "sub-1001", "status_id": "1", "cc_num": "XXXXXXXXXXXX3155",
		"cc_type": "vs", "msg": "Card has been successfully validated."})
	console("through the get-token flow")
	tok := q.Get("token")
	if g := harness.SenangPayAwaitSession(t, s, sh.SecretKey, sid, "succeeded"); g.Str("token") != tok {
		t.Errorf("session: %s", g.Raw)
	}
	if p := harness.SenangPayPayCC(t, s, sh.Creds, tok); p.Body["status"] != float64(1) {
		t.Errorf("pay_cc with the token: %s", p.Raw)
	}

	harness.WaitUntil(t, 15*time.Second, "the callback's third attempt", func() bool { return len(sh.Callbacks.Arrivals()) >= 3 })
	time.Sleep(time.Second)
	got := sh.Callbacks.Arrivals()
	if len(got) != 3 {
		t.Fatalf("callback arrivals: %d, want 3", len(got))
	}
	for i, a := range got {
		if a.Method != "POST" || a.ContentType != "application/x-www-form-urlencoded" || a.Form.Encode() != q.Encode() {
			t.Errorf("callback %d: %s %s %v, want the return's fields %v", i+1, a.Method, a.ContentType, a.Form, q)
		}
	}
}

// TestBrowserSenangPayGetTokenCancel: the holder cancels on the hosted page
// and lands on the merchant's return page with senangPay's failure values.
func TestBrowserSenangPayGetTokenCancel(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sh := harness.NewSenangPayShop(t, s, 0)
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	shop := shopPage(t, s.URL+"/senangpay/tokenization/"+sh.ID, harness.SenangPayFields(sh.Creds, "sub-1002"))
	harness.Open(t, ctx, shop)
	harness.Click(t, ctx, "go")
	harness.WaitJS(t, ctx, "the hosted card page", `!!document.getElementById("pay") && !document.getElementById("pay").disabled`)
	sid := strings.TrimPrefix(harness.PageLocation(t, ctx), s.URL+"/pay/")
	harness.Click(t, ctx, "cancel")
	q := harness.AtReturn(t, ctx, sh.Return)
	q.Del("cart")
	harness.SenangPayCheckFields(t, sh.Creds, q, map[string]string{"order_id": "sub-1002", "status_id": "0", "token": "0", "cc_num": "0000",
		"cc_type": "xx", "msg": "Card validation was canceled by the card holder."})
	console("canceling the get-token flow")
	harness.SenangPayAwaitSession(t, s, sh.SecretKey, sid, "canceled")
}
