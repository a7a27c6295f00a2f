package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestBrowserDashboard, in headless Chromium (SQLite; the HTTP tests cover
// both backends): a wrong password shows an error and is audited; the user
// signs in, finds a payment by its order id, refunds part of it with the
// confirmation ticked (the refund is then in the API), and redelivers a
// webhook its receiver failed, which the receiver then gets as a new
// delivery. No page shows a card number, none logs a console error, and
// none scrolls sideways at 360 px. Screenshots at 1280 and 360 px go to
// the test's folder (or $COFFER_SCREENSHOT_DIR), and to docs/img when
// $COFFER_UPDATE_DOCS_IMG is set.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(time.Hour)) // the failed delivery stays failed
	sk := s.Dev.SecretKey
	newUser(t, s, s.Dev.ID, "ops@example.com")
	rv := harness.NewReceiver(t)
	rv.Fail = 1 << 20
	rv.Register(t, s, sk, "payment.succeeded")
	var target string
	for _, order := range []string{"ord-1001", "ord-1002", "ord-1003"} {
		p := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("4242424242424242", 5000, "order_id", order)), 201, "succeeded")
		if order == "ord-1002" {
			target = p["id"].(string)
		}
	}
	event := awaitFailedDelivery(t, s, sk, target)
	s.NewToken(t, sk, "5555555555554444")

	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)
	harness.Steps(t, ctx, "a desktop window", chromedp.EmulateViewport(1280, 900))
	harness.Open(t, ctx, s.URL+"/dashboard")
	harness.WaitVisible(t, ctx, "email")
	shot(t, ctx, "signin-1280")

	// A wrong password: an error on the page, an audit record.
	harness.Type(t, ctx, "email", "ops@example.com")
	harness.Type(t, ctx, "password", "not the password")
	harness.Click(t, ctx, "signin")
	harness.WaitJS(t, ctx, "the sign-in error", `!!document.getElementById("error")`)
	if msg := harness.ElementText(t, ctx, "error"); !strings.Contains(msg, "do not match") {
		t.Errorf("sign-in error %q", msg)
	}
	if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in_failed"); n != 1 {
		t.Errorf("%d failed sign-ins audited, want 1", n)
	}

	// The right one (the e-mail is kept in the form).
	harness.Type(t, ctx, "password", userPassword)
	harness.Click(t, ctx, "signin")
	waitState(t, ctx, "overview") // where signing in lands
	harness.Steps(t, ctx, "open Payments from the menu", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/payments"]`)))
	waitState(t, ctx, "payments")
	harness.Type(t, ctx, "q", "ord-1002")
	harness.Click(t, ctx, "search")
	harness.WaitJS(t, ctx, "one payment found", `(function(){ var r = document.querySelectorAll("#payments tbody tr");
		return r.length === 1 && r[0].dataset.id === "`+target+`"; })()`)
	shot(t, ctx, "payments-1280")
	harness.PageNoPAN(t, ctx, "4242424242424242")

	// Refund 20.00 of 50.00, confirmed.
	harness.Steps(t, ctx, "open the payment", chromedp.Click(chromedp.CSS(`#payments tbody a`)))
	waitState(t, ctx, "payment")
	if !harness.JS[bool](t, ctx, `document.querySelectorAll('#timeline li[data-type="payment.succeeded"]').length === 1`) {
		t.Errorf("the timeline has no payment.succeeded:\n%s", harness.PageText(t, ctx))
	}
	harness.JS[bool](t, ctx, `(document.getElementById("amount").value = "", true)`)
	harness.Type(t, ctx, "amount", "20.00")
	harness.Click(t, ctx, "confirm")
	shot(t, ctx, "payment-1280")
	harness.Click(t, ctx, "refund")
	harness.WaitJS(t, ctx, "the refund notice", `!!document.getElementById("notice")`)
	refunds := s.Call("GET", "/v1/payments/"+target, sk, nil).Want(t, 200)
	if refunds.Num("amount_refunded") != 2000 {
		t.Fatalf("after the refund from the dashboard the API shows %s", refunds.Raw)
	}
	if n := auditCount(t, s, s.Dev.ID, "dashboard.refund"); n != 1 {
		t.Errorf("%d refunds audited, want 1", n)
	}

	// Redeliver the failed webhook once the receiver is back.
	harness.Open(t, ctx, s.URL+"/dashboard/webhooks")
	waitState(t, ctx, "webhooks")
	if !harness.JS[bool](t, ctx, `(function(){ var a = document.querySelector('[data-event="`+event+`"]');
		return !!a && a.innerText.includes("500"); })()`) {
		t.Errorf("the failed attempt (500) is not shown:\n%s", harness.PageText(t, ctx))
	}
	shot(t, ctx, "webhooks-1280")
	rv.SetFail(0)
	harness.Click(t, ctx, "redeliver-"+event)
	harness.WaitJS(t, ctx, "the redelivery notice", `!!document.getElementById("notice")`)
	harness.WaitUntil(t, 15*time.Second, "the redelivery arrives", func() bool { return len(rv.OfType("payment.succeeded")) >= 1 })
	if ds := s.Call("GET", "/v1/events/"+event, sk, nil).Want(t, 200).Body["deliveries"].([]any); len(ds) != 2 {
		t.Errorf("event %s has %d deliveries, want the failed one and the redelivery", event, len(ds))
	}

	harness.Open(t, ctx, s.URL+"/dashboard/tokens")
	waitState(t, ctx, "tokens")
	harness.PageNoPAN(t, ctx, "5555555555554444")
	shot(t, ctx, "tokens-1280")

	// At 360 px: nothing scrolls sideways.
	harness.Steps(t, ctx, "a phone-sized window", chromedp.EmulateViewport(360, 740))
	for _, pg := range []struct{ path, state, name string }{
		{"/dashboard/payments", "payments", "payments-360"},
		{"/dashboard/payments/" + target, "payment", "payment-360"},
		{"/dashboard/webhooks", "webhooks", "webhooks-360"},
		{"/dashboard/tokens", "tokens", "tokens-360"},
	} {
		harness.Open(t, ctx, s.URL+pg.path)
		waitState(t, ctx, pg.state)
		if w := harness.JS[float64](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("%s at 360 px is %v px wide", pg.path, w)
		}
		shot(t, ctx, pg.name)
	}
	console("using the dashboard")
}

