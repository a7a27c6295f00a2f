package fields

// Real-browser tests of the drop-in card fields: the merchant's page is
// served by a second httptest server (another loopback origin, so the
// browser treats it as another site's page), loads coffer.js from Coffer
// and mounts the fields; headless Chromium types into the Coffer-served
// frames as a person would. The merchant page records every message it
// receives, from anyone, so the test can show none carries the card.

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// shopPage is the merchant's sample checkout page: an order summary, the
// card fields and a pay button. window.pay(session, secret) confirms and
// leaves the outcome in window.__result or window.__error; every message
// the page receives is kept (stringified) in window.__messages.
const shopPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Kopi Corner · Checkout</title>
<style>
  body { margin: 0; font-family: system-ui, sans-serif; background: #f4efe9; color: #2b2118; }
  header { background: #2b2118; color: #f4efe9; padding: 14px 20px; font-weight: 700; letter-spacing: .02em; }
  main { max-width: 960px; margin: 24px auto; padding: 0 16px; display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
  @media (max-width: 700px) { main { grid-template-columns: 1fr; } }
  section { background: #fff; border-radius: 12px; padding: 20px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  h2 { margin: 0 0 12px; font-size: 1.1rem; }
  .line { display: flex; justify-content: space-between; padding: 6px 0; border-bottom: 1px solid #eee; }
  .total { font-weight: 700; border: 0; padding-top: 12px; }
  button { width: 100%%; margin-top: 8px; padding: 12px; font-size: 1rem; font-weight: 700; border: 0; border-radius: 8px; background: #8a4b1f; color: #fff; }
  #status { min-height: 1.2em; margin: 10px 0 0; }
</style></head>
<body>
<header>Kopi Corner</header>
<main>
  <section aria-labelledby="order-h"><h2 id="order-h">Your order</h2>
    <div class="line"><span>Kopi susu × 2</span><span>MYR 14.00</span></div>
    <div class="line"><span>Kaya toast</span><span>MYR 6.00</span></div>
    <div class="line total"><span>Total</span><span>MYR 20.00</span></div>
  </section>
  <section aria-labelledby="pay-h"><h2 id="pay-h">Pay by card</h2>
    <div id="card"></div>
    <button id="pay" type="button">Pay MYR 20.00</button>
    <p id="status" role="status"></p>
  </section>
</main>
<script src="%s/v1/coffer.js"></script>
<script>
  window.__messages = [];
  window.addEventListener("message", function (ev) {
    try { window.__messages.push(ev.origin + " " + JSON.stringify(ev.data)); } catch (e) { window.__messages.push(ev.origin + " (unserializable)"); }
  });
  var coffer = Coffer(%q, {base: %q});
  var card = coffer.cardFields("#card", {loadTimeout: 5000, style: {color: "#2b2118", fontFamily: "Georgia, 'Times New Roman', serif"}});
  window.__events = [];
  card.on("ready", function () { window.__ready = true; });
  card.on("change", function (e) { window.__events.push(e); window.__complete = e.complete; window.__brand = e.brand; });
  card.on("error", function (e) { window.__lastError = e; });
  window.pay = function (session, secret) {
    window.__result = null; window.__error = null;
    card.confirm({session: session, clientSecret: secret}).then(function (r) {
      window.__result = r; document.getElementById("status").textContent = "Paid: " + r.status;
    }, function (e) {
      window.__error = {type: e.type, message: e.message, field: e.field || ""};
      document.getElementById("status").textContent = e.message;
    });
  };
  window.tokenize = function (session, secret) {
    window.__result = null; window.__error = null;
    card.tokenize({session: session, clientSecret: secret}).then(function (r) { window.__result = r; },
      function (e) { window.__error = {type: e.type, message: e.message, field: e.field || ""}; });
  };
  window.card = card;
</script>
</body></html>`

// shop serves the merchant's page for a Coffer at base with key pk.
func shop(t *testing.T, base, pk string) *httptest.Server {
	t.Helper()
	page := fmt.Sprintf(shopPage, html.EscapeString(base), pk, base)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fieldFrame finds the iframe of one field on the merchant's page.
func fieldFrame(t *testing.T, ctx context.Context, field string) *chromedp.Node {
	t.Helper()
	nodes := harness.RunStep(t, ctx, "find the "+field+" frame",
		chromedp.Nodes(chromedp.CSS(`iframe[data-coffer-field="`+field+`"]`)))
	return nodes[0]
}

// typeInto types keys into a field's frame as a person would.
func typeInto(t *testing.T, ctx context.Context, field, keys string) {
	t.Helper()
	in := chromedp.FromNode(fieldFrame(t, ctx, field))
	harness.Steps(t, ctx, "type into the "+field+" field",
		chromedp.WaitVisible(chromedp.ID("input"), in), chromedp.Click(chromedp.ID("input"), in), chromedp.SendKeys(chromedp.ID("input"), keys, in))
}

// frameText is an element's text inside a field's frame ("" when hidden).
func frameText(t *testing.T, ctx context.Context, field, id string) string {
	t.Helper()
	in := chromedp.FromNode(fieldFrame(t, ctx, field))
	nodes := harness.RunStep(t, ctx, "read #"+id+" in the "+field+" frame", chromedp.Nodes(chromedp.ID(id), in, chromedp.AtLeast(0)))
	if len(nodes) == 0 {
		return ""
	}
	if _, hidden := nodes[0].Attribute("hidden"); hidden {
		return ""
	}
	return strings.TrimSpace(harness.RunStep(t, ctx, "text of #"+id, chromedp.Text(chromedp.ID(id), in)))
}

// fillCard types a card into the four fields.
func fillCard(t *testing.T, ctx context.Context, number string) {
	t.Helper()
	exp, _ := harness.TypedExpiry()
	typeInto(t, ctx, "number", number)
	typeInto(t, ctx, "expiry", exp)
	typeInto(t, ctx, "cvc", "123")
	typeInto(t, ctx, "name", "Siti Aminah")
	harness.WaitJS(t, ctx, "the fields say the card is complete", `window.__complete === true`)
}

// openShop loads the merchant's page and waits for the fields' ready event.
func openShop(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	if st := harness.Open(t, ctx, u); st != 200 {
		t.Fatalf("the shop's page: HTTP %d", st)
	}
	harness.WaitJS(t, ctx, "the card fields ready", `window.__ready === true`)
}

// pay confirms session r from the merchant's page.
func pay(t *testing.T, ctx context.Context, r harness.Resp) {
	t.Helper()
	harness.JS[any](t, ctx, fmt.Sprintf(`window.pay(%q, %q), null`, r.Str("id"), r.Str("client_secret")))
}

// result waits for confirm to settle and returns what it resolved to.
func result(t *testing.T, ctx context.Context) map[string]any {
	t.Helper()
	harness.WaitJS(t, ctx, "confirm settled", `!!(window.__result || window.__error)`)
	if e := harness.JS[string](t, ctx, `window.__error ? JSON.stringify(window.__error) : ""`); e != "" {
		t.Fatalf("confirm rejected: %s", e)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(harness.JS[string](t, ctx, `JSON.stringify(window.__result)`)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// panRe matches the test cards' digits in any grouping.
var panRe = regexp.MustCompile(`4242[ -]?4242|4000[ -]?0025|0025[ -]?0000[ -]?3155|"(number|cvc|value|holder_name)"\s*:`)

// noCardInParent fails if any message the merchant's page received, or any
// change event, carries card digits or a field's value.
func noCardInParent(t *testing.T, ctx context.Context) {
	t.Helper()
	msgs := harness.JS[string](t, ctx, `JSON.stringify(window.__messages) + JSON.stringify(window.__events)`)
	if m := panRe.FindString(msgs); m != "" {
		t.Errorf("the merchant's page received %q:\n%s", m, msgs)
	}
	if !strings.Contains(msgs, `\"type\":\"change\"`) {
		t.Errorf("the merchant's page logged no message from the fields at all (is the log working?):\n%s", msgs)
	}
}

// TestFieldsPay: a merchant page on another origin mounts the fields;
// typing shows the brand and the errors inside the frames; a card pays a
// session (the API agrees); a 3-D Secure card pays after the challenge is
// answered in the modal; and the page's own script can never read a digit.
func TestFieldsPay(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	merchant := shop(t, s.URL, s.Dev.PublishableKey)
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{merchant.URL}}).Want(t, 200)
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)
	openShop(t, ctx, merchant.URL)

	// Formatting, brand and errors as you type, all inside the frames.
	typeInto(t, ctx, "number", "4242424242424241")
	if e := frameText(t, ctx, "number", "input-error"); !strings.Contains(e, "not valid") {
		t.Errorf("a number failing Luhn: error %q", e)
	}
	harness.WaitJS(t, ctx, "a change event with the brand", `window.__brand === "visa"`)
	harness.JS[any](t, ctx, `window.card.clear(), null`)
	harness.WaitJS(t, ctx, "the fields cleared", `window.__complete === false && window.__events.length > 0 && window.__events[window.__events.length-1].empty`)
	fillCard(t, ctx, "4242424242424242")
	if b := frameText(t, ctx, "number", "brand"); b != "Visa" {
		t.Errorf("brand badge %q, want Visa", b)
	}
	if v := harness.RunStep(t, ctx, "read the number", chromedp.Value(chromedp.ID("input"), chromedp.FromNode(fieldFrame(t, ctx, "number")))); v != "4242 4242 4242 4242" {
		t.Errorf("the number shows %q", v)
	}

	// The merchant's script posing as the number frame (asking every frame
	// for its value, on the right channel) gets nothing: the frames take
	// such requests only from Coffer's own origin. A frame that answered
	// would also have checked its field and reported the error (the fields
	// are empty) in a change event; the clear that follows, in order on
	// the same path, marks when the frames had the request.
	harness.JS[any](t, ctx, `window.__mark = window.__events.length, window.card.clear(), null`)
	harness.WaitJS(t, ctx, "the fields cleared",
		`window.__events.slice(window.__mark).filter(function (e) { return e.empty && e.field !== "number"; }).length >= 3`)
	harness.JS[any](t, ctx, `(function(){
		window.__mark = window.__events.length;
		var ch = new URL(document.querySelector("iframe[data-coffer-field=number]").src).searchParams.get("channel");
		for (var i = 0; i < window.frames.length; i++) {
			window.frames[i].postMessage({tag: "coffer-fields", channel: ch, type: "collect", from: "number", nonce: "n"}, "*");
		}
		window.card.clear();
		return null; })()`)
	harness.WaitJS(t, ctx, "the clear after the forged requests",
		`window.__events.slice(window.__mark).filter(function (e) { return e.field !== "number"; }).length >= 3`)
	if e := harness.JS[string](t, ctx, `JSON.stringify(window.__events.slice(window.__mark).filter(function (e) { return e.error; }))`); e != "[]" {
		t.Errorf("a field answered the merchant page's forged request for its value: %s", e)
	}
	if m := harness.JS[string](t, ctx, `window.__messages.filter(function (m) { return m.indexOf('"type":"value"') >= 0; }).join("\\n")`); m != "" {
		t.Errorf("a frame sent its value to the merchant's page:\n%s", m)
	}
	harness.JS[any](t, ctx, `window.card.clear(), null`)
	fillCard(t, ctx, "4242424242424242")

	// The merchant's own script cannot reach into the frames.
	for _, probe := range []string{
		`document.querySelector('iframe[data-coffer-field="number"]').contentDocument`,
		`document.querySelector('iframe[data-coffer-field="number"]').contentWindow.document`,
		`window.frames[0].document.getElementById("input")`,
	} {
		got := harness.JS[string](t, ctx, `(function(){ try { var d = `+probe+`; if (d === null || d === undefined) return "null";`+
			` var i = d.getElementById ? d.getElementById("input") : d; return "READ " + (i && i.value); } catch (e) { return "threw " + e.name; } })()`)
		if got != "null" && !strings.HasPrefix(got, "threw") {
			t.Errorf("the merchant's script read %s: %s", probe, got)
		}
	}
	harness.PageNoPAN(t, ctx, "4242 4242 4242 4242")
	harness.PageNoPAN(t, ctx, "4242424242424242")

	shots := os.Getenv("COFFER_SCREENSHOT_DIR")
	for _, w := range []int64{1280, 360} {
		harness.Steps(t, ctx, "resize", chromedp.EmulateViewport(w, 800))
		harness.WantPNG(t, harness.Screenshot(t, ctx, fmt.Sprintf("fields-%d", w)))
	}
	if shots != "" {
		t.Logf("screenshots in %s", filepath.Clean(shots))
	}
	harness.Steps(t, ctx, "resize", chromedp.EmulateViewport(1280, 800))

	r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 2000, "currency": "MYR", "order_id": "kopi-1"})
	auths := s.Sim.Stats().Authorizations
	pay(t, ctx, r)
	out := result(t, ctx)
	if out["status"] != "succeeded" || out["session"] != r.Str("id") || out["payment"] == nil {
		t.Fatalf("confirm resolved to %v", out)
	}
	g := s.AwaitSession(t, r.Str("id"), "succeeded")
	p := s.Call("GET", "/v1/payments/"+g.Str("payment"), sk, nil).Want(t, 200)
	_, year := harness.TypedExpiry()
	if p.Str("id") != out["payment"] || p.Str("status") != "succeeded" || harness.Dig(p.Body, "amount") != float64(2000) ||
		p.Str("card", "last4") != "4242" || harness.Dig(p.Body, "card", "exp_year") != float64(year) || harness.Dig(p.Body, "card", "exp_month") != float64(12) {
		t.Errorf("payment: %s", p.Raw)
	}
	if got := s.Sim.Stats().Authorizations; got != auths+1 {
		t.Errorf("authorizations %d → %d, want one", auths, got)
	}
	noCardInParent(t, ctx)
	console("paying")

	t.Run("3-D Secure", func(t *testing.T) {
		openShop(t, ctx, merchant.URL)
		fillCard(t, ctx, "4000 0025 0000 3155")
		r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1500, "currency": "MYR"})
		pay(t, ctx, r)
		harness.WaitJS(t, ctx, "the challenge modal", `!!document.querySelector(".coffer-challenge iframe")`)
		// A second confirm while the first waits on the bank is refused;
		// the first goes on.
		harness.JS[any](t, ctx, fmt.Sprintf(`window.card.confirm({session: %q, clientSecret: %q}).then(
			function () { window.__second = "resolved"; }, function (e) { window.__second = e.message; }), null`, r.Str("id"), r.Str("client_secret")))
		harness.WaitJS(t, ctx, "the second confirm settled", `!!window.__second`)
		if m := harness.JS[string](t, ctx, `window.__second`); !strings.Contains(m, "already under way") {
			t.Errorf("a second confirm during the first: %q", m)
		}
		in := chromedp.FromNode(harness.FrameWith(t, ctx, ".coffer-challenge iframe", "otp"))
		harness.Steps(t, ctx, "the challenge in the modal", chromedp.WaitVisible(chromedp.ID("otp"), in))
		harness.WantPNG(t, harness.Screenshot(t, ctx, "fields-3ds-1280"))
		harness.Steps(t, ctx, "answer the challenge in the modal", chromedp.SendKeys(chromedp.ID("otp"), harness.OTP, in),
			chromedp.Click(chromedp.ID("submit"), in))
		out := result(t, ctx)
		if out["status"] != "succeeded" || out["payment"] == nil {
			t.Fatalf("confirm after 3-D Secure resolved to %v", out)
		}
		harness.WaitJS(t, ctx, "the modal closed", `!document.querySelector(".coffer-challenge")`)
		g := s.AwaitSession(t, r.Str("id"), "succeeded")
		if p := s.Call("GET", "/v1/payments/"+g.Str("payment"), sk, nil).Want(t, 200); p.Str("status") != "succeeded" {
			t.Errorf("payment after 3-D Secure: %s", p.Raw)
		}
		noCardInParent(t, ctx)
		// No console check here: Chrome reports the challenge page's
		// autofocus, blocked in a cross-origin frame, as an error, and the
		// challenge's return page (an API-mode session has no hosted page)
		// refuses framing after the answer; neither is the fields' fault.
	})

	t.Run("3-D Secure closed", func(t *testing.T) {
		openShop(t, ctx, merchant.URL)
		fillCard(t, ctx, "4000 0025 0000 3155")
		r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1500, "currency": "MYR"})
		pay(t, ctx, r)
		harness.WaitJS(t, ctx, "the challenge modal", `!!document.querySelector(".coffer-challenge iframe")`)
		harness.Steps(t, ctx, "close the modal", chromedp.Click(chromedp.CSS(".coffer-challenge-close")))
		harness.WaitJS(t, ctx, "confirm settled", `!!(window.__result || window.__error)`)
		if e := harness.JS[string](t, ctx, `window.__error ? window.__error.type : "resolved"`); e != "authentication_canceled" {
			t.Errorf("closing the challenge: %s, want an authentication_canceled rejection", e)
		}
		if harness.JS[bool](t, ctx, `!!document.querySelector(".coffer-challenge")`) {
			t.Error("the modal is still there")
		}
		s.AwaitSession(t, r.Str("id"), "requires_action")
		// The frame is free for another confirmation.
		r2 := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1500, "currency": "MYR"})
		pay(t, ctx, r2)
		harness.WaitJS(t, ctx, "the second challenge", `!!document.querySelector(".coffer-challenge iframe")`)
		harness.Steps(t, ctx, "close it too", chromedp.Click(chromedp.CSS(".coffer-challenge-close")))
		harness.WaitJS(t, ctx, "the second confirm settled", `!!(window.__result || window.__error)`)
		if e := harness.JS[string](t, ctx, `window.__error ? window.__error.type : "resolved"`); e != "authentication_canceled" {
			t.Errorf("a confirmation after a closed challenge: %s", e)
		}
	})

	t.Run("tokenize", func(t *testing.T) {
		openShop(t, ctx, merchant.URL)
		fillCard(t, ctx, "4242 4242 4242 4242")
		r := s.NewSession(t, sk, map[string]any{"mode": "api", "customer_reference": "shopper_fields", "save_card": "always"})
		harness.JS[any](t, ctx, fmt.Sprintf(`window.tokenize(%q, %q), null`, r.Str("id"), r.Str("client_secret")))
		out := result(t, ctx)
		tok, _ := out["token"].(string)
		if tok == "" || len(out) != 1 {
			t.Fatalf("tokenize resolved to %v, want {token}", out)
		}
		s.AwaitSession(t, r.Str("id"), "succeeded")
		tk := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200)
		if tk.Str("status") != "active" || tk.Str("card", "last4") != "4242" || tk.Str("card", "holder_name") != "Siti Aminah" {
			t.Errorf("the saved card: %s", tk.Raw)
		}
		noCardInParent(t, ctx)
	})

	t.Run("declined", func(t *testing.T) {
		openShop(t, ctx, merchant.URL)
		fillCard(t, ctx, "4000 0000 0000 0002")
		r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 1500, "currency": "MYR"})
		pay(t, ctx, r)
		harness.WaitJS(t, ctx, "confirm settled", `!!(window.__result || window.__error)`)
		if e := harness.JS[string](t, ctx, `window.__error ? window.__error.type : "resolved"`); e != "card_error" {
			t.Errorf("a declined card: %s, want a card_error rejection", e)
		}
		s.AwaitSession(t, r.Str("id"), "open")
	})
}

