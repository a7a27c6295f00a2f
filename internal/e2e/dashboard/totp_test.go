package dashboard

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/dashboard"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/totp"
)

// TestTOTPEnrolSignInReplayDisable: a user sets up TOTP from the Security
// page with the key it shows (a QR code of the otpauth URI beside it; the
// key stored sealed, never plain), a wrong first code leaving it off and a
// right one turning it on. Sign-in then asks for a code after the password,
// with no session before it; a wrong code and a replayed one (the
// enrolment's, then a code already used by another browser) are refused,
// audited and counted; a right one signs in. Turning it off needs a current
// code (a used one is refused), after which the password alone signs in.
func TestTOTPEnrolSignInReplayDisable(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		const email = "ops@example.com"
		newUser(t, s, s.Dev.ID, email)
		a := newClient(t, s)
		if p := a.signIn(email, userPassword); p.status != 303 || p.header.Get("Location") != "/dashboard/overview" {
			t.Fatalf("sign-in without TOTP: %d to %q", p.status, p.header.Get("Location"))
		}
		key, secret, csrf := setUpTOTP(t, s, a)

		// A wrong first code leaves it off and shows the set-up again.
		p := a.do("POST", "/dashboard/security/totp/enable", url.Values{"csrf": {csrf}, "code": {wrongCode(key)}})
		if p.status != 400 || !strings.Contains(p.body, "not right (code)") || !strings.Contains(p.body, secret) {
			t.Fatalf("a wrong first code: %d\n%s", p.status, p.body)
		}
		enrolCode, last := codeFor(t, key, 0)
		p = a.do("POST", "/dashboard/security/totp/enable", url.Values{"csrf": {csrf}, "code": {enrolCode}})
		if p.status != 303 || p.header.Get("Location") != "/dashboard/security?done=enabled" {
			t.Fatalf("turning TOTP on: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
		if p := a.do("GET", "/dashboard/security?done=enabled", nil); !strings.Contains(p.body, `data-totp="on"`) || !strings.Contains(p.body, `id="notice"`) ||
			strings.Contains(p.body, secret) {
			t.Fatalf("the Security page after turning on:\n%s", p.body)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.totp_enabled"); n != 1 {
			t.Errorf("%d dashboard.totp_enabled audit records, want 1", n)
		}

		// The password alone opens nothing now.
		b := newClient(t, s)
		if p := b.signIn(email, userPassword); p.status != 303 || p.header.Get("Location") != "/dashboard/signin/code" {
			t.Fatalf("password of a TOTP user: %d to %q", p.status, p.header.Get("Location"))
		}
		if p := b.do("GET", "/dashboard/payments", nil); p.status != 303 || p.header.Get("Location") != "/dashboard/signin" {
			t.Fatalf("payments before the code: %d to %q", p.status, p.header.Get("Location"))
		}
		form := b.do("GET", "/dashboard/signin/code", nil)
		if form.status != 200 || !strings.Contains(form.body, `data-state="signin-code"`) {
			t.Fatalf("the code form: %d\n%s", form.status, form.body)
		}
		codeCSRF := form.csrf(t)
		if p := b.do("POST", "/dashboard/signin/code", url.Values{"code": {enrolCode}}); p.status != 403 {
			t.Errorf("the code form without its csrf token: %d, want 403", p.status)
		}
		if p := b.do("POST", "/dashboard/signin/code", url.Values{"csrf": {codeCSRF}, "code": {"12345"}}); p.status != 400 || !strings.Contains(p.body, "(code)") {
			t.Errorf("a 5-digit code: %d\n%s", p.status, p.body)
		}
		failures := 0
		refuse := func(c *browser, csrf, code, want string) {
			t.Helper()
			p := c.do("POST", "/dashboard/signin/code", url.Values{"csrf": {csrf}, "code": {code}})
			failures++
			if p.status != 401 || !strings.Contains(p.body, want) || strings.Contains(p.body, code) {
				t.Fatalf("code refused for %q: %d\n%s", want, p.status, p.body)
			}
			if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in_failed"); n != failures {
				t.Fatalf("after %d refused codes, %d sign_in_failed audit records", failures, n)
			}
		}
		refuse(b, codeCSRF, wrongCode(key), "not right")
		refuse(b, codeCSRF, enrolCode, "already used")
		signInCode, last := codeFor(t, key, last)
		p = b.do("POST", "/dashboard/signin/code", url.Values{"csrf": {codeCSRF}, "code": {signInCode[:3] + " " + signInCode[3:]}})
		if p.status != 303 || p.header.Get("Location") != "/dashboard/overview" {
			t.Fatalf("the right code: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
		if p := b.do("GET", "/dashboard/payments", nil); p.status != 200 || !strings.Contains(p.body, email) {
			t.Fatalf("payments after the code: %d", p.status)
		}

		// Someone who saw that code cannot use it: a replay.
		c := newClient(t, s)
		if p := c.signIn(email, userPassword); p.status != 303 {
			t.Fatalf("password in a third browser: %d", p.status)
		}
		refuse(c, c.do("GET", "/dashboard/signin/code", nil).csrf(t), signInCode, "already used")
		if p := c.do("GET", "/dashboard/payments", nil); p.status != 303 {
			t.Errorf("payments after a replayed code: %d, want a redirect to sign in", p.status)
		}

		// Turning it off needs a current code, not a used one.
		csrf = a.do("GET", "/dashboard/security", nil).csrf(t)
		p = a.do("POST", "/dashboard/security/totp/disable", url.Values{"csrf": {csrf}, "code": {signInCode}})
		if p.status != 400 || !strings.Contains(p.body, "already used (code)") {
			t.Fatalf("turning off with a used code: %d\n%s", p.status, p.body)
		}
		offCode, _ := codeFor(t, key, last)
		p = a.do("POST", "/dashboard/security/totp/disable", url.Values{"csrf": {csrf}, "code": {offCode}})
		if p.status != 303 || p.header.Get("Location") != "/dashboard/security?done=disabled" {
			t.Fatalf("turning TOTP off: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.totp_disabled"); n != 1 {
			t.Errorf("%d dashboard.totp_disabled audit records, want 1", n)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.totp_disable_failed"); n != 1 {
			t.Errorf("%d dashboard.totp_disable_failed audit records, want 1", n)
		}
		if p := newClient(t, s).signIn(email, userPassword); p.status != 303 || p.header.Get("Location") != "/dashboard/overview" {
			t.Fatalf("password after turning TOTP off: %d to %q", p.status, p.header.Get("Location"))
		}
		for _, leak := range []string{secret, strings.ReplaceAll(secret, " ", ""), enrolCode, signInCode, offCode} {
			if strings.Contains(s.Logs.String(), leak) {
				t.Errorf("the server's log holds %q", leak)
			}
		}
	})
}

// TestTOTPWrongCodesLimited: wrong codes after a right password count
// toward the sign-in limits: after dashboard.MaxFailures of them even the
// right code is refused 429, and so is the password step.
func TestTOTPWrongCodesLimited(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		const email = "ops@example.com"
		newUser(t, s, s.Dev.ID, email)
		a := newClient(t, s)
		a.signIn(email, userPassword)
		key, _, csrf := setUpTOTP(t, s, a)
		code, last := codeFor(t, key, 0)
		if p := a.do("POST", "/dashboard/security/totp/enable", url.Values{"csrf": {csrf}, "code": {code}}); p.status != 303 {
			t.Fatalf("turning TOTP on: %d\n%s", p.status, p.body)
		}
		b := newClient(t, s)
		if p := b.signIn(email, userPassword); p.status != 303 || p.header.Get("Location") != "/dashboard/signin/code" {
			t.Fatalf("password: %d to %q", p.status, p.header.Get("Location"))
		}
		tok := b.do("GET", "/dashboard/signin/code", nil).csrf(t)
		for i := range dashboard.MaxFailures {
			if p := b.do("POST", "/dashboard/signin/code", url.Values{"csrf": {tok}, "code": {wrongCode(key)}}); p.status != 401 {
				t.Fatalf("wrong code %d: %d\n%s", i, p.status, p.body)
			}
		}
		right, _ := codeFor(t, key, last)
		p := b.do("POST", "/dashboard/signin/code", url.Values{"csrf": {tok}, "code": {right}})
		if p.status != 429 || !strings.Contains(p.body, "Too many failed sign-ins") || p.header.Get("Retry-After") == "" {
			t.Fatalf("the right code after %d wrong ones: %d\n%s", dashboard.MaxFailures, p.status, p.body)
		}
		if p := newClient(t, s).signIn(email, userPassword); p.status != 429 {
			t.Errorf("the password step after %d wrong codes: %d, want 429", dashboard.MaxFailures, p.status)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in_failed"); n != dashboard.MaxFailures {
			t.Errorf("%d sign_in_failed audit records, want %d", n, dashboard.MaxFailures)
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.sign_in"); n != 1 {
			t.Errorf("%d sign-ins, want only the first browser's", n)
		}
	})
}

