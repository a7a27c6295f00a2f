package e2e

// Helpers of the 3-D Secure and webhook tests (moved to internal/e2e/threeds
// and internal/e2e/webhooks) that files still in this package use; copied
// verbatim until those files move too.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/coffer-vault/coffer/internal/app"
)

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

// passChallenge answers a challenge rightly and returns the outcome query
// the browser is sent back with.
func passChallenge(t testing.TB, u string) url.Values {
	t.Helper()
	done := submitOTP(t, u, "123456")
	loc, err := url.Parse(done.Location)
	if done.Status != 303 || err != nil {
		t.Fatalf("right OTP: %d %q %s", done.Status, done.Location, done.Body)
	}
	return loc.Query()
}

// b3dsStep bounds one browser step, so a page that never comes fails with
// the step's name instead of at the browser's overall deadline.
const b3dsStep = 15 * time.Second

const (
	b3dsChallengeCard = "4000002500003155" // challenge, then the verification/authorization succeeds
	b3dsDeclineCard   = "4000008400001629" // challenge, then the issuer declines
	b3dsMask          = "400000******3155"
	b3dsOTP           = "123456"
)

// b3dsRun runs one action with a step timeout and fails the test on error.
func b3dsRun[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// b3dsOpen loads u in the tab and returns the document's HTTP status.
func b3dsOpen(t *testing.T, ctx context.Context, u string) int64 {
	t.Helper()
	res := b3dsRun(t, ctx, "open "+u, chromedp.NavigateResponse(u))
	if res == nil {
		t.Fatalf("browser: open %s: no response", u)
	}
	return res.Status
}

// b3dsSubmit types otp into #otp, clicks #submit and waits until whatever
// page the form leads to (after any redirects) has loaded; it returns that
// document's HTTP status.
func b3dsSubmit(t *testing.T, ctx context.Context, otp string) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	res, err := chromedp.RunResponse(sctx,
		chromedp.WaitVisible(chromedp.ID("otp")),
		chromedp.SendKeys(chromedp.ID("otp"), otp),
		chromedp.Click(chromedp.ID("submit")))
	if err != nil {
		t.Fatalf("browser: submitting an OTP: %v", err)
	}
	if res == nil {
		t.Fatal("browser: submitting an OTP: no response")
	}
	return res.Status
}

// b3dsWaitVisible waits for an element of the page now in the tab.
func b3dsWaitVisible(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, b3dsStep)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
		t.Fatalf("browser: #%s never became visible (%v); the page is %s:\n%s", id, err,
			b3dsLocation(t, ctx), b3dsText(t, ctx))
	}
}

// b3dsText is what the page says: document.body.innerText.
func b3dsText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read the page text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// b3dsHTML is the page's whole markup as the browser holds it.
func b3dsHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read the page markup", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// b3dsState is <main data-state>, "" when there is none.
func b3dsState(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read data-state",
		chromedp.Evaluate[string](`(function(){ var m = document.querySelector("main"); return m && m.dataset.state || ""; })()`))
}

// b3dsElemText is the visible text of the element with this id.
func b3dsElemText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return strings.TrimSpace(b3dsRun(t, ctx, "read #"+id, chromedp.Text(chromedp.ID(id))))
}

func b3dsLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	return b3dsRun(t, ctx, "read the location", chromedp.Location())
}

// b3dsAtReturn checks that the tab is on the merchant's return site (its
// #back heading showing) and returns the query the browser arrived with.
func b3dsAtReturn(t *testing.T, ctx context.Context, rs *returnSite) url.Values {
	t.Helper()
	b3dsWaitVisible(t, ctx, "back")
	loc := b3dsLocation(t, ctx)
	base := strings.Split(rs.URL, "?")[0]
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, base+"?") {
		t.Fatalf("browser is at %q, want the return_url %s", loc, rs.URL)
	}
	q := u.Query()
	// The site must have served that very arrival. (Not just rs.last():
	// the browser also asks the site for /favicon.ico, with no query.)
	rs.mu.Lock()
	seen := false
	for _, got := range rs.got {
		seen = seen || got.Encode() == q.Encode()
	}
	rs.mu.Unlock()
	if !seen {
		t.Errorf("the return site never served the browser's arrival with %v", q)
	}
	return q
}

