package harness

// Browser page helpers: each drives the tab in ctx (from NewBrowser) one
// bounded step at a time and fails the test with the step's name, so a page
// that never comes fails here instead of at the browser's overall deadline.

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// BrowserStep bounds one browser step, so a page that never comes fails with
// the step's name instead of at the browser's overall deadline.
const BrowserStep = 15 * time.Second

// RunStep runs one action with a step timeout and fails the test on error.
func RunStep[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, BrowserStep)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// Steps runs steps in order with one step timeout and fails the test on error.
func Steps(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, BrowserStep)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// JS evaluates an expression in the page and returns its value.
func JS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return RunStep(t, ctx, expr, chromedp.Evaluate[T](expr))
}

// WaitJS polls a JavaScript condition until it holds. Evaluation errors (the
// page navigating away under it) are retried, not fatal.
func WaitJS(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(BrowserStep)
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

// WaitVisible waits for the element with this id in the page now in the tab.
func WaitVisible(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, BrowserStep)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
		t.Fatalf("browser: #%s never became visible (%v); the page is %s:\n%s", id, err,
			PageLocation(t, ctx), PageText(t, ctx))
	}
}

// Open loads u in the tab and returns the document's HTTP status.
func Open(t *testing.T, ctx context.Context, u string) int64 {
	t.Helper()
	res := RunStep(t, ctx, "open "+u, chromedp.NavigateResponse(u))
	if res == nil {
		t.Fatalf("browser: open %s: no response", u)
	}
	return res.Status
}

// Type clicks into the field with this id and types keys as a person would.
func Type(t *testing.T, ctx context.Context, id, keys string) {
	t.Helper()
	Steps(t, ctx, "type into #"+id, chromedp.Click(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), keys))
}

// Click clicks the element with this id.
func Click(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	Steps(t, ctx, "click #"+id, chromedp.Click(chromedp.ID(id)))
}

// Shown is the trimmed text of an element, "" when it is absent or hidden.
func Shown(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return JS[string](t, ctx, fmt.Sprintf(`(function(){ var e = document.getElementById(%q); return e && !e.hidden && e.offsetParent !== null ? e.textContent.trim() : ""; })()`, id))
}

// PageText is what the page says: document.body.innerText.
func PageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return RunStep(t, ctx, "read the page text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// PageHTML is the page's whole markup as the browser holds it.
func PageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	return RunStep(t, ctx, "read the page markup", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// PageState is the page's <main data-state>, "" when there is none.
func PageState(t *testing.T, ctx context.Context) string {
	t.Helper()
	return RunStep(t, ctx, "read data-state",
		chromedp.Evaluate[string](`(function(){ var m = document.querySelector("main"); return m && m.dataset.state || ""; })()`))
}

// ElementText is the visible text of the element with this id, trimmed.
func ElementText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return strings.TrimSpace(RunStep(t, ctx, "read #"+id, chromedp.Text(chromedp.ID(id))))
}

// PageLocation is the URL of the document now in the tab.
func PageLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	return RunStep(t, ctx, "read the location", chromedp.Location())
}

// PageNoPAN fails if the page, as rendered or in its markup, holds the full
// card number.
func PageNoPAN(t *testing.T, ctx context.Context, number string) {
	t.Helper()
	if strings.Contains(PageText(t, ctx), number) || strings.Contains(PageHTML(t, ctx), number) {
		t.Errorf("the page shows the full card number %s", number)
	}
}

