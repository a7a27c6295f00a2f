package checkout

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
)

// fakeSessions returns canned views and results and records what the page
// sent: these tests are about the pages, their headers and their handling of
// requests, not about sessions' state machine (internal/payment's tests).
type fakeSessions struct {
	mu         sync.Mutex
	view       payment.CheckoutView
	pageErr    error
	result     payment.PageResult
	confirmErr error
	confirms   []payment.PageConfirm
	returnTo   string
	returnErr  error
	cancelTo   string
	cancelErr  error
	cancels    int
}

func (f *fakeSessions) CheckoutPage(ctx context.Context, id string) (payment.CheckoutView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view, f.pageErr
}

func (f *fakeSessions) ConfirmFromPage(ctx context.Context, id string, c payment.PageConfirm) (payment.PageResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirms = append(f.confirms, c)
	return f.result, f.confirmErr
}

func (f *fakeSessions) SessionReturn(ctx context.Context, id string) (string, error) {
	return f.returnTo, f.returnErr
}

func (f *fakeSessions) CancelFromPage(ctx context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels++
	return f.cancelTo, f.cancelErr
}

func (f *fakeSessions) got() []payment.PageConfirm {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]payment.PageConfirm(nil), f.confirms...)
}

// testKey is the double's session key: one per test binary, RSA keys being
// slow to make.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func jwkOf(pub *rsa.PublicKey, kid string) string {
	b, _ := json.Marshal(map[string]any{
		"kty": "RSA", "alg": "RSA-OAEP-256", "use": "enc", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	})
	return string(b)
}

const testSession = "ps_abcdefghjkmnpqrstvwxyz"

func openView() payment.CheckoutView {
	return payment.CheckoutView{
		SessionID: testSession, MerchantName: "Kedai Kopi", Amount: "MYR 30.00", OrderID: "order-1001",
		State: "open", SaveCard: "optional", KeyJWK: jwkOf(&testKey().PublicKey, "key_1"), KeyID: "key_1",
		Cancelable: true, PageURL: "https://pay.example/pay/" + testSession, TestMode: true,
		ExpiresAt: time.Now().Add(15 * time.Minute),
	}
}

func savedCards() []payment.SavedCard {
	return []payment.SavedCard{
		{Token: "tok_visa0000000001", Brand: "visa", Mask: "424242******4242", Last4: "4242", ExpMonth: 12, ExpYear: 2034},
		{Token: "tok_amex0000000002", Brand: "amex", Mask: "378282*****0005", Last4: "0005", ExpMonth: 3, ExpYear: 2031},
	}
}

type sessHarness struct {
	f    *fakeSessions
	p    *Pages
	mux  *http.ServeMux
	logs *bytes.Buffer
}

// routes registers the pages as internal/httpapi does.
func routes(mux *http.ServeMux, p *Pages) {
	mux.HandleFunc("GET /pay/{id}", p.Checkout)
	mux.HandleFunc("POST /pay/{id}/confirm", p.CheckoutConfirm)
	mux.HandleFunc("GET /pay/{id}/return", p.CheckoutReturn)
	mux.HandleFunc("POST /pay/{id}/cancel", p.CheckoutCancel)
	mux.HandleFunc("GET /pay/{id}/qr.png", p.CheckoutQR)
	mux.HandleFunc("GET /assets/checkout.js", p.Asset)
}

func newSessHarness() *sessHarness {
	h := &sessHarness{f: &fakeSessions{view: openView()}, logs: &bytes.Buffer{}}
	h.p = New(nil, h.f, slog.New(slog.NewJSONHandler(h.logs, nil)))
	h.mux = http.NewServeMux()
	routes(h.mux, h.p)
	return h
}

func (h *sessHarness) req(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.mux.ServeHTTP(rec, r)
	return rec
}

func (h *sessHarness) get(target string) *httptest.ResponseRecorder {
	return h.req(httptest.NewRequest(http.MethodGet, target, nil))
}

func (h *sessHarness) page() string {
	return h.get("/pay/" + testSession).Body.String()
}

func (h *sessHarness) confirm(body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/pay/"+testSession+"/confirm", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return h.req(r)
}

