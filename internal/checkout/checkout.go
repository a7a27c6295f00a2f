// Package checkout serves Coffer's hosted pages: the pages a card holder's
// browser loads directly, as opposed to the API a merchant's server calls.
//
// Every page is rendered server side from html/template with one shared
// layout and stylesheet (embedded, so the binary is self-contained), and is
// served with headers that keep it out of caches, out of frames (but for the
// checkout page, which a merchant may allow its own origins to frame) and
// unable to load anything from elsewhere.
package checkout

import (
	"bytes"
	"context"
	"embed"
	"github.com/coffer-vault/coffer/internal/wire"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
)

// Challenges is what the 3-D Secure challenge page needs from the payment
// service; an interface so the pages can be tested without one.
type Challenges interface {
	ChallengePage(ctx context.Context, id string) (payment.ChallengeView, error)
	AnswerChallenge(ctx context.Context, id, otp string) (payment.ChallengeOutcome, error)
}

// Sessions is what the hosted checkout page needs from the payment service;
// an interface so the pages can be tested without one.
type Sessions interface {
	CheckoutPage(ctx context.Context, id string) (payment.CheckoutView, error)
	ConfirmFromPage(ctx context.Context, id string, c payment.PageConfirm) (payment.PageResult, error)
	SessionReturn(ctx context.Context, id string) (redirect string, err error)
	CancelFromPage(ctx context.Context, id string) (redirect string, err error)
}

// Pages serves the hosted pages. Its methods are http.HandlerFuncs.
type Pages struct {
	ch  Challenges
	ss  Sessions
	fm  FieldMerchants // nil: no drop-in card fields
	log *slog.Logger
}

// New returns the hosted pages backed by ch (3-D Secure challenges) and ss
// (payment sessions). Failures are logged to log (the default logger when
// nil), never shown to the card holder.
func New(ch Challenges, ss Sessions, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.Default()
	}
	return &Pages{ch: ch, ss: ss, log: log}
}

var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed assets/style.css
	styleSheet string
	//go:embed assets/card.js
	cardScript string
	//go:embed assets/checkout.js
	checkoutSource string
	// checkoutScript is what /assets/checkout.js serves: the shared card
	// rules, then the page's own script.
	checkoutScript = []byte(cardScript + "\n" + checkoutSource)

	// Each page is its own template set (layout + page) so that pages can
	// define the same block names ("title", "main") without clashing.
	challengeTmpl = page("challenge.html")
	errorTmpl     = page("error.html")
	checkoutTmpl  = page("checkout.html")
)

func page(name string) *template.Template {
	return template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name))
}

// layoutData is what the layout sees; Page is what the page's blocks see.
type layoutData struct {
	Nonce string
	CSS   template.CSS // our own embedded stylesheet, never outside input
	// Script is the src of the page's one script, "" for none. DataIcon
	// says whether the policy lets the empty data: icon load.
	Script   string
	DataIcon bool
	Page     any
}

// headerFunc sets a page's security headers for the response's nonce.
type headerFunc func(h http.Header, nonce string)

// challengeHeaders is the policy of the challenge and generic error pages.
func challengeHeaders(formOrigin string) headerFunc {
	return func(h http.Header, nonce string) { secure(h, nonce, formOrigin) }
}

// render writes a complete page under the challenge pages' policy; see
// renderPage.
//
// formOrigin is an extra origin the page's form may be sent to (see csp).
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, data any, formOrigin string) {
	p.renderPage(w, r, status, t, layoutData{Page: data, DataIcon: true}, challengeHeaders(formOrigin))
}

// renderPage writes a complete page, or nothing but a bare 500 if the
// template fails: the page is built in memory first so a half-written page
// never reaches the browser with a success status. ld's Nonce and CSS are
// filled in here; headers sets the policy for that nonce.
func (p *Pages) renderPage(w http.ResponseWriter, r *http.Request, status int, t *template.Template, ld layoutData, headers headerFunc) {
	err := wire.WritePage(w, status, func(buf *bytes.Buffer, nonce string) error {
		ld.Nonce, ld.CSS = nonce, template.CSS(styleSheet)
		return t.ExecuteTemplate(buf, "layout", ld)
	}, headers)
	if err != nil {
		p.log.ErrorContext(r.Context(), "checkout: rendering a page failed", "err", err)
	}
}

// errorView is the data of the generic error page.
type errorView struct {
	State   string // data-state on <main>, for browser tests
	Heading string
	Message string
}

func (p *Pages) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	p.render(w, r, status, errorTmpl, errorView{State: "error", Heading: heading, Message: message}, "")
}

// secure sets the headers every response of this package carries.
//
// The pages' URLs are capabilities (whoever has a challenge link can answer
// it), so nothing may cache them or leak them in a Referer. The CSP allows
// only the one inline <style> carrying this response's nonce: no scripts,
// no outside resources, no framing (clickjacking the OTP form).
func secure(h http.Header, nonce, formOrigin string) { secureFramed(h, nonce, formOrigin, nil) }

// secureFramed is secure for a page the merchant may frame: a challenge
// reached from a checkout page embedded in the merchant's site must open in
// that same frame, or the card holder could never finish it.
func secureFramed(h http.Header, nonce, formOrigin string, ancestors []string) {
	formAction := "'self'"
	if formOrigin != "" {
		formAction += " " + formOrigin
	}
	fa := frameAncestorsValue(ancestors)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:; form-action "+
		formAction+"; frame-ancestors "+fa+"; base-uri 'none'")
	noStore(h)
	if fa == "'none'" {
		h.Set("X-Frame-Options", "DENY")
	}
}

// noStore sets the headers every response of this package carries, whatever
// its policy: not cached, not sniffed, and its URL (a capability) not sent
// on as a Referer.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// cspHost is deliberately narrower than what url.Parse accepts in a host
// (it lets through ; , ' and more), because the value is spliced into a
// header whose grammar those characters would break: a crafted return URL
// must not be able to add directives to our policy.
var cspHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)

// returnOrigin is the scheme://host[:port] of an absolute http(s) URL, or ""
// for anything else.
//
// Chrome applies form-action to every redirect that follows a form
// submission, so the 303 we answer a final OTP with, which sends the holder
// back to the merchant, would be blocked unless the merchant's origin is
// allowed here.
func returnOrigin(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.ToLower(u.Host)
	if !cspHost.MatchString(host) {
		return ""
	}
	return u.Scheme + "://" + host
}

// formOrigins is the form-action sources for a page whose form may end, after
// redirects, at any of urls: each valid origin once, space-separated.
func formOrigins(urls ...string) string {
	var out []string
	seen := map[string]bool{}
	for _, u := range urls {
		if o := returnOrigin(u); o != "" && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return strings.Join(out, " ")
}