// TestFieldsRefuseOtherOrigins: a page on an origin the merchant never
// allowed cannot frame the fields, even when it claims an allowed origin in
// the frame's URL: the browser refuses the frame (frame-ancestors).
func TestFieldsRefuseOtherOrigins(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk, pk := s.Dev.SecretKey, s.Dev.PublishableKey
	allowed := shop(t, s.URL, pk)
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{allowed.URL}}).Want(t, 200)
	src := s.URL + "/v1/fields/number?pk=" + pk + "&origin=" + allowed.URL + "&channel=abcdefABCDEF0123456789"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><link rel="icon" href="data:,"><title>Not the shop</title><iframe title="x" src="%s"></iframe>`, html.EscapeString(src))
	}))
	t.Cleanup(evil.Close)
	ctx := harness.NewBrowser(t)
	if st := harness.Open(t, ctx, evil.URL); st != 200 {
		t.Fatalf("the other page: HTTP %d", st)
	}
	deadline := time.Now().Add(harness.BrowserStep)
	for {
		u, unreachable := frameURL(t, ctx)
		if unreachable || strings.HasPrefix(u, "chrome-error:") {
			break
		}
		if harness.FrameHas(t, ctx, "input") {
			t.Fatalf("the field loaded in a frame of %s, an origin not in frame_ancestors", evil.URL)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the frame neither loaded nor was refused (at %q)", u)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// coffer.js on such a page gets no ready, but an error event saying why.
	other := shop(t, s.URL, pk)
	if st := harness.Open(t, ctx, other.URL); st != 200 {
		t.Fatalf("the other shop's page: HTTP %d", st)
	}
	harness.WaitJS(t, ctx, "an error event from the refused fields", `!!window.__lastError`)
	if e := harness.JS[string](t, ctx, `window.__lastError.type + (window.__ready ? " ready" : "")`); e != "integration_error" {
		t.Errorf("on a page not in frame_ancestors: %q, want an integration_error and no ready", e)
	}

	// The same frame on the allowed origin loads (the test above would
	// pass for a field that never loads anywhere).
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><link rel="icon" href="data:,"><title>Shop</title><iframe title="x" src="%s"></iframe>`, html.EscapeString(src))
	}))
	t.Cleanup(ok.Close)
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{ok.URL, allowed.URL}}).Want(t, 200)
	if st := harness.Open(t, ctx, ok.URL); st != 200 {
		t.Fatalf("the allowed page: HTTP %d", st)
	}
	deadline = time.Now().Add(harness.BrowserStep)
	for !harness.FrameHas(t, ctx, "input") {
		if time.Now().After(deadline) {
			u, unreachable := frameURL(t, ctx)
			t.Fatalf("the field did not load on an allowed origin (frame at %s, refused %v)", u, unreachable)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// frameURL is harness.FrameURL, also reporting Chrome's error page as
// unreachable (what a frame refused by frame-ancestors becomes).
func frameURL(t *testing.T, ctx context.Context) (string, bool) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	tree, err := chromedp.Call(sctx, cdppage.GetFrameTree, cdp.Empty{})
	if err != nil || tree.FrameTree == nil || len(tree.FrameTree.ChildFrames) == 0 {
		return "", false
	}
	f := tree.FrameTree.ChildFrames[0].Frame
	return f.URL, f.UnreachableURL != ""
}
