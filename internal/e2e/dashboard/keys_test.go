package dashboard

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/dashboard"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestRollKeyFromDashboard: rolling the secret key from the keys page (the
// password typed again) shows the new key once; it works against the API,
// the replaced one keeps working for the hour chosen, and a second roll
// with "stops now" ends the first new key at once. The keys page then
// never shows a full key, only prefixes and last fours, and the audit log
// records each roll without the key. A rolled key can be stopped early.
func TestRollKeyFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		old := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)
		list := b.do("GET", "/dashboard/keys", nil)
		if list.status != 200 || !strings.Contains(list.body, "sk_…"+old[len(old)-4:]) || strings.Contains(list.body, old) {
			t.Fatalf("keys page %d: want the secret key as sk_…%s, never whole:\n%s", list.status, old[len(old)-4:], list.body)
		}
		csrf := list.csrf(t)

		first := b.rollKey(t, csrf, "secret", 3600)
		if !strings.HasPrefix(first, "sk_") || first == old {
			t.Fatalf("rolled secret key %q", first)
		}
		s.Call("GET", "/v1/merchant", first, nil).Want(t, 200)
		s.Call("GET", "/v1/merchant", old, nil).Want(t, 200) // for the hour chosen

		list = b.do("GET", "/dashboard/keys", nil)
		for _, k := range []string{old, first} {
			if strings.Contains(list.body, k) {
				t.Fatalf("the keys page shows a full key %s:\n%s", k[:6], list.body)
			}
		}
		if !strings.Contains(list.body, "sk_…"+first[len(first)-4:]) || !strings.Contains(list.body, `data-type="secret" data-id="key_`) {
			t.Errorf("the keys page lacks the new key's last four or the rolled key:\n%s", list.body)
		}

		second := b.rollKey(t, csrf, "secret", 0)
		s.Call("GET", "/v1/merchant", second, nil).Want(t, 200)
		s.Call("GET", "/v1/merchant", first, nil).Want(t, 401) // "now": at once
		s.Call("GET", "/v1/merchant", old, nil).Want(t, 200)   // its own hour runs on

		// The rolled key stopped early from its row (confirmed).
		list = b.do("GET", "/dashboard/keys", nil)
		rolled := regexp.MustCompile(`data-type="secret" data-id="(key_[^"]+)"`).FindAllStringSubmatch(list.body, -1)
		if len(rolled) != 1 {
			t.Fatalf("%d rolled secret keys listed, want the first one only:\n%s", len(rolled), list.body)
		}
		if p := b.do("POST", "/dashboard/keys/"+rolled[0][1]+"/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); p.status != 303 {
			t.Fatalf("stopping the rolled key: %d\n%s", p.status, p.body)
		}
		s.Call("GET", "/v1/merchant", old, nil).Want(t, 401)
		s.Call("GET", "/v1/merchant", second, nil).Want(t, 200)

		if n := auditCount(t, s, s.Dev.ID, "dashboard.key_roll"); n != 2 {
			t.Errorf("%d rolls audited, want 2", n)
		}
		for _, k := range []string{old, first, second} {
			noSecretStored(t, s, k)
		}
	})
}

// TestRollKeyWrongPassword: a roll with a wrong password is refused 403 and
// leaves the key as it was; each one counts as a failed sign-in (audited),
// so after dashboard.MaxFailures of them even the right password is
// refused 429, and so is signing in from the same address. A roll with no
// password or an expiry the API refuses is a 400 naming the field.
func TestRollKeyWrongPassword(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s, b := signedInClient(t, opts...)
		sk := s.Dev.SecretKey
		csrf := b.do("GET", "/dashboard/keys", nil).csrf(t)
		roll := func(form url.Values) page {
			form.Set("csrf", csrf)
			form.Set("type", "secret")
			if form.Get("expires_in") == "" {
				form.Set("expires_in", "0")
			}
			return b.do("POST", "/dashboard/keys/roll", form)
		}
		if p := roll(url.Values{}); p.status != 400 || !strings.Contains(p.body, "(password)") {
			t.Errorf("roll without a password: %d\n%s", p.status, p.body)
		}
		if p := roll(url.Values{"password": {userPassword}, "expires_in": {"999999999"}}); p.status != 400 || !strings.Contains(p.body, "expires_in") {
			t.Errorf("roll with a too long expiry: %d\n%s", p.status, p.body)
		}
		for i := range dashboard.MaxFailures {
			p := roll(url.Values{"password": {"not my password " + strconv.Itoa(i)}})
			if p.status != 403 || !strings.Contains(p.body, "not your password") || strings.Contains(p.body, "new-key") {
				t.Fatalf("roll with wrong password %d: %d\n%s", i, p.status, p.body)
			}
		}
		s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
		if n := auditCount(t, s, s.Dev.ID, "dashboard.reauth_failed"); n != dashboard.MaxFailures {
			t.Errorf("%d wrong passwords audited, want %d", n, dashboard.MaxFailures)
		}
		if p := roll(url.Values{"password": {userPassword}}); p.status != 429 || p.header.Get("Retry-After") == "" {
			t.Errorf("roll with the right password after %d wrong ones: %d, want 429\n%s", dashboard.MaxFailures, p.status, p.body)
		}
		if p := newClient(t, s).signIn("ops@example.com", userPassword); p.status != 429 {
			t.Errorf("sign-in after %d wrong roll passwords: %d, want 429", dashboard.MaxFailures, p.status)
		}
		s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
		if n := auditCount(t, s, s.Dev.ID, "dashboard.key_roll"); n != 0 {
			t.Errorf("%d rolls audited, want 0", n)
		}
	})
}