var totpSecretField = regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7 ]+)<`)

// setUpTOTP starts TOTP set-up from the Security page of a signed-in
// browser and returns the key it shows, the key as shown, and the page's
// CSRF token. It checks the page shows the QR code and otpauth URI, and
// that the database holds the key sealed, not plain.
func setUpTOTP(t *testing.T, s *harness.Server, b *browser) (key []byte, secret, csrf string) {
	t.Helper()
	sec := b.do("GET", "/dashboard/security", nil)
	if sec.status != 200 || !strings.Contains(sec.body, `data-totp="off"`) {
		t.Fatalf("the Security page: %d\n%s", sec.status, sec.body)
	}
	p := b.do("POST", "/dashboard/security/totp/setup", url.Values{"csrf": {sec.csrf(t)}})
	m := totpSecretField.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("setting up TOTP: %d, headers %v\n%s", p.status, p.header, p.body)
	}
	secret = m[1]
	key, err := totp.DecodeSecret(secret)
	if err != nil || len(key) != totp.SecretSize {
		t.Fatalf("the key shown %q: %d bytes, %v", secret, len(key), err)
	}
	plain := totp.EncodeSecret(key)
	if !strings.Contains(p.body, `id="totp-qr" src="data:image/png;base64,`) || !strings.Contains(p.body, "otpauth://totp/Coffer:ops@example.com?") ||
		!strings.Contains(p.body, "secret="+plain) {
		t.Errorf("the set-up page lacks its QR code or otpauth URI:\n%s", p.body)
	}
	var ct []byte
	if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT totp_secret FROM dashboard_users WHERE email = ?`), "ops@example.com").Scan(&ct); err != nil {
		t.Fatal(err)
	}
	if len(ct) < len(key) || bytes.Contains(ct, key) || bytes.Contains(ct, []byte(plain)) {
		t.Errorf("totp_secret is not sealed: %x", ct)
	}
	return key, secret, p.csrf(t)
}

// codeFor returns the code of the current step, or of the next one when
// the current one is used (the server takes ±1 step), and that step. The
// latest step it can: a code the test replays later must still be within
// the server's window then, or it would be refused as merely wrong. It
// never answers within the last five seconds of a step, so the server sees
// the step the test saw, and waits (bounded) for the clock when every step
// the server takes is used.
func codeFor(t *testing.T, key []byte, last int64) (string, int64) {
	t.Helper()
	var step int64
	harness.WaitUntil(t, 45*time.Second, "a TOTP step the server takes", func() bool {
		now := time.Now()
		if now.Unix()%totp.Period >= totp.Period-5 {
			return false
		}
		cur := totp.Step(now)
		step = max(last+1, cur)
		return step <= cur+totp.Window
	})
	return totp.CodeAt(key, step), step
}

// wrongCode is a code of no step near now.
func wrongCode(key []byte) string {
	cur := totp.Step(time.Now())
	near := map[string]bool{}
	for s := cur - 3; s <= cur+3; s++ {
		near[totp.CodeAt(key, s)] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555", "666666", "777777", "888888", "999999"} {
		if !near[c] {
			return c
		}
	}
	panic("ten codes in seven steps")
}

// TestBrowserSecurity, in headless Chromium (SQLite): a signed-in user sets
// up TOTP from the Security page, whose QR code loads under the page's
// policy (a data: image), and turns it on with a code from the key the page
// shows. Screenshots of the set-up at 1280 and 360 px (nothing scrolls
// sideways at 360); no console errors.
func TestBrowserSecurity(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	newUser(t, s, s.Dev.ID, "ops@example.com")
	ctx, console := signedInBrowser(t, s)
	harness.Steps(t, ctx, "open Security from the menu", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/security"]`)))
	waitState(t, ctx, "security")
	harness.Click(t, ctx, "totp-setup")
	harness.WaitJS(t, ctx, "the QR code, loaded", `(function(){ var i = document.getElementById("totp-qr");
		return !!i && i.complete && i.naturalWidth > 100; })()`)
	secret := harness.JS[string](t, ctx, `document.getElementById("totp-secret").textContent`)
	key, err := totp.DecodeSecret(secret)
	if err != nil {
		t.Fatalf("the key shown %q: %v", secret, err)
	}
	shot(t, ctx, "security-1280")
	harness.Steps(t, ctx, "a phone-sized window", chromedp.EmulateViewport(360, 740))
	if w := harness.JS[float64](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the set-up at 360 px is %v px wide", w)
	}
	shot(t, ctx, "security-360")
	code, _ := codeFor(t, key, 0)
	harness.Type(t, ctx, "code", code)
	harness.Click(t, ctx, "totp-enable")
	harness.WaitJS(t, ctx, "TOTP on", `!!document.querySelector('#notice') && !!document.querySelector('[data-totp="on"]')`)
	console("setting up TOTP")
}
