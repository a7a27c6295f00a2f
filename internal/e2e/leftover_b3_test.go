package e2e

// Helpers of the checkout-session files that moved to internal/e2e/checkout
// (sessions, the hosted page in the browser, the browser smoke test) and
// that files still here use. Copied as they were; they go when those files
// move to the harness names.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/browsertest"
)

// encryptFor encrypts a card the way a browser's WebCrypto does for a
// session: RSA-OAEP SHA-256 under the session's key, the session id as label.
func encryptFor(t testing.TB, sess resp, number, cvc string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(sess.str("encryption_key", "spki"))
	if err != nil {
		t.Fatalf("spki: %v: %s", err, sess.Raw)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 4, "cvc": cvc, "holder_name": "Siti Aminah"})
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.(*rsa.PublicKey), plain, []byte(sess.str("id")))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func newSession(t testing.TB, s *server, key string, body map[string]any) resp {
	t.Helper()
	return s.call("POST", "/v1/sessions", key, body).want(t, 201)
}

// bsStep bounds one browser step.
const bsStep = 15 * time.Second

// bsExp is a future expiry as typed into the page (MMYY) and its year.
func bsExp() (string, int) {
	y := time.Now().Year() + 4
	return fmt.Sprintf("12%02d", y%100), y
}

// bsTo is the merchant URL for one outcome on the return site: the site's
// own query (cart=42) plus to=<outcome>, so the test can tell which of the
// session's URLs the browser ended on.
func bsTo(rs *returnSite, outcome string) string { return rs.URL + "&to=" + outcome }

// bsLanded checks the browser is on the return site for outcome, with the
// session's id added to the merchant's own query.
func bsLanded(t *testing.T, ctx context.Context, rs *returnSite, outcome, sessionID string) {
	t.Helper()
	bsWait(t, ctx, "the merchant's "+outcome+" page", `!!document.getElementById("back")`)
	q := b3dsAtReturn(t, ctx, rs)
	b3dsWantQuery(t, q, map[string]string{"to": outcome, "session_id": sessionID, "cart": "42"})
}

// bsWait polls a JavaScript condition until it holds. Evaluation errors (the
// page navigating away under it) are retried, not fatal.
func bsWait(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(bsStep)
	for {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("browser: %s never happened (last error %v); the page is %s:\n%s", what, err, loc, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bsJS evaluates an expression in the page.
func bsJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return b3dsRun(t, ctx, expr, chromedp.Evaluate[T](expr))
}

// bsDo runs steps with a step timeout and fails the test on error.
func bsDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, bsStep)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// bsType clicks into the field and types keys as a person would.
func bsType(t *testing.T, ctx context.Context, id, keys string) {
	t.Helper()
	bsDo(t, ctx, "type into #"+id, chromedp.Click(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), keys))
}

func bsClick(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	bsDo(t, ctx, "click #"+id, chromedp.Click(chromedp.ID(id)))
}

// bsShown is the trimmed text of an element, "" when it is absent or hidden.
func bsShown(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return bsJS[string](t, ctx, fmt.Sprintf(`(function(){ var e = document.getElementById(%q); return e && !e.hidden && e.offsetParent !== null ? e.textContent.trim() : ""; })()`, id))
}

// bsOpenCheckout loads a session's page and waits until its script is
// ready (it enables the pay button).
func bsOpenCheckout(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	if st := b3dsOpen(t, ctx, u); st != 200 {
		t.Fatalf("checkout page %s: HTTP %d:\n%s", u, st, b3dsText(t, ctx))
	}
	if st := b3dsState(t, ctx); st != "open" {
		t.Fatalf("checkout page: data-state %q, want open:\n%s", st, b3dsText(t, ctx))
	}
	bsWait(t, ctx, "the pay button enabled by the page's script", `!document.getElementById("pay").disabled`)
}

// bsFillCard types a new card into the page's form.
func bsFillCard(t *testing.T, ctx context.Context, number, cvc, name string) {
	t.Helper()
	exp, _ := bsExp()
	bsType(t, ctx, "number", number)
	bsType(t, ctx, "exp", exp)
	bsType(t, ctx, "cvc", cvc)
	bsType(t, ctx, "name", name)
	for _, f := range []string{"number", "exp", "cvc", "name"} {
		if e := bsShown(t, ctx, f+"-error"); e != "" {
			t.Errorf("#%s-error %q for a valid card", f, e)
		}
	}
}

// bsConsole records the tab's console errors and uncaught exceptions (a CSP
// violation or a broken script shows there) and returns a check that fails
// the test on any seen so far. Network errors (a 402 for a declined card,
// say) are expected answers, not faults of the page.
func bsConsole(t *testing.T, ctx context.Context) func(when string) {
	var mu sync.Mutex
	var errs []string
	go func() {
		for msg, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if (msg.Type == chromedp.ConsoleError || msg.Type == chromedp.ConsoleException) && msg.Source != "network" &&
				!strings.Contains(msg.URL+msg.Text, "favicon") {
				mu.Lock()
				errs = append(errs, string(msg.Type)+" ("+msg.Source+"): "+msg.Text+" at "+msg.URL)
				mu.Unlock()
			}
		}
	}()
	return func(when string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser console %s: %s", when, e)
		}
		errs = nil
	}
}

// rvExpireNow moves a session's expiry into the past through the database,
// as time would (60 s is the shortest expires_in a merchant may ask for).
func rvExpireNow(t testing.TB, s *server, sessionID string) {
	t.Helper()
	if _, err := openDB(t, s).Exec(rebind(s, `UPDATE sessions SET expires_at = ? WHERE id = ?`),
		time.Now().Add(-time.Second).UnixMicro(), sessionID); err != nil {
		t.Fatal(err)
	}
}

// rvDBStatus reads a session's status straight from the database.
func rvDBStatus(t testing.TB, s *server, sessionID string) string {
	t.Helper()
	var st string
	if err := openDB(t, s).QueryRow(rebind(s, `SELECT status FROM sessions WHERE id = ?`), sessionID).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// browserTimeout bounds one test's whole use of its browser, start included,
// so a hung page fails the test instead of the 20-minute CI timeout.
const browserTimeout = 60 * time.Second

// newBrowser starts a fresh headless Chromium for t (internal/browsertest)
// and returns a context for one tab in it.
func newBrowser(t *testing.T) context.Context { return browsertest.New(t, browserTimeout) }

// screenshot saves a full-page PNG of the tab and returns its path. It goes
// to $COFFER_SCREENSHOT_DIR when set (to keep, e.g. as CI artifacts, or to
// look at), else to a directory removed with the test.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("COFFER_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, t.Name()+"-"+name) + ".png"
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %s", name, path)
	return path
}
