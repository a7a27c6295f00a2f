package checkout

// A real-browser test of the checkout page's script: headless Chromium types
// a card the way a person does, and the test checks what the page shows and
// what it sends: only a ciphertext that the session's private key, with the
// session id as the OAEP label, turns back into exactly the typed card.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/browsertest"

	"github.com/coffer-vault/coffer/internal/payment"
)

// browserStep bounds one browser step, so a page that never comes fails
// with the step's name instead of at the browser's overall deadline.
const browserStep = 15 * time.Second

// newBrowser starts a fresh headless Chromium for t (internal/browsertest).
func newBrowser(t *testing.T) context.Context { return browsertest.New(t, 90*time.Second) }

// run runs one action with a step timeout and fails the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return run(t, ctx, expr, chromedp.Evaluate[T](expr))
}

// shot saves a full-page screenshot under the test's temporary directory
// (or $COFFER_SCREENSHOT_DIR) and returns its path.
func shot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a PNG", name)
	}
	dir := os.Getenv("COFFER_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "checkout-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %s", name, path)
	return path
}

// clear empties an input as a person selecting all and deleting would.
func clear(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	js[bool](t, ctx, fmt.Sprintf(`(function(){ var e = document.getElementById(%q); e.value = ""; e.dispatchEvent(new InputEvent("input", {inputType: "deleteContentBackward"})); return true; })()`, id))
}

func typeInto(t *testing.T, ctx context.Context, id, keys string) {
	t.Helper()
	do(t, ctx, "type into #"+id, chromedp.Click(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), keys))
}

func value(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return js[string](t, ctx, fmt.Sprintf(`document.getElementById(%q).value`, id))
}

// shown is the text of an element, or "" when it is hidden.
func shown(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return js[string](t, ctx, fmt.Sprintf(`(function(){ var e = document.getElementById(%q); return e && !e.hidden && e.offsetParent !== null ? e.textContent.trim() : ""; })()`, id))
}