// TestRestrictedKeyFromDashboard: a restricted key made with payments:read
// (the scope list is the API's) lists payments and is refused tokens; the
// keys page names it and its scopes but never shows it; a key without
// scopes, or with one no restricted key may hold, is refused naming
// scopes; deleting needs the confirmation and stops the key; another
// merchant's key cannot be deleted.
func TestRestrictedKeyFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		newUser(t, s, s.Dev.ID, "ops@example.com")
		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)
		list := b.do("GET", "/dashboard/keys", nil)
		for _, sc := range []string{"payments:read", "tokens:write", "webhooks:read"} {
			if !strings.Contains(list.body, `name="scopes" value="`+sc+`"`) {
				t.Errorf("the keys page offers no scope %s", sc)
			}
		}
		if strings.Contains(list.body, `value="keys:write"`) {
			t.Errorf("the keys page offers keys:write, which no restricted key may hold")
		}
		csrf := list.csrf(t)
		create := func(form url.Values) page {
			form.Set("csrf", csrf)
			return b.do("POST", "/dashboard/keys/restricted", form)
		}
		if p := create(url.Values{"name": {"reporting"}}); p.status != 400 || !strings.Contains(p.body, "scopes") || !strings.Contains(p.body, `value="reporting"`) {
			t.Errorf("a key without scopes: %d\n%s", p.status, p.body)
		}
		if p := create(url.Values{"name": {"minter"}, "scopes": {"keys:write"}}); p.status != 400 || !strings.Contains(p.body, "scopes") {
			t.Errorf("a key with keys:write: %d\n%s", p.status, p.body)
		}

		p := create(url.Values{"name": {"reporting"}, "scopes": {"payments:read"}})
		rk := newKey(t, p)
		if !strings.HasPrefix(rk, "rk_") {
			t.Fatalf("restricted key %q", rk)
		}
		s.Call("GET", "/v1/payments", rk, nil).Want(t, 200)
		s.Call("GET", "/v1/tokens", rk, nil).Want(t, 403)

		list = b.do("GET", "/dashboard/keys", nil)
		if strings.Contains(list.body, rk) || !strings.Contains(list.body, "reporting") || !strings.Contains(list.body, "rk_…"+rk[len(rk)-4:]) {
			t.Fatalf("keys page after creating %s…: want its name and last four, never the key:\n%s", rk[:6], list.body)
		}
		kid := regexp.MustCompile(`id="delete-(key_[^"]+)"`).FindStringSubmatch(list.body)
		if kid == nil {
			t.Fatalf("no delete button for the restricted key:\n%s", list.body)
		}
		del := func(id string, form url.Values) page {
			form.Set("csrf", csrf)
			return b.do("POST", "/dashboard/keys/"+id+"/delete", form)
		}
		if p := del(kid[1], url.Values{}); p.status != 400 {
			t.Errorf("delete without the confirmation: %d", p.status)
		}
		s.Call("GET", "/v1/payments", rk, nil).Want(t, 200)
		if p := del(kid[1], url.Values{"confirm": {"yes"}}); p.status != 303 {
			t.Fatalf("delete: %d\n%s", p.status, p.body)
		}
		s.Call("GET", "/v1/payments", rk, nil).Want(t, 401)

		other := s.NewMerchant("Other")
		theirs := s.Call("POST", "/v1/api_keys", other.SecretKey, map[string]any{"name": "theirs", "scopes": []string{"payments:read"}}).Want(t, 201)
		if p := del(theirs.Str("id"), url.Values{"confirm": {"yes"}}); p.status != 404 {
			t.Errorf("deleting another merchant's key: %d, want 404", p.status)
		}
		s.Call("GET", "/v1/payments", theirs.Str("key"), nil).Want(t, 200)

		for a, want := range map[string]int{"dashboard.api_key_create": 1, "dashboard.api_key_delete": 1} {
			if n := auditCount(t, s, s.Dev.ID, a); n != want {
				t.Errorf("%d %s audited, want %d", n, a, want)
			}
		}
		noSecretStored(t, s, rk)
	})
}

