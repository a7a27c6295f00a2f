package checkout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/payment"
)

// fakeChallenges returns canned views: these tests are about rendering and
// headers, not about the challenge's state machine.
type fakeChallenges struct {
	mu        sync.Mutex
	view      payment.ChallengeView
	pageErr   error
	out       payment.ChallengeOutcome
	answerErr error
	answers   []string // OTPs received, in order
}

func (f *fakeChallenges) ChallengePage(ctx context.Context, id string) (payment.ChallengeView, error) {
	return f.view, f.pageErr
}

func (f *fakeChallenges) AnswerChallenge(ctx context.Context, id, otp string) (payment.ChallengeOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, otp)
	return f.out, f.answerErr
}

func pendingView() payment.ChallengeView {
	return payment.ChallengeView{
		ID: "chl_abc", MerchantName: "Kedai Kopi", Amount: "MYR 1.00", Brand: "visa", Mask: "400000******3155",
		State: "pending", AttemptsLeft: 3, TestMode: true, HTTPStatus: http.StatusOK,
	}
}

func finalView(state, returnURL string) payment.ChallengeView {
	v := pendingView()
	v.State, v.ReturnURL, v.Message, v.AttemptsLeft = state, returnURL, "Your card was verified.", 0
	return v
}

type harness struct {
	f    *fakeChallenges
	mux  *http.ServeMux
	logs *bytes.Buffer
}

func newHarness() *harness {
	h := &harness{f: &fakeChallenges{view: pendingView()}, logs: &bytes.Buffer{}}
	p := New(h.f, nil, slog.New(slog.NewJSONHandler(h.logs, nil)))
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("/3ds/{id}", p.Challenge)
	return h
}

func (h *harness) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	h.mux.ServeHTTP(rec, req)
	return rec
}

var styleNonce = regexp.MustCompile(`<style nonce="([^"]+)">`)

// checkHeaders asserts the headers every response of the package must carry
// and returns the CSP's style nonce.
func checkHeaders(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	h := rec.Result().Header
	for k, want := range map[string]string{
		"Cache-Control":          "no-store",
		"Pragma":                 "no-cache",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("status %d: %s = %q, want %q", rec.Code, k, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	m := regexp.MustCompile(`^default-src 'none'; style-src 'nonce-([A-Za-z0-9+/_=-]{16,})'; img-src 'self' data:; form-action 'self'( [^;]+)?; frame-ancestors 'none'; base-uri 'none'$`).FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("status %d: CSP %q is not the strict policy", rec.Code, csp)
	}
	return m[1]
}

func formAction(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	m := regexp.MustCompile(`form-action ([^;]+);`).FindStringSubmatch(rec.Result().Header.Get("Content-Security-Policy"))
	if m == nil {
		t.Fatal("no form-action")
	}
	return m[1]
}

func TestHeadersOnEveryResponse(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fakeChallenges)
		method string
		form   url.Values
		status int
	}{
		{"get pending", nil, http.MethodGet, nil, http.StatusOK},
		{"head", nil, http.MethodHead, nil, http.StatusOK},
		{"post wrong otp", func(f *fakeChallenges) {
			v := pendingView()
			v.Error, v.AttemptsLeft, v.HTTPStatus = "That code is not right.", 2, http.StatusUnprocessableEntity
			f.out = payment.ChallengeOutcome{View: v}
		}, http.MethodPost, url.Values{"otp": {"111111"}}, http.StatusUnprocessableEntity},
		{"post redirect", func(f *fakeChallenges) {
			f.out = payment.ChallengeOutcome{View: finalView("succeeded", "https://shop.example/back"), Redirect: "https://shop.example/back?status=succeeded"}
		}, http.MethodPost, url.Values{"otp": {"123456"}}, http.StatusSeeOther},
		{"not found", func(f *fakeChallenges) {
			f.pageErr = &payment.Error{Kind: payment.KindNotFound, Code: "resource_missing"}
		}, http.MethodGet, nil, http.StatusNotFound},
		{"internal", func(f *fakeChallenges) { f.pageErr = errors.New("database on fire") }, http.MethodGet, nil, http.StatusInternalServerError},
		{"method", nil, http.MethodPut, nil, http.StatusMethodNotAllowed},
		{"too large", nil, http.MethodPost, url.Values{"otp": {strings.Repeat("1", 5000)}}, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness()
			if c.setup != nil {
				c.setup(h.f)
			}
			rec := h.do(c.method, "/3ds/chl_abc", c.form)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			nonce := checkHeaders(t, rec)
			if c.status == http.StatusSeeOther || c.method == http.MethodHead {
				return
			}
			if ct := rec.Result().Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			m := styleNonce.FindStringSubmatch(rec.Body.String())
			if m == nil || m[1] != nonce {
				t.Errorf("style tag nonce %v does not match CSP nonce %q", m, nonce)
			}
		})
	}
}

