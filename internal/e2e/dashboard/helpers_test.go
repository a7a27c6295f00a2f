package dashboard

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

const userPassword = "correct horse battery staple"

// newUser makes a dashboard user of the merchant as `coffer user create` does.
func newUser(t *testing.T, s *harness.Server, merchantID, email string) {
	t.Helper()
	cfg := s.Cfg
	cfg.Stdout, cfg.Stderr = io.Discard, s.Logs
	if _, err := app.CreateDashboardUser(context.Background(), cfg, merchantID, email, userPassword); err != nil {
		t.Fatalf("creating a dashboard user: %v", err)
	}
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so each answer can be looked at.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, s *harness.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer, its body read.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(raw)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the first form's token in a page.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field in the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// signIn signs in and returns the payments page.
func (b *browser) signIn(email, pw string) page {
	b.t.Helper()
	form := b.do("GET", "/dashboard/signin", nil)
	return b.do("POST", "/dashboard/signin", url.Values{"csrf": {form.csrf(b.t)}, "email": {email}, "password": {pw}})
}

// signedInClient starts a server with opts, makes the user every test signs
// in as (ops@example.com) and returns a client signed in as that user.
func signedInClient(t *testing.T, opts ...harness.Option) (*harness.Server, *browser) {
	t.Helper()
	s := harness.Start(t, opts...)
	newUser(t, s, s.Dev.ID, "ops@example.com")
	b := newClient(t, s)
	b.signIn("ops@example.com", userPassword)
	return s, b
}

// auditCount counts the merchant's audit records of an action.
func auditCount(t *testing.T, s *harness.Server, merchantID, action string) int {
	t.Helper()
	var n int
	err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT COUNT(*) FROM audit_log WHERE merchant_id = ? AND action = ?`), merchantID, action).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