// WantPNG checks a screenshot file (from Screenshot) is there and is a
// non-empty PNG.
func WantPNG(t *testing.T, path string) {
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

// WatchConsole records the tab's console errors and uncaught exceptions (a
// CSP violation or a broken script shows there) and returns a check that
// fails the test on any seen so far. Network errors (a 402 for a declined
// card, say) are expected answers, not faults of the page.
func WatchConsole(t *testing.T, ctx context.Context) func(when string) {
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

// FrameURL is the URL of the first iframe's document ("" if none), or the
// URL it failed to load (a framing refused, say) with unreachable set.
func FrameURL(t *testing.T, ctx context.Context) (u string, unreachable bool) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	tree, err := chromedp.Call(sctx, cdppage.GetFrameTree, cdp.Empty{})
	if err != nil || tree.FrameTree == nil || len(tree.FrameTree.ChildFrames) == 0 {
		return "", false
	}
	f := tree.FrameTree.ChildFrames[0].Frame
	if f.UnreachableURL != "" {
		return f.UnreachableURL, true
	}
	return f.URL, false
}

// InFrame runs steps on elements in the document of the page's first
// iframe (same site, so in the page's process).
func InFrame(t *testing.T, ctx context.Context, what string, steps func(in chromedp.QueryOption) []chromedp.Action[chromedp.Void]) {
	t.Helper()
	nodes := RunStep(t, ctx, "find the iframe", chromedp.Nodes(chromedp.CSS("iframe")))
	Steps(t, ctx, what+" in the iframe", steps(chromedp.FromNode(nodes[0]))...)
}

// FrameHas says whether the first iframe's document has an element with
// this id.
func FrameHas(t *testing.T, ctx context.Context, id string) bool {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	frames, err := chromedp.Run(sctx, chromedp.Nodes(chromedp.CSS("iframe"), chromedp.AtLeast(0)))
	if err != nil || len(frames) == 0 {
		return false
	}
	found, err := chromedp.Run(sctx, chromedp.Nodes(chromedp.ID(id), chromedp.FromNode(frames[0]), chromedp.AtLeast(0)))
	return err == nil && len(found) > 0
}

// FrameWith waits (bounded by BrowserTimeout) until the iframe that frame
// selects holds an element with this id, and returns that iframe's node.
// The node is looked up again on every try: an iframe found before its
// page has loaded still shows its first, empty document.
func FrameWith(t *testing.T, ctx context.Context, frame, id string) *chromedp.Node {
	t.Helper()
	deadline := time.Now().Add(BrowserTimeout)
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		frames, err := chromedp.Run(sctx, chromedp.Nodes(chromedp.CSS(frame), chromedp.AtLeast(0)))
		if err == nil && len(frames) > 0 {
			found, ferr := chromedp.Run(sctx, chromedp.Nodes(chromedp.ID(id), chromedp.FromNode(frames[0]), chromedp.AtLeast(0)))
			if ferr == nil && len(found) > 0 {
				cancel()
				return frames[0]
			}
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("browser: no #%s in %s within %s", id, frame, BrowserTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// OpenCheckout loads a session's hosted checkout page and waits until its
// script is ready (it enables the pay button).
func OpenCheckout(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	if st := Open(t, ctx, u); st != 200 {
		t.Fatalf("checkout page %s: HTTP %d:\n%s", u, st, PageText(t, ctx))
	}
	if st := PageState(t, ctx); st != "open" {
		t.Fatalf("checkout page: data-state %q, want open:\n%s", st, PageText(t, ctx))
	}
	WaitJS(t, ctx, "the pay button enabled by the page's script", `!document.getElementById("pay").disabled`)
}

// TypedExpiry is a future expiry as typed into the checkout page (MMYY) and
// its year.
func TypedExpiry() (string, int) {
	y := time.Now().Year() + 4
	return fmt.Sprintf("12%02d", y%100), y
}

// FillCard types a new card into the checkout page's form and fails the
// test if the page flags any field of it.
func FillCard(t *testing.T, ctx context.Context, number, cvc, name string) {
	t.Helper()
	exp, _ := TypedExpiry()
	Type(t, ctx, "number", number)
	Type(t, ctx, "exp", exp)
	Type(t, ctx, "cvc", cvc)
	Type(t, ctx, "name", name)
	for _, f := range []string{"number", "exp", "cvc", "name"} {
		if e := Shown(t, ctx, f+"-error"); e != "" {
			t.Errorf("#%s-error %q for a valid card", f, e)
		}
	}
}

// EnterOTP types otp into the challenge page's #otp, clicks #submit and
// waits until whatever page the form leads to (after any redirects) has
// loaded; it returns that document's HTTP status.
func EnterOTP(t *testing.T, ctx context.Context, otp string) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, BrowserStep)
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

// AtReturn checks that the tab is on the merchant's return site (its #back
// heading showing) and returns the query the browser arrived with.
func AtReturn(t *testing.T, ctx context.Context, rs *ReturnSite) url.Values {
	t.Helper()
	WaitVisible(t, ctx, "back")
	loc := PageLocation(t, ctx)
	base := strings.Split(rs.URL, "?")[0]
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, base+"?") {
		t.Fatalf("browser is at %q, want the return_url %s", loc, rs.URL)
	}
	q := u.Query()
	// The site must have served that very arrival. (Not just rs.Last():
	// the browser also asks the site for /favicon.ico, with no query.)
	if !rs.served(q) {
		t.Errorf("the return site never served the browser's arrival with %v", q)
	}
	return q
}

// WantQuery checks the outcome a return URL carries; on a success it also
// wants no reason.
func WantQuery(t *testing.T, q url.Values, want map[string]string) {
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

// Landed checks the browser is on the return site for outcome (see
// ReturnSite.To), with the session's id added to the merchant's own query.
func Landed(t *testing.T, ctx context.Context, rs *ReturnSite, outcome, sessionID string) {
	t.Helper()
	WaitJS(t, ctx, "the merchant's "+outcome+" page", `!!document.getElementById("back")`)
	q := AtReturn(t, ctx, rs)
	WantQuery(t, q, map[string]string{"to": outcome, "session_id": sessionID, "cart": "42"})
}
