package dashboard

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestCustomersFromDashboard: the customers page lists the merchant's
// customers newest first and finds one by e-mail (any case), reference or
// id; a customer's page shows its details and its card masked (BIN and last
// four, never the number), whose actions (the saved cards page's own
// routes) return to it, never to a page off the dashboard; deleting the
// customer takes the confirmation, erases it and its card in the API, and
// is audited. Another merchant's customer is not found.
func TestCustomersFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		siti := s.Call("POST", "/v1/customers", sk, map[string]any{"email": "siti@example.com", "name": "Siti Aminah",
			"reference": "ref-siti"}).Want(t, 201).Str("id")
		ali := s.Call("POST", "/v1/customers", sk, map[string]any{"email": "ali@example.com", "name": "Ali"}).Want(t, 201).Str("id")
		tok := s.NewToken(t, sk, "4242424242424242", "customer", siti)
		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)

		list := b.do("GET", "/dashboard/customers", nil)
		ia, is := strings.Index(list.body, ali), strings.Index(list.body, siti)
		if list.status != 200 || ia < 0 || is < 0 || ia > is || !strings.Contains(list.body, "siti@example.com") {
			t.Fatalf("customers page %d: want %s then %s (newest first):\n%s", list.status, ali, siti, list.body)
		}
		for _, q := range []string{"SITI@example.com", "ref-siti"} {
			p := b.do("GET", "/dashboard/customers?"+url.Values{"q": {q}}.Encode(), nil)
			if p.status != 200 || !strings.Contains(p.body, siti) || strings.Contains(p.body, ali) {
				t.Errorf("search %q: %d, want only %s:\n%s", q, p.status, siti, p.body)
			}
		}
		if p := b.do("GET", "/dashboard/customers?q="+siti, nil); p.status != 303 || p.header.Get("Location") != "/dashboard/customers/"+siti {
			t.Errorf("search by id: %d to %q", p.status, p.header.Get("Location"))
		}

		detail := b.do("GET", "/dashboard/customers/"+siti, nil)
		if detail.status != 200 || !strings.Contains(detail.body, tok) || !strings.Contains(detail.body, "424242…4242") ||
			!strings.Contains(detail.body, "Siti Aminah") || strings.Contains(detail.body, "4242424242424242") {
			t.Fatalf("customer page %d (details and masked card %s wanted, never the number):\n%s", detail.status, tok, detail.body)
		}
		csrf := detail.csrf(t)
		status := func() string { return s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200).Str("status") }
		back := "/dashboard/customers/" + siti
		p := b.do("POST", "/dashboard/tokens/"+tok+"/disable", url.Values{"csrf": {csrf}, "back": {back}})
		if loc := p.header.Get("Location"); p.status != 303 || !strings.HasPrefix(loc, back+"?") || status() != "disabled" {
			t.Fatalf("disable from the customer's page: %d to %q, token %s", p.status, loc, status())
		}
		if again := b.do("GET", p.header.Get("Location"), nil); !strings.Contains(again.body, `id="notice"`) || !strings.Contains(again.body, "enable-"+tok) {
			t.Errorf("back on the customer's page after disabling, no notice or no enable button:\n%s", again.body)
		}
		for _, bad := range []string{"https://evil.example/dashboard/x", "//evil.example/x", "/dashboard/../v1/tokens", "/elsewhere"} {
			p := b.do("POST", "/dashboard/tokens/"+tok+"/enable", url.Values{"csrf": {csrf}, "back": {bad}})
			if loc := p.header.Get("Location"); p.status != 303 || !strings.HasPrefix(loc, "/dashboard/tokens?") {
				t.Errorf("back=%q: %d to %q, want the saved cards page", bad, p.status, loc)
			}
		}

		if p := b.do("POST", "/dashboard/customers/"+siti+"/delete", url.Values{"csrf": {csrf}}); p.status != 400 {
			t.Errorf("delete without the confirmation: %d", p.status)
		}
		s.Call("GET", "/v1/customers/"+siti, sk, nil).Want(t, 200)
		p = b.do("POST", "/dashboard/customers/"+siti+"/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if p.status != 303 {
			t.Fatalf("delete: %d\n%s", p.status, p.body)
		}
		s.Call("GET", "/v1/customers/"+siti, sk, nil).Want(t, 404)
		if r := s.Call("GET", "/v1/tokens/"+tok, sk, nil); r.Status == 200 && r.Str("status") != "deleted" {
			t.Errorf("the deleted customer's card is %s", r.Raw)
		}
		if after := b.do("GET", p.header.Get("Location"), nil); !strings.Contains(after.body, `id="notice"`) || strings.Contains(after.body, `data-id="`+siti+`"`) {
			t.Errorf("after the delete the list still shows %s or no notice:\n%s", siti, after.body)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.customer_delete"); n != 1 {
			t.Errorf("%d customer deletions audited, want 1", n)
		}

		other := s.NewMerchant("Other")
		theirs := s.Call("POST", "/v1/customers", other.SecretKey, map[string]any{"email": "x@example.com"}).Want(t, 201).Str("id")
		if p := b.do("GET", "/dashboard/customers/"+theirs, nil); p.status != 404 {
			t.Errorf("another merchant's customer: %d, want 404", p.status)
		}
		if p := b.do("POST", "/dashboard/customers/"+theirs+"/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); p.status != 404 {
			t.Errorf("deleting another merchant's customer: %d, want 404", p.status)
		}
	})
}

