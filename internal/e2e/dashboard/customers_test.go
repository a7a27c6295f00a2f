package dashboard

import (
	"net/url"
	"strings"
	"testing"

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