// TestProcessorAccountsFromDashboard: a Stripe account created from the
// page (loopback base URL) is what the API lists; its secret never comes
// back, neither in the list nor in a form shown again with an error; bad
// fields are named; deleting needs the confirmation and then the API no
// longer lists it.
func TestProcessorAccountsFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s, b := signedInClient(t, opts...)
		sk := s.Dev.SecretKey
		list := b.do("GET", "/dashboard/processors", nil)
		if list.status != 200 || !strings.Contains(list.body, `name="cred_stripe_secret_key"`) || !strings.Contains(list.body, `name="cred_authorize_net_transaction_key"`) {
			t.Fatalf("processors page %d without the credential fields:\n%s", list.status, list.body)
		}
		csrf := list.csrf(t)
		const secret = "sk_test_dashboardSecret0123456789"
		create := func(form url.Values) page {
			form.Set("csrf", csrf)
			return b.do("POST", "/dashboard/processors", form)
		}
		for _, c := range []struct {
			form  url.Values
			field string
		}{
			{url.Values{"type": {"stripe"}, "name": {"EU"}}, "credentials.secret_key"},
			{url.Values{"type": {"stripe"}, "cred_stripe_secret_key": {"notastripekey123"}}, "credentials"},
			{url.Values{"type": {"simulator"}, "priority": {"first"}}, "priority"},
			{url.Values{"type": {"simulator"}, "currencies": {"usd dollars"}}, "currencies[1]"},
			{url.Values{"type": {"paypal"}}, "type"},
		} {
			p := create(c.form)
			if p.status != 400 || !strings.Contains(p.body, c.field) || strings.Contains(p.body, "notastripekey123") {
				t.Errorf("%v: %d, want 400 naming %s (and no credential echoed)\n%s", c.form, p.status, c.field, p.body)
			}
		}
		p := create(url.Values{"type": {"stripe"}, "name": {"Stripe EU"}, "mode": {"test"}, "currencies": {"eur, usd"},
			"priority": {"3"}, "base_url": {"http://127.0.0.1:9"}, "cred_stripe_secret_key": {secret},
			"cred_authorize_net_api_login_id": {"ignored"}})
		loc := p.header.Get("Location")
		if p.status != 303 || !strings.Contains(loc, "pa_") {
			t.Fatalf("create: %d to %q\n%s", p.status, loc, p.body)
		}
		api := s.Call("GET", "/v1/processor_accounts", sk, nil).Want(t, 200)
		data := api.Body["data"].([]any)
		if len(data) != 1 || harness.Str(data[0], "type") != "stripe" || harness.Str(data[0], "name") != "Stripe EU" ||
			harness.Str(data[0], "base_url") != "http://127.0.0.1:9" || harness.Num(data[0], "priority") != 3 {
			t.Fatalf("the API lists %s", api.Raw)
		}
		id := harness.Str(data[0], "id")
		list = b.do("GET", loc, nil)
		if !strings.Contains(list.body, id) || !strings.Contains(list.body, "secret_key ••") || strings.Contains(list.body, secret) ||
			!strings.Contains(list.body, "EUR, USD") || !strings.Contains(list.body, `id="notice"`) {
			t.Fatalf("processors page after creating %s (masked secret wanted):\n%s", id, list.body)
		}
		del := func(form url.Values) page {
			form.Set("csrf", csrf)
			return b.do("POST", "/dashboard/processors/"+id+"/delete", form)
		}
		if p := del(url.Values{}); p.status != 400 {
			t.Errorf("delete without the confirmation: %d", p.status)
		}
		if p := del(url.Values{"confirm": {"yes"}}); p.status != 303 {
			t.Fatalf("delete: %d\n%s", p.status, p.body)
		}
		if data := s.Call("GET", "/v1/processor_accounts", sk, nil).Want(t, 200).Body["data"].([]any); len(data) != 0 {
			t.Errorf("a deleted account is listed by the API")
		}
		if p := del(url.Values{"confirm": {"yes"}}); p.status != 404 {
			t.Errorf("deleting it again: %d, want 404", p.status)
		}
		for a, want := range map[string]int{"dashboard.processor_account_create": 1, "dashboard.processor_account_delete": 1} {
			if n := auditCount(t, s, s.Dev.ID, a); n != want {
				t.Errorf("%d %s audited, want %d", n, a, want)
			}
		}
		noSecretStored(t, s, secret)
	})
}

