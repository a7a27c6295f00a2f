package dashboard

import (
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSavedCardsFromDashboard: the saved cards page shows a card masked
// (BIN and last four, never the number); disabling, enabling and deleting
// it (deleting only once confirmed) are what the API then shows, each
// audited; another merchant's card cannot be touched.
func TestSavedCardsFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		tok := s.NewToken(t, sk, "4242424242424242")
		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)
		list := b.do("GET", "/dashboard/tokens", nil)
		if list.status != 200 || !strings.Contains(list.body, tok) || !strings.Contains(list.body, "424242…4242") ||
			strings.Contains(list.body, "4242424242424242") {
			t.Fatalf("saved cards page %d (masked card %s wanted, never the number):\n%s", list.status, tok, list.body)
		}
		csrf := list.csrf(t)
		status := func() string { return s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200).Str("status") }
		act := func(action string, form url.Values) page {
			form.Set("csrf", csrf)
			return b.do("POST", "/dashboard/tokens/"+tok+"/"+action, form)
		}
		if p := act("disable", url.Values{}); p.status != 303 || status() != "disabled" {
			t.Fatalf("disable: %d, token %s", p.status, status())
		}
		if p := act("enable", url.Values{}); p.status != 303 || status() != "active" {
			t.Fatalf("enable: %d, token %s", p.status, status())
		}
		if p := act("delete", url.Values{}); p.status != 400 || status() != "active" {
			t.Fatalf("delete without the confirmation: %d, token %s", p.status, status())
		}
		if p := act("delete", url.Values{"confirm": {"yes"}}); p.status != 303 {
			t.Fatalf("delete: %d\n%s", p.status, p.body)
		}
		if r := s.Call("GET", "/v1/tokens/"+tok, sk, nil); r.Status == 200 && r.Str("status") != "deleted" {
			t.Errorf("after deleting from the dashboard the token is %s", r.Raw)
		}
		for _, a := range []string{"dashboard.token_disable", "dashboard.token_enable", "dashboard.token_delete"} {
			if n := auditCount(t, s, s.Dev.ID, a); n != 1 {
				t.Errorf("%d %s audit records, want 1", n, a)
			}
		}

		other := s.NewMerchant("Other")
		theirs := s.NewToken(t, other.SecretKey, "5555555555554444")
		if p := b.do("POST", "/dashboard/tokens/"+theirs+"/disable", url.Values{"csrf": {csrf}}); p.status != 404 {
			t.Errorf("disabling another merchant's card: %d, want 404", p.status)
		}
		if st := s.Call("GET", "/v1/tokens/"+theirs, other.SecretKey, nil).Want(t, 200).Str("status"); st != "active" {
			t.Errorf("another merchant's card is %s", st)
		}
	})
}