var checkoutCSP = regexp.MustCompile(`^default-src 'none'; script-src 'nonce-([A-Za-z0-9+/_=-]{16,})'; style-src 'nonce-([A-Za-z0-9+/_=-]{16,})'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors ([^;,\r\n]+)$`)

// checkCheckoutHeaders asserts the checkout policy and returns its nonce and
// frame-ancestors value.
func checkCheckoutHeaders(t *testing.T, rec *httptest.ResponseRecorder) (nonce, ancestors string) {
	t.Helper()
	h := rec.Result().Header
	for k, want := range map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("status %d: %s = %q, want %q", rec.Code, k, got, want)
		}
	}
	m := checkoutCSP.FindStringSubmatch(h.Get("Content-Security-Policy"))
	if m == nil {
		t.Fatalf("status %d: CSP %q is not the checkout policy", rec.Code, h.Get("Content-Security-Policy"))
	}
	if m[1] != m[2] {
		t.Errorf("script nonce %q and style nonce %q differ", m[1], m[2])
	}
	xfo := h.Get("X-Frame-Options")
	if m[3] == "'none'" && xfo != "DENY" {
		t.Errorf("frame-ancestors 'none' without X-Frame-Options: DENY (got %q)", xfo)
	}
	if m[3] != "'none'" && xfo != "" {
		t.Errorf("frame-ancestors %s, yet X-Frame-Options %q forbids what it allows", m[3], xfo)
	}
	return m[1], m[3]
}

func TestCheckoutHeaders(t *testing.T) {
	h := newSessHarness()
	rec := h.get("/pay/" + testSession)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Result().Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	nonce, fa := checkCheckoutHeaders(t, rec)
	if fa != "'none'" {
		t.Errorf("frame-ancestors %q without any allowed", fa)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<style nonce="` + nonce + `">`,
		`<script nonce="` + nonce + `" src="` + scriptSrc + `" defer></script>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The only scripts: ours by nonce and the key's data block.
	if n := strings.Count(body, "<script"); n != 2 {
		t.Errorf("%d <script> tags, want 2", n)
	}
	for _, bad := range []string{"http://", "style=", "onclick", "onload", "javascript:", "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The only https:// is none: the QR code and links are relative.
	if strings.Contains(body, "https://") {
		t.Errorf("page refers to another origin")
	}
}

func TestCheckoutFrameAncestors(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want string
	}{
		{"none", nil, "'none'"},
		{"list", []string{"https://shop.example", "'self'", "http://localhost:3000"}, "https://shop.example 'self' http://localhost:3000"},
		{"normalized", []string{"HTTPS://Shop.Example/", "https://shop.example"}, "https://shop.example"},
		{"port", []string{"https://shop.example:8443"}, "https://shop.example:8443"},
		{"injections skipped", []string{
			"https://a.example; script-src *",
			"https://b.example\r\nSet-Cookie: x=1",
			"https://c.example 'unsafe-inline'",
			"https://d.example,https://e.example",
			"*", "https://*.example", "'none'", "'unsafe-inline'", "'self' https://f.example",
			"javascript:alert(1)", "data:", "blob:", "ftp://g.example", "//h.example", "h.example",
			"https://user:pw@i.example", "https://j.example/path", "https://k.example/?q", "https://l.example/#x",
			"https://m'n.example", "https://[::1]:8443", "https://o.example:99999999", "",
			"https://ok.example",
		}, "https://ok.example"},
		{"all bad", []string{"https://a.example;", "'unsafe-eval'"}, "'none'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newSessHarness()
			h.f.view.FrameAncestors = c.in
			rec := h.get("/pay/" + testSession)
			_, fa := checkCheckoutHeaders(t, rec)
			if fa != c.want {
				t.Errorf("frame-ancestors %q, want %q", fa, c.want)
			}
			for k, v := range rec.Result().Header {
				if k == "Set-Cookie" || strings.ContainsAny(strings.Join(v, ""), "\r\n") {
					t.Errorf("header %s: %q", k, v)
				}
			}
		})
	}
}