func TestNonceIsFreshPerResponse(t *testing.T) {
	h := newHarness()
	seen := map[string]bool{}
	for range 20 {
		n := checkHeaders(t, h.do(http.MethodGet, "/3ds/chl_abc", nil))
		if seen[n] {
			t.Fatalf("nonce %q reused", n)
		}
		seen[n] = true
	}
}

func TestFormActionAllowsOnlyTheReturnOrigin(t *testing.T) {
	cases := []struct{ returnURL, want string }{
		{"", "'self'"},
		{"https://shop.example/return?order=1#x", "'self' https://shop.example"},
		{"http://localhost:8080/back", "'self' http://localhost:8080"},
		{"HTTPS://Shop.Example/Back", "'self' https://shop.example"},
		{"https://user:pass@shop.example/back", "'self' https://shop.example"},
		{"javascript:alert(1)", "'self'"},
		{"/relative/path", "'self'"},
		{"//shop.example/back", "'self'"},
		{"ftp://shop.example/back", "'self'"},
		{"data:text/html,hi", "'self'"},
		{"https://shop.example;script-src *", "'self'"},
		{"https://shop.example,'unsafe-inline'/", "'self'"},
		{"https://a'b.example/", "'self'"},
		{"https://[::1]:8443/", "'self'"},
		{"https://shop.example:99999999/", "'self'"},
		{"https:///nohost", "'self'"},
		{"https://shop.example\r\nSet-Cookie: x=1", "'self'"},
	}
	for _, c := range cases {
		h := newHarness()
		h.f.view = finalView("succeeded", c.returnURL)
		rec := h.do(http.MethodGet, "/3ds/chl_abc", nil)
		checkHeaders(t, rec)
		if got := formAction(t, rec); got != c.want {
			t.Errorf("return URL %q: form-action %q, want %q", c.returnURL, got, c.want)
		}
	}
}

