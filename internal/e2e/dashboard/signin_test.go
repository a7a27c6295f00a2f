package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/dashboard"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSignInSessionsAndCSRF: the sign-in page and every page after it carry
// the strict headers; a session cookie is HttpOnly and SameSite=Strict; a
// POST without the session's CSRF token is refused 403 (also the sign-in
// form without its own); sign-out ends the session on the server.
func TestSignInSessionsAndCSRF(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		newUser(t, s, s.Dev.ID, "ops@example.com")
		b := newClient(t, s)

		if p := b.do("GET", "/dashboard/payments", nil); p.status != 303 || p.header.Get("Location") != "/dashboard/signin" {
			t.Fatalf("payments while signed out: %d to %q", p.status, p.header.Get("Location"))
		}
		form := b.do("GET", "/dashboard/signin", nil)
		csp := form.header.Get("Content-Security-Policy")
		if form.status != 200 || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
			strings.Contains(csp, "script-src") || form.header.Get("X-Frame-Options") != "DENY" || form.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("sign-in page %d, headers %v", form.status, form.header)
		}
		if p := b.do("POST", "/dashboard/signin", url.Values{"email": {"ops@example.com"}, "password": {userPassword}}); p.status != 403 {
			t.Errorf("sign-in without its csrf token: %d, want 403", p.status)
		}
		p := b.do("POST", "/dashboard/signin", url.Values{"csrf": {form.csrf(t)}, "email": {"Ops@Example.com"}, "password": {userPassword}})
		if p.status != 303 || p.header.Get("Location") != "/dashboard/overview" {
			t.Fatalf("sign-in: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
		cookie := p.header.Get("Set-Cookie")
		if !strings.Contains(cookie, "coffer_dashboard=") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") ||
			!strings.Contains(cookie, "Path=/dashboard") {
			t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict, Path=/dashboard", cookie)
		}
		list := b.do("GET", "/dashboard/payments", nil)
		if list.status != 200 || !strings.Contains(list.body, "ops@example.com") || list.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("payments page: %d\n%s", list.status, list.body)
		}
		tok := list.csrf(t)
		for _, path := range []string{"/dashboard/signout", "/dashboard/payments/pay_x/refund", "/dashboard/events/evt_x/redeliver"} {
			for _, form := range []url.Values{{}, {"csrf": {"forged"}}} {
				if p := b.do("POST", path, form); p.status != 403 || !strings.Contains(p.body, "csrf") {
					t.Errorf("POST %s with csrf %q: %d, want 403", path, form.Get("csrf"), p.status)
				}
			}
		}
		if p := b.do("POST", "/dashboard/signout", url.Values{"csrf": {tok}}); p.status != 303 {
			t.Fatalf("sign-out: %d", p.status)
		}
		if p := b.do("GET", "/dashboard/payments", nil); p.status != 303 {
			t.Errorf("payments after sign-out: %d, want a redirect to sign in", p.status)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in"); n != 1 {
			t.Errorf("%d sign-in audit records, want 1", n)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_out"); n != 1 {
			t.Errorf("%d sign-out audit records, want 1", n)
		}
	})
}

// TestWrongPasswordCountedAndLimited: a wrong password shows an error and
// is audited against the user; after dashboard.MaxFailures failures the
// e-mail is refused 429 even with the right password, and so is another
// e-mail from the same address.
func TestWrongPasswordCountedAndLimited(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		newUser(t, s, s.Dev.ID, "ops@example.com")
		b := newClient(t, s)
		for i := range dashboard.MaxFailures {
			p := b.signIn("ops@example.com", fmt.Sprintf("wrong password %d", i))
			if p.status != 401 || !strings.Contains(p.body, "do not match") || strings.Contains(p.body, "wrong password") {
				t.Fatalf("wrong password %d: %d\n%s", i, p.status, p.body)
			}
			if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in_failed"); n != i+1 {
				t.Fatalf("after %d wrong passwords, %d audit records", i+1, n)
			}
		}
		p := b.signIn("ops@example.com", userPassword)
		if p.status != 429 || !strings.Contains(p.body, "Too many failed sign-ins") || p.header.Get("Retry-After") == "" {
			t.Fatalf("right password after %d failures: %d\n%s", dashboard.MaxFailures, p.status, p.body)
		}
		if p := b.signIn("nobody@example.com", "whatever it is"); p.status != 429 {
			t.Errorf("another e-mail from the same address: %d, want 429", p.status)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in"); n != 0 {
			t.Errorf("%d sign-ins recorded, want 0", n)
		}
	})
}

// TestSecureCookieBehindHTTPS: with an https public URL (TLS ending at a
// proxy in front) the session cookie is Secure.
func TestSecureCookieBehindHTTPS(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithConfig(func(c *app.Config) { c.PublicURL = "https://pay.example.com" }))
	newUser(t, s, s.Dev.ID, "ops@example.com")
	b := newClient(t, s)
	form := b.do("GET", "/dashboard/signin", nil)
	if c := form.header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
		t.Errorf("the sign-in form's cookie %q is not Secure", c)
	}
	// The client's jar keeps no Secure cookie over http: send it by hand.
	pre := ""
	for _, c := range form.header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(c, "coffer_dashboard_pre="); ok {
			pre, _, _ = strings.Cut(v, ";")
		}
	}
	req, _ := http.NewRequest("POST", s.URL+"/dashboard/signin", strings.NewReader(url.Values{"csrf": {form.csrf(t)},
		"email": {"ops@example.com"}, "password": {userPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "coffer_dashboard_pre", Value: pre})
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session string
	for _, c := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "coffer_dashboard=") {
			session = c
		}
	}
	if res.StatusCode != 303 || !strings.Contains(session, "; Secure") || !strings.Contains(session, "HttpOnly") {
		t.Errorf("sign-in behind https: %d, session cookie %q: want Secure and HttpOnly", res.StatusCode, session)
	}
}