// The challenge page keeps its own policy.
func TestChallengePolicyUnchanged(t *testing.T) {
	h := newHarness()
	rec := h.do(http.MethodGet, "/3ds/chl_abc", nil)
	checkHeaders(t, rec)
	if strings.Contains(rec.Result().Header.Get("Content-Security-Policy"), "script-src") {
		t.Error("the challenge page allows scripts")
	}
}

func TestCheckoutRedirectsWhenClosed(t *testing.T) {
	for _, state := range []string{"succeeded", "failed", "expired", "canceled", "requires_action"} {
		h := newSessHarness()
		h.f.view.State, h.f.view.Redirect = state, "https://shop.example/done?session="+testSession+"&status="+state
		rec := h.get("/pay/" + testSession)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("%s: status %d", state, rec.Code)
		}
		if loc := rec.Result().Header.Get("Location"); loc != h.f.view.Redirect {
			t.Errorf("%s: Location %q", state, loc)
		}
		if cc := rec.Result().Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", state, cc)
		}
		if rp := rec.Result().Header.Get("Referrer-Policy"); rp != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", state, rp)
		}
	}
	// Open with a Redirect set is still the page.
	h := newSessHarness()
	h.f.view.Redirect = "https://shop.example/elsewhere"
	if rec := h.get("/pay/" + testSession); rec.Code != http.StatusOK {
		t.Errorf("an open session redirected: %d", rec.Code)
	}
}

