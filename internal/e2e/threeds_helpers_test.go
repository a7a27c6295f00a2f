package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// withChallengeTTL shortens how long a 3-D Secure challenge stays open.
func withChallengeTTL(d time.Duration) option { return func(c *app.Config) { c.ChallengeTTL = d } }

// withSweepInterval makes the challenge sweeper run more often.
func withSweepInterval(d time.Duration) option { return func(c *app.Config) { c.SweepInterval = d } }

// noRedirect is a client that shows redirects instead of following them, as
// a test of where the challenge page sends the browser needs.
var noRedirect = &http.Client{Timeout: 60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// page is a challenge page response.
type page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// challengePage GETs a challenge page URL.
func challengePage(t testing.TB, u string) page {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, res)
}

// submitOTP POSTs an OTP to a challenge page as its form does.
func submitOTP(t testing.TB, u, otp string) page {
	t.Helper()
	res, err := noRedirect.PostForm(u, url.Values{"otp": {otp}})
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, res)
}

func readPage(t testing.TB, res *http.Response) page {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return page{Status: res.StatusCode, Header: res.Header, Body: b.String(), Location: res.Header.Get("Location")}
}

// challengeSecrets counts challenges still holding sealed card data (the
// CVC kept across a challenge): after every outcome it must be zero.
func challengeSecrets(t testing.TB, s *server) int {
	t.Helper()
	var n int
	if err := openDB(t, s).QueryRow(`SELECT COUNT(*) FROM challenges WHERE secret_ct IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// returnSite is the merchant's return_url: it records every query the
// browser arrives with.
type returnSite struct {
	URL string
	mu  sync.Mutex
	got []url.Values
}

func newReturnSite(t testing.TB) *returnSite {
	rs := &returnSite{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/return" { // a browser's favicon request, say
			http.NotFound(w, r)
			return
		}
		rs.mu.Lock()
		rs.got = append(rs.got, r.URL.Query())
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><link rel="icon" href="data:,"><title>Back at the shop</title><h1 id="back">Back at the shop</h1>`))
	}))
	t.Cleanup(srv.Close)
	rs.URL = srv.URL + "/return?cart=42"
	return rs
}

// last is the query of the latest arrival (nil if none).
func (rs *returnSite) last() url.Values {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.got) == 0 {
		return nil
	}
	return rs.got[len(rs.got)-1]
}