// b3dsWantQuery checks the outcome the return URL carries.
func b3dsWantQuery(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("return query %s=%q, want %q (query %v)", k, got, v, q)
		}
	}
	if st := want["status"]; (st == "active" || st == "succeeded") && q.Has("reason") {
		t.Errorf("return query has reason=%q on a success (query %v)", q.Get("reason"), q)
	}
}

// b3dsNoPAN fails if the page, as rendered or in its markup, holds the full
// card number.
func b3dsNoPAN(t *testing.T, ctx context.Context, number string) {
	t.Helper()
	if strings.Contains(b3dsText(t, ctx), number) || strings.Contains(b3dsHTML(t, ctx), number) {
		t.Errorf("the page shows the full card number %s", number)
	}
}

// b3dsPNG checks a screenshot file is there and is a non-empty PNG.
func b3dsPNG(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if fi.Size() == 0 {
		t.Fatalf("screenshot %s is empty", path)
	}
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a PNG", path)
	}
}

// b3dsAwaitStatus polls GET path until its status is want.
func b3dsAwaitStatus(t *testing.T, s *server, path, want string, within time.Duration) resp {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g := s.call("GET", path, s.Dev.SecretKey, nil).want(t, 200)
		if g.str("status") == want {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: status still %q after %s, want %q: %s", path, g.str("status"), within, want, g.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withWebhookRetryBase shortens the first retry's delay.
func withWebhookRetryBase(d time.Duration) option {
	return func(c *app.Config) { c.WebhookRetryBase = d }
}

// receiver is a merchant's webhook endpoint: it verifies every delivery with
// the independent Standard Webhooks library and records what it accepted.
type receiver struct {
	URL    string
	t      testing.TB
	mu     sync.Mutex
	secret string
	fail   int // answer 500 to this many deliveries first
	calls  int
	got    []map[string]any // accepted events, in arrival order
	ids    map[string]int   // webhook-id → deliveries accepted
	bad    int              // deliveries whose signature did not verify
}

func newReceiver(t testing.TB) *receiver {
	rv := &receiver{t: t, ids: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.calls++
		wh, err := standardwebhooks.NewWebhook(rv.secret)
		if err != nil || wh.Verify(body, r.Header) != nil {
			rv.bad++
			w.WriteHeader(400)
			return
		}
		if rv.fail > 0 {
			rv.fail--
			w.WriteHeader(500)
			return
		}
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil || e["id"] != r.Header.Get("webhook-id") {
			rv.bad++
			w.WriteHeader(400)
			return
		}
		rv.ids[r.Header.Get("webhook-id")]++
		rv.got = append(rv.got, e)
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	rv.URL = srv.URL + "/hooks"
	return rv
}

// ofType lists the accepted events of a type.
func (rv *receiver) ofType(typ string) []map[string]any {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	var out []map[string]any
	for _, e := range rv.got {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func (rv *receiver) register(t testing.TB, s *server, key string, events ...string) string {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	r := s.call("POST", "/v1/webhook_endpoints", key, map[string]any{"url": rv.URL, "events": events}).want(t, 201)
	if !strings.HasPrefix(r.str("secret"), "whsec_") {
		t.Fatalf("endpoint: %s", r.Raw)
	}
	rv.mu.Lock()
	rv.secret = r.str("secret")
	rv.mu.Unlock()
	return r.str("id")
}

func waitUntil(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// callbackSecret reads the merchant's callback signing secret.
func (s *server) callbackSecret(key string) (string, error) {
	r := s.call("GET", "/v1/merchant", key, nil)
	return r.str("callback_secret"), nil
}

// rwPrivate sets the operator's webhook address policy explicitly.
func rwPrivate(allow bool) option {
	return func(c *app.Config) { c.WebhooksAllowPrivate = &allow }
}

// rwEvents lists a merchant's events for a query ("type=…&object=…").
func rwEvents(t testing.TB, s *server, key, query string) []map[string]any {
	t.Helper()
	r := s.call("GET", "/v1/events?limit=100&"+query, key, nil).want(t, 200)
	var out []map[string]any
	for _, e := range r.Body["data"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// rwTypes lists the types of events, oldest first.
func rwTypes(evs []map[string]any) []string {
	out := make([]string, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i]["type"].(string))
	}
	return out
}