func TestCheckoutFinalPages(t *testing.T) {
	headings := map[string]string{
		"succeeded": "Payment successful", "failed": "Payment failed", "expired": "This payment link has expired",
		"canceled": "Payment canceled", "something-new": "This payment is closed",
	}
	for state, heading := range headings {
		t.Run(state, func(t *testing.T) {
			h := newSessHarness()
			h.f.view.State, h.f.view.Message = state, "What happened, for "+state+"."
			h.f.view.FrameAncestors = []string{"https://shop.example"}
			rec := h.get("/pay/" + testSession)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			_, fa := checkCheckoutHeaders(t, rec)
			if fa != "https://shop.example" {
				t.Errorf("a final page in the merchant's frame is refused: frame-ancestors %q", fa)
			}
			body := rec.Body.String()
			for _, want := range []string{
				`<main class="card" data-state="` + state + `">`,
				"<h1>" + heading + "</h1>",
				`<p id="message" class="message">What happened, for ` + state + `.</p>`,
				`<dd id="amount" class="amount">MYR 30.00</dd>`,
				"Kedai Kopi",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			for _, bad := range []string{"<form", "<script", "session-key", "qr.png"} {
				if strings.Contains(body, bad) {
					t.Errorf("a final page contains %q", bad)
				}
			}
		})
	}
	// Without a message the page still says something, and a saved card
	// is not called a payment.
	h := newSessHarness()
	h.f.view.State, h.f.view.SaveOnly, h.f.view.Amount = "succeeded", true, ""
	body := h.page()
	if !strings.Contains(body, "<h1>Card saved</h1>") || !strings.Contains(body, "Your card has been saved.") || strings.Contains(body, `id="amount"`) {
		t.Errorf("save-only success page:\n%s", body)
	}
}

func TestCheckoutOpenPage(t *testing.T) {
	h := newSessHarness()
	body := h.page()
	for _, want := range []string{
		`data-state="open"`,
		`data-session="` + testSession + `"`,
		`<title>Pay Kedai Kopi</title>`,
		`<h1 id="merchant" class="merchant">Kedai Kopi</h1>`,
		`<p id="amount" class="total">MYR 30.00</p>`,
		`Order <span class="order-id">order-1001</span>`,
		`<button id="pay" class="pay" type="submit" disabled>Pay MYR 30.00</button>`,
		`<form id="pay-form" novalidate>`,
		`<label for="number">Card number</label>`, `autocomplete="cc-number"`, `inputmode="numeric"`,
		`<label for="exp">Expiry date</label>`, `autocomplete="cc-exp"`, `placeholder="MM / YY"`,
		`<label for="cvc">Security code</label>`, `autocomplete="cc-csc"`,
		`<label for="name">Name on card</label>`, `autocomplete="cc-name"`,
		`aria-describedby="number-error"`, `<p id="number-error" class="field-error" role="alert" hidden></p>`,
		`aria-describedby="exp-error"`, `aria-describedby="cvc-help cvc-error"`, `aria-describedby="name-error"`,
		`<input id="save" type="checkbox">`, `<label for="save">Save this card for next time</label>`,
		`<p id="form-error" class="error" role="alert" hidden></p>`,
		`<form id="cancel-form" class="cancel-form" method="post" action="/pay/` + testSession + `/cancel">`,
		`<button id="cancel" class="link" type="submit">Cancel and return to Kedai Kopi</button>`,
		`<img id="qr" src="/pay/` + testSession + `/qr.png" alt="Scan to pay on another device"`,
		"Pay on another device",
		"Secured by Coffer · card details are encrypted in your browser",
		`id="hint"`, "4242 4242 4242 4242", "123456",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{`id="choices"`, `id="saved-cvc"`, `id="save-note"`, "Save your card"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The key's data block holds exactly the session's JWK.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="session-key">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no session-key data block")
	}
	var got, want map[string]any
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatalf("session-key %q: %v", m[1], err)
	}
	_ = json.Unmarshal([]byte(h.f.view.KeyJWK), &want)
	if gb, _ := json.Marshal(got); string(gb) != func() string { wb, _ := json.Marshal(want); return string(wb) }() {
		t.Errorf("session-key %s, want %s", gb, h.f.view.KeyJWK)
	}

	// Variations: no test mode, no cancel, save always / off, a message
	// from the last attempt.
	h.f.view.TestMode, h.f.view.Cancelable, h.f.view.SaveCard = false, false, "always"
	h.f.view.Message, h.f.view.OrderID = "Your card was declined.", ""
	body = h.page()
	for _, want := range []string{
		`<p id="save-note" class="note">This card will be saved`,
		`<p id="form-error" class="error" role="alert">Your card was declined.</p>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"4242 4242", "123456", `id="hint"`, `id="cancel"`, `id="save"`, `id="order"`, "Test mode"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	h.f.view.SaveCard = "off"
	body = h.page()
	if strings.Contains(body, `id="save"`) || strings.Contains(body, `id="save-note"`) {
		t.Error("save_card off still offers or announces saving")
	}
}

func TestCheckoutSaveOnly(t *testing.T) {
	h := newSessHarness()
	h.f.view.SaveOnly, h.f.view.Amount = true, ""
	body := h.page()
	for _, want := range []string{
		`<p id="amount" class="total">Save your card</p>`,
		"Nothing will be charged", "temporary hold",
		`<button id="pay" class="pay" type="submit" disabled>Save card</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "Amount to pay") || strings.Contains(body, `disabled>Pay`) {
		t.Error("a save-only page talks of paying")
	}
}

func TestCheckoutSavedCards(t *testing.T) {
	for _, needsCVC := range []bool{true, false} {
		h := newSessHarness()
		h.f.view.SavedCards, h.f.view.SavedCardNeedsCVC = savedCards(), needsCVC
		body := h.page()
		for _, want := range []string{
			`<legend>Pay with</legend>`,
			`<input type="radio" id="saved-tok_visa0000000001" name="choice" value="tok_visa0000000001" data-label="Visa ending 4242" data-cvc-length="3" checked>`,
			`<input type="radio" id="saved-tok_amex0000000002" name="choice" value="tok_amex0000000002" data-label="American Express ending 0005" data-cvc-length="4">`,
			`<label class="choice" for="saved-tok_visa0000000001">`,
			"•••• 4242", "Expires 12/34", "•••• 0005", "Expires 03/31",
			`<input type="radio" id="new-card" name="choice" value="">`, "Use a new card",
			`<div id="new-card-fields" class="new-card" hidden>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("needsCVC=%v: page lacks %q", needsCVC, want)
			}
		}
		hasCVC := strings.Contains(body, `<input id="saved-cvc"`)
		if hasCVC != needsCVC {
			t.Errorf("SavedCardNeedsCVC=%v but #saved-cvc present=%v", needsCVC, hasCVC)
		}
		if needsCVC && !strings.Contains(body, `<label for="saved-cvc">`) {
			t.Error("#saved-cvc has no label")
		}
	}
}

var inputTag = regexp.MustCompile(`<input\b[^>]*>`)

func TestCardInputsHaveNoName(t *testing.T) {
	h := newSessHarness()
	h.f.view.SavedCards, h.f.view.SavedCardNeedsCVC = savedCards(), true
	body := h.page()
	form := body[strings.Index(body, `<form id="pay-form"`):]
	form = form[:strings.Index(form, "</form>")]
	if strings.Contains(form[:strings.Index(form, ">")], "action") || strings.Contains(form[:strings.Index(form, ">")], "method") {
		t.Errorf("the pay form can be submitted somewhere: %s", form[:strings.Index(form, ">")+1])
	}
	ids := map[string]bool{}
	for _, tag := range inputTag.FindAllString(form, -1) {
		id := regexp.MustCompile(`\bid="([^"]*)"`).FindStringSubmatch(tag)
		if id == nil {
			t.Errorf("an input without an id: %s", tag)
			continue
		}
		ids[id[1]] = true
		named := regexp.MustCompile(`\bname=`).MatchString(tag)
		// Only the choice between saved cards is named (radios group by
		// name), and its values are token ids, not card data.
		if named && !strings.Contains(tag, `type="radio"`) {
			t.Errorf("input %s has a name: %s", id[1], tag)
		}
		if !regexp.MustCompile(`<label[^>]+for="` + regexp.QuoteMeta(id[1]) + `"`).MatchString(body) {
			t.Errorf("input %s has no label", id[1])
		}
	}
	for _, id := range []string{"number", "exp", "cvc", "name", "save", "saved-cvc", "new-card"} {
		if !ids[id] {
			t.Errorf("no #%s in the pay form", id)
		}
	}
	if strings.Contains(body, "<textarea") || strings.Contains(body, "<select") {
		t.Error("other form fields")
	}
}

