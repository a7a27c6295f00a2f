package dashboard

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

var secretField = regexp.MustCompile(`id="secret" readonly value="(whsec_[^"]+)"`)

// secretOf is the signing secret an answer page shows.
func secretOf(t *testing.T, p page) string {
	t.Helper()
	m := secretField.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("no signing secret on the answer (%d):\n%s", p.status, p.body)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the secret's page has Cache-Control %q", cc)
	}
	return html.UnescapeString(m[1])
}

// TestWebhookEndpointsFromDashboard: an endpoint added from the dashboard
// (a loopback receiver) shows its signing secret once, on the answer, never
// on the list; the receiver gets events signed with it; a rotated secret is
// shown once and signs the next event; a refused URL re-renders the form
// naming the field; deleting takes the confirmation and the API then has no
// such endpoint. Each action is audited.
func TestWebhookEndpointsFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		rv := harness.NewReceiver(t)
		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)
		form := b.do("GET", "/dashboard/webhooks/endpoints", nil)
		if form.status != 200 || !strings.Contains(form.body, `id="empty"`) {
			t.Fatalf("endpoints page %d:\n%s", form.status, form.body)
		}
		csrf := form.csrf(t)

		bad := b.do("POST", "/dashboard/webhooks/endpoints", url.Values{"csrf": {csrf}, "url": {"ftp://127.0.0.1/hooks"}, "events": {"token.created"}})
		if bad.status != 400 || !strings.Contains(bad.body, `id="error"`) || !strings.Contains(bad.body, "url must") ||
			!strings.Contains(bad.body, `value="ftp://127.0.0.1/hooks"`) {
			t.Errorf("a refused URL: %d, want 400 naming url with the form kept:\n%s", bad.status, bad.body)
		}

		created := b.do("POST", "/dashboard/webhooks/endpoints", url.Values{"csrf": {csrf}, "url": {rv.URL}, "events": {"token.created"},
			"description": {"orders"}})
		secret := secretOf(t, created)
		eps := s.Call("GET", "/v1/webhook_endpoints", sk, nil).Want(t, 200).Body["data"].([]any)
		if len(eps) != 1 || harness.Dig(eps[0], "url") != rv.URL || fmt.Sprint(harness.Dig(eps[0], "events")) != "[token.created]" {
			t.Fatalf("after adding from the dashboard the API lists %v", eps)
		}
		ep := harness.Dig(eps[0], "id").(string)
		list := b.do("GET", "/dashboard/webhooks/endpoints", nil)
		if !strings.Contains(list.body, ep) || !strings.Contains(list.body, rv.URL) || strings.Contains(list.body, "whsec_") {
			t.Errorf("the list shows the endpoint %s, never its secret:\n%s", ep, list.body)
		}
		if wh := b.do("GET", "/dashboard/webhooks", nil); !strings.Contains(wh.body, "/dashboard/webhooks/endpoints#ep-"+ep) {
			t.Errorf("the webhooks page does not link the endpoint:\n%s", wh.body)
		}

		rv.SetSecret(secret)
		s.NewToken(t, sk, "4242424242424242")
		harness.WaitUntil(t, 15*time.Second, "a signed token.created", func() bool { return len(rv.OfType("token.created")) >= 1 })

		rotated := b.do("POST", "/dashboard/webhooks/endpoints/"+ep+"/rotate", url.Values{"csrf": {csrf}})
		next := secretOf(t, rotated)
		if next == secret {
			t.Fatal("the rotated secret is the old one")
		}
		rv.SetSecret(next) // only the new secret verifies from now on
		s.NewToken(t, sk, "5555555555554444")
		harness.WaitUntil(t, 15*time.Second, "a token.created signed with the new secret", func() bool { return len(rv.OfType("token.created")) >= 2 })
		if _, badSig, _ := rv.Counts(); badSig != 0 {
			t.Errorf("%d deliveries did not verify", badSig)
		}
		if l := b.do("GET", "/dashboard/webhooks/endpoints", nil); strings.Contains(l.body, "whsec_") || !strings.Contains(l.body, "previous secret also signs") {
			t.Errorf("after the rotation the list shows the secret or not the grace:\n%s", l.body)
		}

		if p := b.do("POST", "/dashboard/webhooks/endpoints/"+ep+"/delete", url.Values{"csrf": {csrf}}); p.status != 400 {
			t.Errorf("delete without the confirmation: %d", p.status)
		}
		s.Call("GET", "/v1/webhook_endpoints/"+ep, sk, nil).Want(t, 200)
		p := b.do("POST", "/dashboard/webhooks/endpoints/"+ep+"/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if p.status != 303 {
			t.Fatalf("delete: %d\n%s", p.status, p.body)
		}
		s.Call("GET", "/v1/webhook_endpoints/"+ep, sk, nil).Want(t, 404)
		if after := b.do("GET", p.header.Get("Location"), nil); !strings.Contains(after.body, `id="notice"`) || strings.Contains(after.body, `data-id="`+ep+`"`) {
			t.Errorf("after the delete:\n%s", after.body)
		}
		for _, a := range []string{"dashboard.webhook_endpoint_create", "dashboard.webhook_secret_rotate", "dashboard.webhook_endpoint_delete"} {
			if n := auditCount(t, s, s.Dev.ID, a); n != 1 {
				t.Errorf("%d %s audit records, want 1", n, a)
			}
		}
		var leaked int
		s.OpenDB(t).QueryRow(s.Rebind(`SELECT COUNT(*) FROM audit_log WHERE purpose LIKE ?`), "%whsec_%").Scan(&leaked)
		if leaked != 0 {
			t.Errorf("%d audit records hold a signing secret", leaked)
		}
	})
}