// TestBrowserKeys, in headless Chromium (SQLite): the keys page with a
// rolled key and a restricted key, a roll from the page showing the new
// key once, and the processor accounts page; nothing scrolls sideways at
// 360 px, no console errors. Screenshots as in TestBrowserDashboard.
func TestBrowserKeys(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	newUser(t, s, s.Dev.ID, "ops@example.com")
	s.Call("POST", "/v1/api_keys", sk, map[string]any{"name": "nightly report", "scopes": []string{"payments:read", "events:read"}}).Want(t, 201)
	sk = s.Call("POST", "/v1/merchant/keys/roll", sk, map[string]any{"type": "secret", "expires_in": 3600}).Want(t, 200).Str("secret_key")
	s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "stripe", "name": "Stripe EU", "currencies": []string{"EUR"},
		"base_url": "http://127.0.0.1:9", "credentials": map[string]string{"secret_key": "sk_test_browser0123456789"}}).Want(t, 201)

	ctx, console := signedInBrowser(t, s)
	harness.Open(t, ctx, s.URL+"/dashboard/keys")
	waitState(t, ctx, "keys")
	shot(t, ctx, "keys-1280")

	// Roll the publishable key from the page; the new key shows once.
	harness.Click(t, ctx, "roll-type-publishable")
	harness.Type(t, ctx, "roll-password", userPassword)
	harness.Click(t, ctx, "roll")
	waitState(t, ctx, "key-new")
	pk := harness.JS[string](t, ctx, `document.getElementById("new-key").value`)
	if !strings.HasPrefix(pk, "pk_") {
		t.Fatalf("the new publishable key is %q", pk)
	}
	harness.Open(t, ctx, s.URL+"/dashboard/keys")
	waitState(t, ctx, "keys")
	if strings.Contains(harness.PageText(t, ctx), pk) {
		t.Errorf("the keys page shows the new publishable key")
	}
	harness.Open(t, ctx, s.URL+"/dashboard/processors")
	waitState(t, ctx, "processors")
	shot(t, ctx, "processors-1280")

	harness.Steps(t, ctx, "a phone-sized window", chromedp.EmulateViewport(360, 740))
	for _, pg := range []struct{ path, state, name string }{
		{"/dashboard/keys", "keys", "keys-360"},
		{"/dashboard/processors", "processors", "processors-360"},
	} {
		harness.Open(t, ctx, s.URL+pg.path)
		waitState(t, ctx, pg.state)
		if w := harness.JS[float64](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("%s at 360 px is %v px wide", pg.path, w)
		}
		shot(t, ctx, pg.name)
	}
	console("using the keys and processors pages")
}

var newKeyField = regexp.MustCompile(`id="new-key"[^>]*value="([^"]+)"`)

// newKey is the key an answer page shows once.
func newKey(t *testing.T, p page) string {
	t.Helper()
	m := newKeyField.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("no new key on the answer page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// rollKey rolls a key from the keys page's form and returns the new key.
func (b *browser) rollKey(t *testing.T, csrf, typ string, expiresIn int) string {
	t.Helper()
	p := b.do("POST", "/dashboard/keys/roll", url.Values{"csrf": {csrf}, "type": {typ},
		"expires_in": {strconv.Itoa(expiresIn)}, "password": {userPassword}})
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the new key's page may be cached: %q", p.header.Get("Cache-Control"))
	}
	return newKey(t, p)
}

// noSecretStored checks that no audit record and no log line holds secret.
func noSecretStored(t *testing.T, s *harness.Server, secret string) {
	t.Helper()
	var n int
	err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT COUNT(*) FROM audit_log WHERE purpose LIKE ? OR object_id LIKE ?`),
		"%"+secret+"%", "%"+secret+"%").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d audit records hold the secret %s…", n, secret[:6])
	}
	if strings.Contains(s.Logs.String(), secret) {
		t.Errorf("the server's log holds the secret %s…", secret[:6])
	}
}