func TestCheckoutEscaping(t *testing.T) {
	h := newSessHarness()
	h.f.view.MerchantName = `Kedai <script>alert(1)</script> & "Co"`
	h.f.view.Amount = `MYR <b>30.00</b>`
	h.f.view.OrderID = `</script><img src=x onerror=alert(2)>`
	h.f.view.SavedCards = []payment.SavedCard{{Token: `tok_"><script>x</script>`, Brand: "<i>visa</i>", Mask: "4242", Last4: "<u>4242</u>", ExpMonth: 1, ExpYear: 2030}}
	var jwk map[string]any
	_ = json.Unmarshal([]byte(h.f.view.KeyJWK), &jwk)
	jwk["kid"] = `</script><script>alert(3)</script><!--`
	kb, _ := json.Marshal(jwk)
	h.f.view.KeyJWK = string(kb)
	body := h.page()
	for _, want := range []string{
		"Kedai &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;",
		"MYR &lt;b&gt;30.00&lt;/b&gt;",
		"Pay MYR &lt;b&gt;30.00&lt;/b&gt;",
		"&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;",
		"&lt;i&gt;visa&lt;/i&gt;", "&lt;u&gt;4242&lt;/u&gt;",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<b>30", "<img src=x", "<i>visa", "<u>4242", `"><script>x`, "<!--"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains the raw %q", bad)
		}
	}
	if n := strings.Count(body, "</script>"); n != 2 {
		t.Errorf("%d </script>, want 2 (ours)", n)
	}
}

func TestCheckoutErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		text   string
		logged bool
	}{
		{"not found", &payment.Error{Kind: payment.KindNotFound, Code: "resource_missing"}, 404, "This payment link is not valid", false},
		{"wrapped not found", errors.Join(errors.New("x"), &payment.Error{Kind: payment.KindNotFound}), 404, "This payment link is not valid", false},
		{"invalid state", &payment.Error{Kind: payment.KindInvalidState, Code: "invalid_state"}, 422, "This payment can no longer be changed", false},
		{"internal", errors.New("database on fire"), 500, "Something went wrong", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newSessHarness()
			h.f.pageErr = c.err
			rec := h.get("/pay/" + testSession)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.text) {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			checkCheckoutHeaders(t, rec)
			if strings.Contains(rec.Body.String(), "database on fire") {
				t.Error("an internal error reached the page")
			}
			if logged := strings.Contains(h.logs.String(), `"level":"ERROR"`); logged != c.logged {
				t.Errorf("logged=%v, want %v: %s", logged, c.logged, h.logs)
			}
		})
	}
	// A key the page could not encrypt with is a server fault, not a page.
	h := newSessHarness()
	h.f.view.KeyJWK = `{"kty":"EC"}`
	if rec := h.get("/pay/" + testSession); rec.Code != 500 || !strings.Contains(h.logs.String(), "not an RSA JWK") {
		t.Errorf("bad key: %d %s", rec.Code, h.logs)
	}
	// No sessions service at all.
	p := New(nil, nil, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	routes(mux, p)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pay/"+testSession, nil))
	if rec.Code != 404 {
		t.Errorf("without sessions: %d", rec.Code)
	}
}

func TestCheckoutQR(t *testing.T) {
	h := newSessHarness()
	rec := h.get("/pay/" + testSession + "/qr.png")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	hd := rec.Result().Header
	if hd.Get("Content-Type") != "image/png" || hd.Get("Cache-Control") != "no-store" || hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", hd)
	}
	b := rec.Body.Bytes()
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("not a PNG: % x", b[:min(len(b), 16)])
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil || format != "png" {
		t.Fatalf("decode: %v (%s)", err, format)
	}
	bd := img.Bounds()
	if bd.Dx() != bd.Dy() || bd.Dx() < 100 {
		t.Errorf("a %dx%d QR code", bd.Dx(), bd.Dy())
	}
	// A white quiet zone of 4 modules, then a finder pattern's black
	// corner (rsc.io/qr draws 8 pixels a module).
	if bd.Dx()%8 != 0 {
		t.Fatalf("a %d-pixel code is not made of 8-pixel modules", bd.Dx())
	}
	if r, _, _, _ := img.At(4*8-4, 4*8-4).RGBA(); r != 0xffff {
		t.Error("no white quiet zone")
	}
	if r, _, _, _ := img.At(4*8+4, 4*8+4).RGBA(); r != 0 {
		t.Error("no finder pattern")
	}

	// Another URL, another code.
	h.f.view.PageURL = "https://pay.example/pay/ps_other"
	if other := h.get("/pay/ps_other/qr.png").Body.Bytes(); bytes.Equal(other, b) {
		t.Error("the QR code does not depend on the page URL")
	}
	h.f.view.PageURL = ""
	if rec := h.get("/pay/" + testSession + "/qr.png"); rec.Code != 404 {
		t.Errorf("no page URL: %d", rec.Code)
	}
	h.f.pageErr = &payment.Error{Kind: payment.KindNotFound}
	if rec := h.get("/pay/ps_gone/qr.png"); rec.Code != 404 || rec.Result().Header.Get("Cache-Control") != "no-store" {
		t.Errorf("unknown session: %d", rec.Code)
	}
	h.f.pageErr = errors.New("boom")
	if rec := h.get("/pay/ps_gone/qr.png"); rec.Code != 500 || !strings.Contains(h.logs.String(), "boom") {
		t.Errorf("failure: %d", rec.Code)
	}
}

func TestAsset(t *testing.T) {
	h := newSessHarness()
	rec := h.get(scriptSrc)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), checkoutScript) {
		t.Fatalf("status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	hd := rec.Result().Header
	if hd.Get("Content-Type") != "text/javascript; charset=utf-8" || hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", hd)
	}
	if cc := hd.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("versioned script: Cache-Control %q", cc)
	}
	if cc := h.get("/assets/checkout.js").Result().Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("unversioned script: Cache-Control %q", cc)
	}
	r := httptest.NewRequest(http.MethodGet, "/assets/checkout.js", nil)
	r.Header.Set("If-None-Match", hd.Get("ETag"))
	if rec := h.req(r); rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", rec.Code)
	}
	// The script needs nothing the CSP forbids.
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "http://", "https://", "document.write", ".style."} {
		if bytes.Contains(checkoutScript, []byte(bad)) {
			t.Errorf("checkout.js contains %q", bad)
		}
	}
}

func TestConfirm(t *testing.T) {
	h := newSessHarness()
	h.f.result = payment.PageResult{Redirect: "https://shop.example/ok?session=" + testSession}
	rec := h.confirm(`{"encrypted_card":"QUJD","save_card":true}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Result().Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := rec.Result().Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"redirect":"https://shop.example/ok?session=`+testSession+`"}` {
		t.Errorf("body %s", got)
	}
	h.f.result = payment.PageResult{Error: &payment.PageError{Message: "Your card was declined.", Field: "card"}}
	rec = h.confirm(`{"token":"tok_visa0000000001","cvc":"123"}`)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"error":{"message":"Your card was declined.","field":"card"}}` {
		t.Errorf("declined: %d %s", rec.Code, rec.Body)
	}
	want := []payment.PageConfirm{{EncryptedCard: "QUJD", SaveCard: true}, {Token: "tok_visa0000000001", CVC: "123"}}
	if got := h.f.got(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("confirms %+v, want %+v", got, want)
	}
}