// TestBrowserCustomersSettings, in headless Chromium (SQLite; the HTTP
// tests cover both backends): the customers list, a customer's page, the
// webhook endpoints page and the settings form show no card number and no
// signing secret, log no console error and do not scroll sideways at
// 360 px; a relay destination the API refuses, typed into the form, shows
// the error on the page. Screenshots of the customers and settings pages at
// 1280 and 360 px (shot: docs/img with $COFFER_UPDATE_DOCS_IMG), of the
// others for looking at only.
func TestBrowserCustomersSettings(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	newUser(t, s, s.Dev.ID, "ops@example.com")
	var siti string
	for _, c := range []map[string]any{
		{"email": "siti@example.com", "name": "Siti Aminah", "reference": "crm-1042", "phone": "+60123456789"},
		{"email": "ali.rahman@example.com", "name": "Ali Rahman", "reference": "crm-1043"},
		{"email": "mei.ling@example.com", "name": "Tan Mei Ling"},
	} {
		id := s.Call("POST", "/v1/customers", sk, c).Want(t, 201).Str("id")
		if siti == "" {
			siti = id
		}
	}
	s.NewToken(t, sk, "4242424242424242", "customer", siti)
	s.NewToken(t, sk, "5555555555554444", "customer", siti)
	rv := harness.NewReceiver(t)
	rv.Register(t, s, sk, "payment.*", "token.created")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{"https://shop.example"},
		"relay_destinations": []string{"https://api.partner.example"}, "tokenization_return_url": "https://shop.example/cards/saved"}).Want(t, 200)

	ctx, console := signedInBrowser(t, s)

	harness.Open(t, ctx, s.URL+"/dashboard/customers")
	waitState(t, ctx, "customers")
	shot(t, ctx, "customers-1280")
	harness.Steps(t, ctx, "open the customer", chromedp.Click(chromedp.CSS(`#customers a[href$="`+siti+`"]`)))
	waitState(t, ctx, "customer")
	harness.PageNoPAN(t, ctx, "4242424242424242")
	harness.PageNoPAN(t, ctx, "5555555555554444")
	look(t, ctx, "customer-1280")
	harness.Open(t, ctx, s.URL+"/dashboard/webhooks/endpoints")
	waitState(t, ctx, "endpoints")
	if harness.JS[bool](t, ctx, `document.body.innerText.includes("whsec_")`) {
		t.Error("the endpoints page shows a signing secret")
	}
	look(t, ctx, "endpoints-1280")

	harness.Open(t, ctx, s.URL+"/dashboard/settings")
	waitState(t, ctx, "settings")
	shot(t, ctx, "settings-1280")
	harness.JS[bool](t, ctx, `(document.getElementById("relay_destinations").value += "\nhttp://api.partner.example", true)`)
	harness.Click(t, ctx, "save")
	harness.WaitJS(t, ctx, "the settings error", `!!document.getElementById("error")`)
	if msg := harness.ElementText(t, ctx, "error"); !strings.Contains(msg, "relay_destinations[1] must be https") {
		t.Errorf("settings error %q does not name relay_destinations[1] and its rule", msg)
	}
	look(t, ctx, "settings-error-1280")

	harness.Steps(t, ctx, "a phone-sized window", chromedp.EmulateViewport(360, 740))
	for _, pg := range []struct {
		path, state, name string
		docs              bool
	}{
		{"/dashboard/customers", "customers", "customers-360", true},
		{"/dashboard/customers/" + siti, "customer", "customer-360", false},
		{"/dashboard/webhooks/endpoints", "endpoints", "endpoints-360", false},
		{"/dashboard/settings", "settings", "settings-360", true},
	} {
		harness.Open(t, ctx, s.URL+pg.path)
		waitState(t, ctx, pg.state)
		if w := harness.JS[float64](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("%s at 360 px is %v px wide", pg.path, w)
		}
		if pg.docs {
			shot(t, ctx, pg.name)
		} else {
			look(t, ctx, pg.name)
		}
	}
	console("using the customers, endpoints and settings pages")
}

// look saves a screenshot to look at, never to docs/img.
func look(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	harness.WantPNG(t, harness.Screenshot(t, ctx, name))
}