// settingsForm is the settings page's form with every field as the page
// would send it, changed by kv.
func settingsForm(csrf string, kv ...string) url.Values {
	f := url.Values{"csrf": {csrf}, "default_currency": {"MYR"}, "tokenization_return_url": {""}, "tokenization_callback_url": {""},
		"frame_ancestors": {""}, "relay_destinations": {""}, "senangpay_legacy_auth_cidrs": {""},
		"card_testing.suffix_cards_per_hour": {""}, "card_testing.unverified_per_minute": {""}, "card_testing.decline_min_attempts": {""},
		"card_testing.decline_ratio": {""}, "card_testing.cvc_failures_per_hour": {""}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// TestSettingsFromDashboard: the settings form saves through PATCH
// /v1/merchant's rules — relay destinations and frame_ancestors typed one a
// line, a box ticked, a card-testing limit — and GET /v1/merchant then shows
// them; a relay destination the API refuses (plain http off this machine,
// never dialled) or a number that is not one answers 400 with the field
// named and marked, the form as typed, and nothing saved. Saving is audited.
func TestSettingsFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s, b := signedInClient(t, opts...)
		sk := s.Dev.SecretKey
		pg := b.do("GET", "/dashboard/settings", nil)
		if pg.status != 200 || !strings.Contains(pg.body, "Relay destinations") || !strings.Contains(pg.body, `name="relay_destinations"`) {
			t.Fatalf("settings page %d:\n%s", pg.status, pg.body)
		}
		csrf := pg.csrf(t)

		p := b.do("POST", "/dashboard/settings", settingsForm(csrf,
			"frame_ancestors", "https://shop.example\r\n\r\n'self'\r\n",
			"relay_destinations", "https://api.partner.example\nhttps://vault.partner.example:8443",
			"require_cvc_for_saved_cards", "yes", "tokenization_return_url", "https://shop.example/saved",
			"card_testing.decline_ratio", "0.5"))
		if p.status != 303 || p.header.Get("Location") != "/dashboard/settings?done=saved" {
			t.Fatalf("saving: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
		m := s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
		for _, c := range []struct{ path, want string }{
			{"frame_ancestors", "[https://shop.example 'self']"},
			{"relay_destinations", "[https://api.partner.example https://vault.partner.example:8443]"},
			{"require_cvc_for_saved_cards", "true"}, {"tokenization_requires_3ds", "false"},
			{"tokenization_return_url", "https://shop.example/saved"},
		} {
			if got := fmt.Sprint(harness.Dig(m.Body, c.path)); got != c.want {
				t.Errorf("GET /v1/merchant %s = %s, want %s", c.path, got, c.want)
			}
		}
		if got := fmt.Sprint(harness.Dig(m.Body, "card_testing", "decline_ratio")); got != "0.5" {
			t.Errorf("card_testing.decline_ratio = %s (%s)", got, m.Raw)
		}
		saved := b.do("GET", "/dashboard/settings?done=saved", nil)
		if !strings.Contains(saved.body, `id="notice"`) || !strings.Contains(saved.body, "https://api.partner.example\nhttps://vault.partner.example:8443</textarea>") {
			t.Errorf("the saved settings page:\n%s", saved.body)
		}

		for _, bad := range []struct{ field, value, param string }{
			{"relay_destinations", "https://api.partner.example\nhttp://api.partner.example", "relay_destinations"},
			{"frame_ancestors", "https://shop.example/path", "frame_ancestors"},
			{"card_testing.suffix_cards_per_hour", "lots", "card_testing.suffix_cards_per_hour"},
		} {
			p := b.do("POST", "/dashboard/settings", settingsForm(csrf, bad.field, bad.value))
			if p.status != 400 || !strings.Contains(p.body, `id="error"`) || !strings.Contains(p.body, bad.param) ||
				!regexp.MustCompile(`name="`+regexp.QuoteMeta(bad.field)+`"[^>]*aria-invalid="true"`).MatchString(p.body) {
				t.Errorf("%s=%q: %d, want 400 naming and marking %s:\n%s", bad.field, bad.value, p.status, bad.param, p.body)
			}
		}
		if got := fmt.Sprint(harness.Dig(s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200).Body, "relay_destinations")); got != "[https://api.partner.example https://vault.partner.example:8443]" {
			t.Errorf("a refused form changed relay_destinations to %s", got)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.settings_update"); n != 1 {
			t.Errorf("%d settings changes audited, want 1", n)
		}
		if p := b.do("POST", "/dashboard/settings", settingsForm("")); p.status != 403 {
			t.Errorf("saving without the CSRF token: %d", p.status)
		}
	})
}