func TestConfirmRefusesBadRequests(t *testing.T) {
	pad := func(n int) string {
		// {"encrypted_card":"AAAA…"} of exactly n bytes.
		return `{"encrypted_card":"` + strings.Repeat("A", n-len(`{"encrypted_card":""}`)) + `"}`
	}
	cases := []struct {
		name   string
		body   string
		mod    func(r *http.Request)
		status int
	}{
		{"unknown field", `{"encrypted_card":"QUJD","number":"4242424242424242"}`, nil, 400},
		{"trailing data", `{"encrypted_card":"QUJD"} {"token":"tok_x"}`, nil, 400},
		{"trailing garbage", `{"encrypted_card":"QUJD"}x`, nil, 400},
		{"not json", `encrypted_card=QUJD`, nil, 400},
		{"empty", ``, nil, 400},
		{"null", `null`, nil, 400},
		{"neither", `{"save_card":true}`, nil, 400},
		{"both", `{"encrypted_card":"QUJD","token":"tok_x"}`, nil, 400},
		{"cvc beside a new card", `{"encrypted_card":"QUJD","cvc":"123"}`, nil, 400},
		{"wrong type", `{"encrypted_card":123}`, nil, 400},
		{"too large", pad(maxConfirmBody + 1), nil, 413},
		{"form content type", `{"encrypted_card":"QUJD"}`, func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, 415},
		{"text content type", `{"encrypted_card":"QUJD"}`, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415},
		{"cross-site", `{"encrypted_card":"QUJD"}`, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, 403},
		{"other origin", `{"encrypted_card":"QUJD"}`, func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "https://evil.example")
		}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newSessHarness()
			r := httptest.NewRequest(http.MethodPost, "/pay/"+testSession+"/confirm", strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			if c.mod != nil {
				c.mod(r)
			}
			rec := h.req(r)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			var out payment.PageResult
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Error == nil || out.Error.Message == "" || out.Redirect != "" {
				t.Errorf("body %s is not an error", rec.Body)
			}
			if n := len(h.f.got()); n != 0 {
				t.Errorf("the service got %d confirmations", n)
			}
			if strings.Contains(rec.Body.String(), "4242424242424242") || strings.Contains(rec.Body.String(), "number") {
				t.Errorf("the answer echoes the request: %s", rec.Body)
			}
		})
	}
	// Exactly at the limit is read.
	h := newSessHarness()
	if rec := h.confirm(pad(maxConfirmBody)); rec.Code != 200 {
		t.Errorf("a %d-byte body: %d %s", maxConfirmBody, rec.Code, rec.Body)
	}
}