// awaitFailedDelivery waits for the payment's payment.succeeded event to
// have a failed attempt and returns the event's id.
func awaitFailedDelivery(t *testing.T, s *harness.Server, sk, paymentID string) string {
	t.Helper()
	var id string
	harness.WaitUntil(t, 15*time.Second, "a failed delivery", func() bool {
		list := s.Call("GET", "/v1/events?type=payment.succeeded&limit=10", sk, nil).Want(t, 200)
		for _, e := range list.Body["data"].([]any) {
			ev := e.(map[string]any)
			if harness.Dig(ev, "data", "object", "id") != paymentID {
				continue
			}
			id = ev["id"].(string)
			full := s.Call("GET", "/v1/events/"+id, sk, nil).Want(t, 200)
			for _, d := range full.Body["deliveries"].([]any) {
				if len(d.(map[string]any)["attempts"].([]any)) > 0 {
					return true
				}
			}
		}
		return false
	})
	return id
}

// signedInBrowser opens a desktop-sized Chromium window, signs in as the
// user every browser test makes (ops@example.com) and waits for the
// overview, where signing in lands; console reports the page's errors.
func signedInBrowser(t *testing.T, s *harness.Server) (ctx context.Context, console func(doing string)) {
	t.Helper()
	ctx = harness.NewBrowser(t)
	console = harness.WatchConsole(t, ctx)
	harness.Steps(t, ctx, "a desktop window", chromedp.EmulateViewport(1280, 900))
	harness.Open(t, ctx, s.URL+"/dashboard/signin")
	harness.WaitVisible(t, ctx, "email")
	harness.Type(t, ctx, "email", "ops@example.com")
	harness.Type(t, ctx, "password", userPassword)
	harness.Click(t, ctx, "signin")
	waitState(t, ctx, "overview")
	return ctx, console
}

func waitState(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	// The whole document: a long page (the overview's charts) shows its
	// data-state before the parser has reached what follows it.
	harness.WaitJS(t, ctx, "the "+state+" page", `document.readyState === "complete" && !!document.querySelector('[data-state="`+state+`"]')`)
}

// shot saves a screenshot with harness.Screenshot and, when
// $COFFER_UPDATE_DOCS_IMG is set, copies it to docs/img for the README.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	path := harness.Screenshot(t, ctx, name)
	harness.WantPNG(t, path)
	if os.Getenv("COFFER_UPDATE_DOCS_IMG") == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "..", "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard-"+name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