// waitFor polls a JavaScript condition until it holds.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(browserStep)
	for !js[bool](t, ctx, cond) {
		if time.Now().After(deadline) {
			t.Fatalf("browser: %s never happened; the page says:\n%s", what, js[string](t, ctx, `document.body ? document.body.innerText : ""`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noHorizontalScroll fails if the page is wider than the window.
func noHorizontalScroll(t *testing.T, ctx context.Context, width int) {
	t.Helper()
	if w := js[float64](t, ctx, `document.documentElement.scrollWidth`); int(w) > width {
		t.Errorf("at %d px the page is %v px wide: it scrolls sideways", width, w)
	}
}

// decrypt opens what the page sent, as the payment service does.
func decrypt(t *testing.T, b64, sessionID string) string {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("encrypted_card is not standard base64: %v", err)
	}
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, testKey(), ct, []byte(sessionID))
	if err != nil {
		t.Fatalf("encrypted_card does not decrypt with the session key and id: %v", err)
	}
	return string(pt)
}

func TestBrowserCheckout(t *testing.T) {
	f := &fakeSessions{}
	logs := &bytes.Buffer{}
	p := New(nil, f, slog.New(slog.NewJSONHandler(logs, nil)))
	mux := http.NewServeMux()
	routes(mux, p)
	// The merchant's pages, on the same test server for simplicity.
	mux.HandleFunc("GET /shop/{what}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1 id="shop">%s</h1>`, r.PathValue("what"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	view := openView()
	view.PageURL = srv.URL + "/pay/" + testSession
	f.view = view
	pageURL := view.PageURL
	ctx := newBrowser(t)

	// The console's errors: a CSP violation or an exception in the script
	// shows there.
	var consoleMu sync.Mutex
	var consoleErrors []string
	go func() {
		for msg, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if (msg.Type == chromedp.ConsoleError || msg.Type == chromedp.ConsoleException) && !strings.Contains(msg.URL+msg.Text, "favicon") {
				consoleMu.Lock()
				consoleErrors = append(consoleErrors, string(msg.Type)+": "+msg.Text+" ("+msg.URL+")")
				consoleMu.Unlock()
			}
		}
	}()
	checkConsole := func(when string) {
		t.Helper()
		consoleMu.Lock()
		defer consoleMu.Unlock()
		for _, e := range consoleErrors {
			t.Errorf("console %s: %s", when, e)
		}
		consoleErrors = nil
	}

	// ---- The page loads, its script runs, it looks right at 1280 px.
	do(t, ctx, "open the page", chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.ID("number")))
	waitFor(t, ctx, "the pay button enabled by the script", `!document.getElementById("pay").disabled`)
	// Whatever the script does must be within the page's policy.
	js[bool](t, ctx, `(function(){ window.cspViolations = []; document.addEventListener("securitypolicyviolation", function (e) { window.cspViolations.push(e.violatedDirective + " " + e.blockedURI); }); return true; })()`)
	if st := js[string](t, ctx, `document.querySelector("main").dataset.state`); st != "open" {
		t.Errorf("data-state %q", st)
	}
	if ok := js[bool](t, ctx, `(function(){ var i = document.getElementById("qr"); return i.complete && i.naturalWidth > 0; })()`); !ok {
		t.Error("the QR code did not load")
	}
	shot(t, ctx, "1280")

	// ---- Formatting and brand as typed, spaces and all.
	typeInto(t, ctx, "number", "3782 8224 6310 005")
	if v := value(t, ctx, "number"); v != "3782 822463 10005" {
		t.Errorf("Amex formatted as %q, want 3782 822463 10005", v)
	}
	if b := shown(t, ctx, "number-brand"); b != "American Express" {
		t.Errorf("brand %q, want American Express", b)
	}
	if ml := js[float64](t, ctx, `document.getElementById("cvc").maxLength`); ml != 4 {
		t.Errorf("Amex CVC maxlength %v, want 4", ml)
	}
	clear(t, ctx, "number")

	// ---- A Luhn-invalid number is flagged and nothing is sent.
	typeInto(t, ctx, "number", "4242 4242 4242 4241")
	if v := value(t, ctx, "number"); v != "4242 4242 4242 4241" {
		t.Errorf("Visa formatted as %q", v)
	}
	if b := shown(t, ctx, "number-brand"); b != "Visa" {
		t.Errorf("brand %q, want Visa", b)
	}
	if e := shown(t, ctx, "number-error"); !strings.Contains(e, "not valid") {
		t.Errorf("#number-error %q for a Luhn-invalid number", e)
	}
	if inv := js[string](t, ctx, `document.getElementById("number").getAttribute("aria-invalid")`); inv != "true" {
		t.Errorf("aria-invalid %q", inv)
	}
	typeInto(t, ctx, "exp", "1234")
	if v := value(t, ctx, "exp"); v != "12 / 34" {
		t.Errorf("expiry formatted as %q, want 12 / 34", v)
	}
	typeInto(t, ctx, "cvc", "123")
	typeInto(t, ctx, "name", "Zoë Ångström")
	do(t, ctx, "pay", chromedp.Click(chromedp.ID("pay")))
	time.Sleep(300 * time.Millisecond)
	if n := len(f.got()); n != 0 {
		t.Fatalf("an invalid card was sent (%d confirmations)", n)
	}
	if e := shown(t, ctx, "number-error"); e == "" {
		t.Error("#number-error gone after pressing pay")
	}
	if a := js[string](t, ctx, `document.activeElement.id`); a != "number" {
		t.Errorf("focus on #%s, want the wrong field", a)
	}

	// ---- A valid card: only its ciphertext is sent, and it holds exactly
	// the typed card. The double declines it.
	f.mu.Lock()
	f.result = payment.PageResult{Error: &payment.PageError{Message: "Your card was declined.", Field: "card"}}
	f.mu.Unlock()
	clear(t, ctx, "number")
	typeInto(t, ctx, "number", "4000 0566 5566 5556")
	if e := shown(t, ctx, "number-error"); e != "" {
		t.Errorf("#number-error %q for a valid number", e)
	}
	do(t, ctx, "tick save", chromedp.Click(chromedp.ID("save")))
	do(t, ctx, "pay", chromedp.Click(chromedp.ID("pay")))
	waitFor(t, ctx, "the decline shown", `document.getElementById("form-error").textContent.indexOf("declined") >= 0`)
	got := f.got()
	if len(got) != 1 {
		t.Fatalf("%d confirmations, want 1", len(got))
	}
	if got[0].Token != "" || got[0].CVC != "" || !got[0].SaveCard || got[0].EncryptedCard == "" {
		t.Errorf("confirmation %+v", got[0])
	}
	const wantCard = `{"number":"4000056655665556","exp_month":12,"exp_year":2034,"cvc":"123","holder_name":"Zoë Ångström"}`
	if card := decrypt(t, got[0].EncryptedCard, testSession); card != wantCard {
		t.Errorf("decrypted card %s, want %s", card, wantCard)
	}
	// Bound to this session: another session's id as the label fails.
	ct, _ := base64.StdEncoding.DecodeString(got[0].EncryptedCard)
	if _, err := rsa.DecryptOAEP(sha256.New(), nil, testKey(), ct, []byte("ps_another")); err == nil {
		t.Error("the ciphertext opens under another session's id")
	}
	if e := shown(t, ctx, "form-error"); e != "Your card was declined." {
		t.Errorf("#form-error %q", e)
	}
	if d := js[bool](t, ctx, `document.getElementById("pay").disabled`); d {
		t.Error("the pay button stays disabled after a decline")
	}
	if l := js[string](t, ctx, `document.getElementById("pay").textContent`); l != "Pay MYR 30.00" {
		t.Errorf("pay button %q after a decline", l)
	}
	if a := js[string](t, ctx, `document.activeElement.id`); a != "number" {
		t.Errorf("focus on #%s after a decline, want #number to enter another card", a)
	}
	// Nothing of the card is anywhere in the page's markup but the fields.
	if html := js[string](t, ctx, `document.documentElement.outerHTML`); strings.Contains(html, "4000056655665556") || strings.Contains(html, "5556") {
		t.Error("the card number is in the page's markup")
	}

	if v := js[string](t, ctx, `window.cspViolations.join("; ")`); v != "" {
		t.Errorf("CSP violations: %s", v)
	}
	checkConsole("on the first page")

	// ---- Another card; the double answers a redirect, the page follows.
	f.mu.Lock()
	f.result = payment.PageResult{Redirect: srv.URL + "/shop/paid?session=" + testSession}
	f.mu.Unlock()
	clear(t, ctx, "number")
	typeInto(t, ctx, "number", "5555555555554444")
	if v, b := value(t, ctx, "number"), shown(t, ctx, "number-brand"); v != "5555 5555 5555 4444" || b != "Mastercard" {
		t.Errorf("Mastercard: %q %q", v, b)
	}
	if e := shown(t, ctx, "form-error"); e != "Your card was declined." {
		t.Errorf("the decline's message was cleared before paying again: %q", e)
	}
	do(t, ctx, "pay", chromedp.Click(chromedp.ID("pay")))
	waitFor(t, ctx, "the merchant's page", `!!document.getElementById("shop")`)
	if loc := run(t, ctx, "location", chromedp.Location()); loc != srv.URL+"/shop/paid?session="+testSession {
		t.Errorf("landed on %s", loc)
	}
	got = f.got()
	if len(got) != 2 {
		t.Fatalf("%d confirmations, want 2", len(got))
	}
	if card := decrypt(t, got[1].EncryptedCard, testSession); !strings.Contains(card, `"number":"5555555555554444"`) {
		t.Errorf("second card %s", card)
	}

	// ---- Saved cards, CVC only; and the page at 360 px.
	view.SavedCards, view.SavedCardNeedsCVC = savedCards(), true
	view.Message = ""
	f.mu.Lock()
	f.view, f.result = view, payment.PageResult{Redirect: srv.URL + "/shop/saved?session=" + testSession}
	f.mu.Unlock()
	do(t, ctx, "a phone-sized window", chromedp.EmulateViewport(360, 740), chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.ID("saved-cvc")))
	waitFor(t, ctx, "the pay button enabled", `!document.getElementById("pay").disabled`)
	noHorizontalScroll(t, ctx, 360)
	shot(t, ctx, "360-saved")
	if js[bool](t, ctx, `document.getElementById("new-card-fields").offsetParent !== null`) {
		t.Error("the new-card form shows while a saved card is chosen")
	}
	do(t, ctx, "pay without a CVC", chromedp.Click(chromedp.ID("pay")))
	if e := shown(t, ctx, "saved-cvc-error"); e == "" {
		t.Error("no #saved-cvc-error without a CVC")
	}
	do(t, ctx, "choose the Amex", chromedp.Click(chromedp.ID("saved-tok_amex0000000002")))
	typeInto(t, ctx, "saved-cvc", "12a34")
	if v := value(t, ctx, "saved-cvc"); v != "1234" {
		t.Errorf("saved CVC %q", v)
	}
	do(t, ctx, "pay with the saved card", chromedp.Click(chromedp.ID("pay")))
	waitFor(t, ctx, "the merchant's page", `!!document.getElementById("shop")`)
	got = f.got()
	if len(got) != 3 || got[2] != (payment.PageConfirm{Token: "tok_amex0000000002", CVC: "1234"}) {
		t.Errorf("saved-card confirmation %+v", got[len(got)-1])
	}

	// The new-card form at 360 px, with an error showing.
	do(t, ctx, "back to the page", chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.ID("new-card")))
	waitFor(t, ctx, "the pay button enabled", `!document.getElementById("pay").disabled`)
	do(t, ctx, "use a new card", chromedp.Click(chromedp.ID("new-card")))
	if js[bool](t, ctx, `document.getElementById("saved-cvc").offsetParent !== null`) {
		t.Error("#saved-cvc shows for a new card")
	}
	typeInto(t, ctx, "number", "4000 0000 0000 0003")
	typeInto(t, ctx, "exp", "0")
	noHorizontalScroll(t, ctx, 360)
	shot(t, ctx, "360-new")

	// ---- Cancel: the script follows the cancel URL the server gives.
	f.mu.Lock()
	f.cancelTo = srv.URL + "/shop/canceled?session=" + testSession
	f.mu.Unlock()
	do(t, ctx, "cancel", chromedp.Click(chromedp.ID("cancel")))
	waitFor(t, ctx, "the cancel page", `!!document.getElementById("shop")`)
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/shop/canceled?session="+testSession) {
		t.Errorf("canceled to %s", loc)
	}

	// ---- A final page, as the holder would see it at 1280 px.
	view.State, view.Message = "expired", "This payment link expired at 14:05."
	f.mu.Lock()
	f.view = view
	f.mu.Unlock()
	do(t, ctx, "a desktop window", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.ID("message")))
	if st := js[string](t, ctx, `document.querySelector("main").dataset.state`); st != "expired" {
		t.Errorf("data-state %q", st)
	}
	shot(t, ctx, "expired")

	checkConsole("later")
	if strings.Contains(logs.String(), "ERROR") {
		t.Errorf("errors logged: %s", logs)
	}
	var confirms []string
	for _, c := range f.got() {
		b, _ := json.Marshal(c)
		confirms = append(confirms, string(b))
	}
	t.Logf("confirmations: %d", len(confirms))
}