func TestConfirmErrorMapping(t *testing.T) {
	const secret = "c2VjcmV0LWNpcGhlcnRleHQ=" // must never be logged
	cases := []struct {
		name   string
		err    error
		status int
		field  string
		logged bool
	}{
		{"not found", &payment.Error{Kind: payment.KindNotFound, Code: "resource_missing"}, 404, "", false},
		{"invalid state", &payment.Error{Kind: payment.KindInvalidState, Code: "invalid_state", Message: "Session already confirmed."}, 422, "", false},
		{"invalid request", &payment.Error{Kind: payment.KindInvalidRequest, Code: "parameter_invalid", Param: "exp_month", Message: "The expiry month is not valid."}, 400, "expiry", false},
		{"card", &payment.Error{Kind: payment.KindCard, Code: "card_declined", Message: "Your card was declined."}, 402, "card", false},
		{"internal", errors.New("vault unavailable"), 500, "", true},
		{"upstream", &payment.Error{Kind: payment.KindUpstream, Code: "processing_error"}, 500, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newSessHarness()
			h.f.confirmErr = c.err
			rec := h.confirm(`{"encrypted_card":"` + secret + `"}`)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			var out payment.PageResult
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Error == nil || out.Error.Message == "" {
				t.Fatalf("body %s", rec.Body)
			}
			if out.Error.Field != c.field {
				t.Errorf("field %q, want %q", out.Error.Field, c.field)
			}
			if strings.Contains(rec.Body.String(), "vault unavailable") {
				t.Error("an internal error reached the page")
			}
			if logged := strings.Contains(h.logs.String(), `"level":"ERROR"`); logged != c.logged {
				t.Errorf("logged=%v, want %v: %s", logged, c.logged, h.logs)
			}
			if strings.Contains(h.logs.String(), secret) {
				t.Error("the request body was logged")
			}
		})
	}
}