func TestPendingPage(t *testing.T) {
	h := newHarness()
	h.f.view.MerchantName = `Kedai <script>alert(1)</script> & Co`
	rec := h.do(http.MethodGet, "/3ds/chl_abc", nil)
	body := rec.Body.String()
	for _, want := range []string{
		`data-state="pending"`,
		"Verify it&#39;s you",
		"Coffer Test Bank · 3-D Secure (simulated)",
		"Kedai &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co",
		"MYR 1.00", "visa", "400000******3155",
		`<label for="otp">`,
		`<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="8" required autofocus`,
		`<button id="submit" type="submit">Verify</button>`,
		`<form method="post">`,
		"3 attempts left",
		"Test mode: the code is 123456",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, unwanted := range []string{`id="error"`, "<script", "style=", `id="return"`} {
		if strings.Contains(body, unwanted) {
			t.Errorf("page contains %q", unwanted)
		}
	}

	h.f.view.TestMode, h.f.view.AttemptsLeft, h.f.view.Error = false, 1, "That code is not right."
	body = h.do(http.MethodGet, "/3ds/chl_abc", nil).Body.String()
	if strings.Contains(body, "123456") {
		t.Error("the test code is shown outside test mode")
	}
	for _, want := range []string{`<p id="error" class="error" role="alert">That code is not right.</p>`, "1 attempt left"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestNoOutsideResources(t *testing.T) {
	for _, v := range []payment.ChallengeView{pendingView(), finalView("failed", "")} {
		h := newHarness()
		h.f.view = v
		body := h.do(http.MethodGet, "/3ds/chl_abc", nil).Body.String()
		for _, bad := range []string{"http://", "https://", "<script", "style=", "src=", "@import", "url("} {
			if strings.Contains(body, bad) {
				t.Errorf("state %s: page contains %q", v.State, bad)
			}
		}
	}
}

func TestFinalPages(t *testing.T) {
	for _, state := range []string{"succeeded", "failed", "expired", "completed", "something-new"} {
		t.Run(state, func(t *testing.T) {
			h := newHarness()
			h.f.view = finalView(state, "https://shop.example/back?order=1&x=2")
			body := h.do(http.MethodGet, "/3ds/chl_abc", nil).Body.String()
			for _, want := range []string{
				`data-state="` + state + `"`,
				"Your card was verified.",
				`<a id="return" class="button" href="https://shop.example/back?order=1&amp;x=2">Return to Kedai Kopi</a>`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, "<form") || strings.Contains(body, "You can close this window.") {
				t.Error("a final page with a return URL shows a form or says to close it")
			}

			h.f.view.ReturnURL = ""
			body = h.do(http.MethodGet, "/3ds/chl_abc", nil).Body.String()
			if !strings.Contains(body, "You can close this window.") || strings.Contains(body, `id="return"`) {
				t.Errorf("a final page without a return URL:\n%s", body)
			}
		})
	}
	headings := map[string]string{}
	for state := range challengeHeadings {
		h := newHarness()
		h.f.view = finalView(state, "")
		m := regexp.MustCompile(`<h1>([^<]+)</h1>`).FindStringSubmatch(h.do(http.MethodGet, "/3ds/chl_abc", nil).Body.String())
		if m == nil {
			t.Fatalf("%s: no heading", state)
		}
		if other, dup := headings[m[1]]; dup {
			t.Errorf("states %s and %s share the heading %q", state, other, m[1])
		}
		headings[m[1]] = state
	}
}

func TestReturnURLHrefIsFiltered(t *testing.T) {
	h := newHarness()
	h.f.view = finalView("failed", "javascript:alert(document.domain)")
	body := h.do(http.MethodGet, "/3ds/chl_abc", nil).Body.String()
	if strings.Contains(body, "javascript:") {
		t.Errorf("a javascript: return URL reached the page:\n%s", body)
	}
}

func TestErrorPages(t *testing.T) {
	h := newHarness()
	h.f.pageErr = &payment.Error{Kind: payment.KindNotFound, Code: "resource_missing", Message: "No such challenge."}
	rec := h.do(http.MethodGet, "/3ds/chl_gone", nil)
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "This verification link is not valid or has been used.") {
		t.Errorf("not found: %d %s", rec.Code, rec.Body)
	}
	if h.logs.Len() != 0 {
		t.Errorf("a bad link is not a server fault, yet logged: %s", h.logs)
	}

	// Wrapped, as a service might return it.
	h.f.pageErr = nil
	h.f.answerErr = errors.Join(errors.New("answering"), &payment.Error{Kind: payment.KindNotFound})
	rec = h.do(http.MethodPost, "/3ds/chl_gone", url.Values{"otp": {"123456"}})
	if rec.Code != http.StatusNotFound {
		t.Errorf("wrapped not found: %d", rec.Code)
	}

	h.f.answerErr = &payment.Error{Kind: payment.KindInvalidState, Code: "invalid_state"}
	rec = h.do(http.MethodPost, "/3ds/chl_abc", url.Values{"otp": {"123456"}})
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Errorf("other error: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(h.logs.String(), "invalid_state") || !strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Errorf("the failure was not logged: %s", h.logs)
	}
	if strings.Contains(rec.Body.String(), "invalid_state") {
		t.Error("an internal error reached the page")
	}

	rec = h.do(http.MethodDelete, "/3ds/chl_abc", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Result().Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("DELETE: %d Allow=%q", rec.Code, rec.Result().Header.Get("Allow"))
	}
}

func TestPostBodyLimit(t *testing.T) {
	h := newHarness()
	h.f.out = payment.ChallengeOutcome{View: pendingView()}
	// Just under the limit is still read.
	pad := strings.Repeat("a", maxChallengeForm-len("otp=123456&pad="))
	rec := h.do(http.MethodPost, "/3ds/chl_abc", url.Values{"otp": {"123456"}, "pad": {pad}})
	if rec.Code != http.StatusOK {
		t.Fatalf("a %d-byte form: %d", maxChallengeForm, rec.Code)
	}
	rec = h.do(http.MethodPost, "/3ds/chl_abc", url.Values{"otp": {"123456"}, "pad": {pad + "a"}})
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("an oversized form: %d", rec.Code)
	}
	if len(h.f.answers) != 1 {
		t.Errorf("the oversized form was answered: %d answers", len(h.f.answers))
	}
}

func TestRedirect(t *testing.T) {
	h := newHarness()
	h.f.out = payment.ChallengeOutcome{
		View:     finalView("succeeded", "https://shop.example:8443/back"),
		Redirect: "https://shop.example:8443/back?payment=pay_1&status=succeeded",
	}
	rec := h.do(http.MethodPost, "/3ds/chl_abc", url.Values{"otp": {"123456"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d", rec.Code)
	}
	if loc := rec.Result().Header.Get("Location"); loc != h.f.out.Redirect {
		t.Errorf("Location %q", loc)
	}
	if got := formAction(t, rec); got != "'self' https://shop.example:8443" {
		t.Errorf("form-action %q", got)
	}
}

func TestOTPIsTrimmedAndOnlyTakenFromTheBody(t *testing.T) {
	h := newHarness()
	h.f.out = payment.ChallengeOutcome{View: pendingView()}
	h.do(http.MethodPost, "/3ds/chl_abc", url.Values{"otp": {"  123456 \t"}})
	h.do(http.MethodPost, "/3ds/chl_abc?otp=123456", url.Values{"other": {"x"}})
	if len(h.f.answers) != 2 || h.f.answers[0] != "123456" || h.f.answers[1] != "" {
		t.Errorf("answers %q", h.f.answers)
	}
}

func TestOTPNeverLoggedOrEchoed(t *testing.T) {
	const otp = "987654"
	wrong := pendingView()
	wrong.Error, wrong.AttemptsLeft, wrong.HTTPStatus = "That code is not right.", 2, http.StatusUnprocessableEntity
	for _, c := range []struct {
		name string
		out  payment.ChallengeOutcome
		err  error
	}{
		{"wrong", payment.ChallengeOutcome{View: wrong}, nil},
		{"final", payment.ChallengeOutcome{View: finalView("failed", "")}, nil},
		{"internal error", payment.ChallengeOutcome{}, errors.New("store unavailable")},
		{"not found", payment.ChallengeOutcome{}, &payment.Error{Kind: payment.KindNotFound}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness()
			h.f.out, h.f.answerErr = c.out, c.err
			rec := h.do(http.MethodPost, "/3ds/chl_abc", url.Values{"otp": {otp}, "note": {otp}})
			if strings.Contains(rec.Body.String(), otp) {
				t.Errorf("the page echoes the OTP:\n%s", rec.Body)
			}
			for k, v := range rec.Result().Header {
				if strings.Contains(strings.Join(v, " "), otp) {
					t.Errorf("header %s echoes the OTP", k)
				}
			}
			if strings.Contains(h.logs.String(), otp) {
				t.Errorf("the OTP was logged: %s", h.logs)
			}
		})
	}
}