func TestReturnAndCancel(t *testing.T) {
	h := newSessHarness()
	h.f.returnTo = "https://shop.example/ok?session=" + testSession
	rec := h.get("/pay/" + testSession + "/return")
	if rec.Code != 303 || rec.Result().Header.Get("Location") != h.f.returnTo || rec.Result().Header.Get("Cache-Control") != "no-store" {
		t.Errorf("return: %d %v", rec.Code, rec.Result().Header)
	}
	h.f.returnTo = ""
	if loc := h.get("/pay/" + testSession + "/return").Result().Header.Get("Location"); loc != "/pay/"+testSession {
		t.Errorf("return without a URL: Location %q", loc)
	}
	for _, c := range []struct {
		err    error
		status int
	}{
		{&payment.Error{Kind: payment.KindNotFound}, 404},
		{&payment.Error{Kind: payment.KindInvalidState}, 422},
		{errors.New("boom"), 500},
	} {
		h.f.returnErr = c.err
		if rec := h.get("/pay/" + testSession + "/return"); rec.Code != c.status {
			t.Errorf("return %v: %d", c.err, rec.Code)
		}
	}

	cancel := func(accept, site string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/pay/"+testSession+"/cancel", nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", site)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		return h.req(r)
	}
	h.f.cancelTo = "https://shop.example/cancel?session=" + testSession
	rec = cancel("text/html,application/xhtml+xml", "same-origin")
	if rec.Code != 303 || rec.Result().Header.Get("Location") != h.f.cancelTo {
		t.Errorf("cancel form: %d %v", rec.Code, rec.Result().Header)
	}
	rec = cancel("application/json", "same-origin")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"redirect":"`+h.f.cancelTo+`"}` {
		t.Errorf("cancel by script: %d %s", rec.Code, rec.Body)
	}
	before := h.f.cancels
	if rec := cancel("", "cross-site"); rec.Code != 403 || h.f.cancels != before {
		t.Errorf("cross-site cancel: %d, cancels %d→%d", rec.Code, before, h.f.cancels)
	}
	h.f.cancelErr = &payment.Error{Kind: payment.KindInvalidState}
	if rec := cancel("", "same-origin"); rec.Code != 422 || !strings.Contains(rec.Body.String(), "This payment can no longer be changed") {
		t.Errorf("cancel too late: %d", rec.Code)
	}
	if rec := cancel("application/json", "same-origin"); rec.Code != 422 || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("cancel too late by script: %d %s", rec.Code, rec.Body)
	}
}

// A wrong method on a route is the mux's business, but must not reach the
// service.
func TestCheckoutMethods(t *testing.T) {
	h := newSessHarness()
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/pay/" + testSession + "/confirm"},
		{http.MethodGet, "/pay/" + testSession + "/cancel"},
		{http.MethodPost, "/pay/" + testSession},
	} {
		rec := h.req(httptest.NewRequest(c.method, c.path, io.NopCloser(strings.NewReader(""))))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", c.method, c.path, rec.Code)
		}
	}
	if len(h.f.got()) != 0 || h.f.cancels != 0 {
		t.Error("the service was called")
	}
}
