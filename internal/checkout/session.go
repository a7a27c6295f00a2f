package checkout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/wire"
)

// The hosted checkout page of a payment session, at /pay/{id}.
//
// The page is a form with no action whose inputs have no name: nothing on it
// can be submitted natively. Its script (assets/checkout.js) encrypts the
// card in the browser to the session's RSA key, with the session id as the
// OAEP label, and posts the ciphertext as JSON to /pay/{id}/confirm. The
// card number therefore never travels as a form field, never reaches an
// access log or a proxy in clear, and a ciphertext taken from one session
// cannot be replayed into another.

const (
	// maxConfirmBody bounds a confirmation: an RSA-2048 ciphertext is 344
	// base64 characters, a token and CVC far less.
	maxConfirmBody = 16 << 10
	// maxCancelBody bounds the cancel form, which has no fields at all.
	maxCancelBody = 1 << 10
)

var (
	// scriptVersion busts caches of the script when the binary changes it.
	scriptVersion = func() string {
		sum := sha256.Sum256(checkoutScript)
		return hex.EncodeToString(sum[:8])
	}()
	scriptSrc = "/assets/checkout.js?v=" + scriptVersion

	// csrf refuses state-changing requests sent by other sites' pages
	// (Sec-Fetch-Site, else Origin against Host). The session id in the URL
	// is already a capability; this keeps a page that learned it from
	// confirming or canceling through the holder's browser.
	csrf = http.NewCrossOriginProtection()
)

// checkoutHeaders is the checkout page's policy: its one script and
// stylesheet by nonce, images (the QR code) and fetch only from here, and
// framing only by the merchant's allowed origins.
func checkoutHeaders(ancestors []string) headerFunc {
	fa := frameAncestorsValue(ancestors)
	return func(h http.Header, nonce string) {
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
			"'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors "+fa)
		noStore(h)
		// X-Frame-Options cannot express a list of origins, and browsers
		// that know frame-ancestors ignore it; send it only when framing is
		// refused altogether, for the browsers that know nothing else.
		if fa == "'none'" {
			h.Set("X-Frame-Options", "DENY")
		}
	}
}

// frameAncestorsValue is the frame-ancestors source list for the merchant's
// allowed origins, each validated again before it is spliced into the
// header: the setting was checked when stored, but a header is no place to
// trust that. Anything but 'self' or an http(s) scheme://host[:port] is
// skipped; nothing left means 'none'.
func frameAncestorsValue(ancestors []string) string {
	var out []string
	seen := map[string]bool{}
	for _, a := range ancestors {
		if v := frameAncestor(a); v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return "'none'"
	}
	return strings.Join(out, " ")
}

func frameAncestor(raw string) string {
	if raw == "'self'" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if !cspHost.MatchString(host) {
		return ""
	}
	return u.Scheme + "://" + host
}

// checkoutPage is what checkout.html sees.
type checkoutPage struct {
	payment.CheckoutView
	Open  bool
	Base  string // "/pay/<id>": the page's own path, for its endpoints
	Key   any    // the parsed JWK, re-marshaled by html/template into the data block
	Title string

	// The final page (State != "open").
	Heading string
	Tone    string // ok | bad | info

	PayLabel     string // "Pay MYR 30.00" | "Save card"
	Saved        []savedCard
	SaveOptional bool
	SaveAlways   bool
}

type savedCard struct {
	payment.SavedCard
	ID      string // element id: saved-<token>
	Name    string // the brand as people write it
	Exp     string // "12/34"
	Checked bool
}

var brandNames = map[string]string{
	"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
	"diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay", "maestro": "Maestro",
}

func brandName(b string) string {
	if n, ok := brandNames[strings.ToLower(b)]; ok {
		return n
	}
	if b == "" {
		return "Card"
	}
	return b
}

var finalHeadings = map[string]struct{ heading, tone, message string }{
	"succeeded":       {"Payment successful", "ok", "Your payment is complete."},
	"failed":          {"Payment failed", "bad", "This payment could not be completed."},
	"expired":         {"This payment link has expired", "bad", "Ask the shop for a new payment link."},
	"canceled":        {"Payment canceled", "info", "This payment was canceled. Nothing was charged."},
	"requires_action": {"Waiting for verification", "info", "This payment is waiting for your bank's verification."},
}

func newCheckoutPage(v payment.CheckoutView) (checkoutPage, error) {
	cp := checkoutPage{CheckoutView: v, Open: v.State == "open", Base: "/pay/" + url.PathEscape(v.SessionID)}
	if !cp.Open {
		f, ok := finalHeadings[v.State]
		if !ok {
			f = struct{ heading, tone, message string }{"This payment is closed", "info", "This payment can no longer be made."}
		}
		if v.State == "succeeded" && v.SaveOnly {
			f.heading, f.message = "Card saved", "Your card has been saved."
		}
		cp.Heading, cp.Tone = f.heading, f.tone
		if cp.Message == "" {
			cp.Message = f.message
		}
		cp.Title = f.heading
		return cp, nil
	}

	// The key must be a JSON object: it goes into the page as data, and a
	// page that cannot encrypt is better refused here than after typing.
	var key map[string]any
	if err := json.Unmarshal([]byte(v.KeyJWK), &key); err != nil || key["kty"] != "RSA" || key["n"] == nil || key["e"] == nil {
		return cp, fmt.Errorf("session %s: the key is not an RSA JWK", v.SessionID)
	}
	cp.Key = key

	if v.SaveOnly {
		cp.PayLabel, cp.Title = "Save card", "Save your card · "+v.MerchantName
	} else {
		cp.PayLabel, cp.Title = "Pay "+v.Amount, "Pay "+v.MerchantName
	}
	cp.SaveOptional, cp.SaveAlways = v.SaveCard == "optional", v.SaveCard == "always"
	for i, c := range v.SavedCards {
		cp.Saved = append(cp.Saved, savedCard{
			SavedCard: c, ID: "saved-" + c.Token, Name: brandName(c.Brand),
			Exp: fmt.Sprintf("%02d/%02d", c.ExpMonth, c.ExpYear%100), Checked: i == 0,
		})
	}
	return cp, nil
}

// Checkout serves the checkout page at GET /pay/{id}: the card form while
// the session is open, else a redirect to where the session ended (or a
// final page when the merchant gave no URL for that).
func (p *Pages) Checkout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := p.checkoutView(r, id)
	if err != nil {
		p.sessionError(w, r, id, "showing", err)
		return
	}
	if v.State != "open" && v.Redirect != "" {
		seeOther(w, v.Redirect)
		return
	}
	cp, err := newCheckoutPage(v)
	if err != nil {
		p.sessionError(w, r, id, "showing", err)
		return
	}
	ld := layoutData{Page: cp}
	if cp.Open {
		ld.Script = scriptSrc
	}
	p.renderPage(w, r, http.StatusOK, checkoutTmpl, ld, checkoutHeaders(v.FrameAncestors))
}

func (p *Pages) checkoutView(r *http.Request, id string) (payment.CheckoutView, error) {
	if p.ss == nil || id == "" {
		return payment.CheckoutView{}, notFoundErr
	}
	return p.ss.CheckoutPage(r.Context(), id)
}

// CheckoutConfirm takes the page's confirmation at POST /pay/{id}/confirm:
// JSON in (payment.PageConfirm), JSON out (payment.PageResult, or
// {"error":{"message","field"}} with a 4xx or 5xx status).
//
// The body holds a card (encrypted) or a CVC: it is never logged or echoed,
// and neither are the decoder's errors, which may quote it.
func (p *Pages) CheckoutConfirm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := csrf.Check(r); err != nil {
		writeJSONError(w, http.StatusForbidden, "This request was refused.", "")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSONError(w, http.StatusUnsupportedMediaType, "The request must be JSON.", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxConfirmBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var c payment.PageConfirm
	err := dec.Decode(&c)
	if err == nil {
		// One JSON value and nothing after it.
		if err = dec.Decode(&struct{}{}); err == io.EOF {
			err = nil
		} else if err == nil {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "The request is too large.", "")
			return
		}
		writeJSONError(w, http.StatusBadRequest, "The request could not be read. Reload the page and try again.", "")
		return
	}
	if (c.EncryptedCard == "") == (c.Token == "") {
		writeJSONError(w, http.StatusBadRequest, "Send either a card or a saved card.", "")
		return
	}
	if c.EncryptedCard != "" && c.CVC != "" {
		writeJSONError(w, http.StatusBadRequest, "A new card's security code goes inside the encrypted card.", "")
		return
	}
	if p.ss == nil || id == "" {
		p.confirmError(w, r, id, notFoundErr)
		return
	}
	res, err := p.ss.ConfirmFromPage(r.Context(), id, c)
	if err != nil {
		p.confirmError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// confirmError answers a failed confirmation in JSON. Only the kinds whose
// messages are meant for the card holder are passed on; anything else is
// logged (the session id and the error, never the request) and answered
// with a generic message.
func (p *Pages) confirmError(w http.ResponseWriter, r *http.Request, id string, err error) {
	var pe *payment.Error
	if errors.As(err, &pe) {
		switch pe.Kind {
		case payment.KindNotFound:
			writeJSONError(w, http.StatusNotFound, "This payment link is not valid.", "")
			return
		case payment.KindInvalidState:
			writeJSONError(w, http.StatusUnprocessableEntity,
				"This payment can no longer be completed. Reload the page to see its status.", "")
			return
		case payment.KindInvalidRequest:
			writeJSONError(w, http.StatusBadRequest, orDefault(pe.Message, "Check your card details and try again."), paramField(pe.Param))
			return
		case payment.KindCard:
			writeJSONError(w, http.StatusPaymentRequired, orDefault(pe.Message, "Your card was declined."), "card")
			return
		}
	}
	p.log.ErrorContext(r.Context(), "checkout: confirming a session failed", "session", id, "err", err)
	writeJSONError(w, http.StatusInternalServerError, "Something went wrong on our side. Nothing was charged; please try again.", "")
}

// paramField maps an API parameter to the page's field names.
func paramField(param string) string {
	param = strings.TrimPrefix(param, "card.")
	switch param {
	case "number", "cvc", "holder_name":
		return param
	case "exp_month", "exp_year":
		return "expiry"
	case "encrypted_card", "token":
		return "card"
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// CheckoutReturn is where a session's 3-D Secure challenge sends the
// browser back (GET /pay/{id}/return): on to the merchant's URL for the
// outcome.
func (p *Pages) CheckoutReturn(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if p.ss == nil || id == "" {
		p.sessionError(w, r, id, "returning to", notFoundErr)
		return
	}
	to, err := p.ss.SessionReturn(r.Context(), id)
	if err != nil {
		p.sessionError(w, r, id, "returning to", err)
		return
	}
	if to == "" {
		to = "/pay/" + url.PathEscape(id) // the page shows the outcome
	}
	seeOther(w, to)
}

// CheckoutCancel cancels the session (POST /pay/{id}/cancel, the page's
// cancel form) and sends the browser to the merchant's cancel URL.
//
// The page's script sends the form with fetch and Accept: application/json
// and gets {"redirect": …} back to follow itself: Chrome holds every
// redirect that follows a form submission to the page's form-action, which
// allows only this origin, so a 303 to the merchant would be blocked.
// Without the script (which the page cannot work without anyway) the answer
// is that 303.
func (p *Pages) CheckoutCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	asJSON := wantsJSON(r)
	if err := csrf.Check(r); err != nil {
		if asJSON {
			writeJSONError(w, http.StatusForbidden, "This request was refused.", "")
			return
		}
		p.renderSessionError(w, r, http.StatusForbidden, "Not allowed", "This request was refused.")
		return
	}
	// The form has no fields; read (and bound) whatever was sent so the
	// connection can be reused, and ignore it.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxCancelBody))
	var to string
	var err error = notFoundErr
	if p.ss != nil && id != "" {
		to, err = p.ss.CancelFromPage(r.Context(), id)
	}
	if err != nil {
		if asJSON {
			p.confirmError(w, r, id, err)
			return
		}
		p.sessionError(w, r, id, "canceling", err)
		return
	}
	if to == "" {
		to = "/pay/" + url.PathEscape(id)
	}
	if asJSON {
		writeJSON(w, http.StatusOK, payment.PageResult{Redirect: to})
		return
	}
	seeOther(w, to)
}

func wantsJSON(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}

// CheckoutQR serves GET /pay/{id}/qr.png: a QR code of the page's URL, to
// carry the payment to a phone.
func (p *Pages) CheckoutQR(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := p.checkoutView(r, id)
	if err == nil && v.PageURL == "" {
		err = notFoundErr
	}
	if err != nil {
		var pe *payment.Error
		noStore(w.Header())
		if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
			http.Error(w, "Not found.", http.StatusNotFound)
			return
		}
		p.log.ErrorContext(r.Context(), "checkout: the QR code's session failed", "session", id, "err", err)
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	code, err := qr.Encode(v.PageURL, qr.M)
	if err != nil {
		noStore(w.Header())
		p.log.ErrorContext(r.Context(), "checkout: encoding the QR code failed", "session", id, "err", err)
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	png := code.PNG()
	h := w.Header()
	noStore(h)
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", fmt.Sprint(len(png)))
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(png)
	}
}

// Asset serves GET /assets/checkout.js, the page's script. It holds nothing
// per session, so it may be cached: for a year when asked for by the
// version the pages link to, else revalidated by its ETag.
func (p *Pages) Asset(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("ETag", `"`+scriptVersion+`"`)
	if r.URL.Query().Get("v") == scriptVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "checkout.js", time.Time{}, strings.NewReader(string(checkoutScript)))
}

// sessionError answers a failed page request of a session (not the JSON
// confirmation) with an error page under the checkout policy.
func (p *Pages) sessionError(w http.ResponseWriter, r *http.Request, id, doing string, err error) {
	var pe *payment.Error
	if errors.As(err, &pe) {
		switch pe.Kind {
		case payment.KindNotFound:
			p.renderSessionError(w, r, http.StatusNotFound, "Payment link not valid",
				"This payment link is not valid. Ask the shop for a new one.")
			return
		case payment.KindInvalidState:
			p.renderSessionError(w, r, http.StatusUnprocessableEntity, "This payment is closed",
				"This payment can no longer be changed.")
			return
		}
	}
	p.log.ErrorContext(r.Context(), "checkout: "+doing+" a session failed", "session", id, "method", r.Method, "err", err)
	p.renderSessionError(w, r, http.StatusInternalServerError, "Something went wrong",
		"We could not load this payment. Please try again later.")
}

func (p *Pages) renderSessionError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	p.renderPage(w, r, status, errorTmpl, layoutData{Page: errorView{State: "error", Heading: heading, Message: message}},
		checkoutHeaders(nil))
}

// seeOther redirects the browser, keeping the redirect itself out of caches
// and the page's URL out of the next site's Referer.
func seeOther(w http.ResponseWriter, to string) {
	noStore(w.Header())
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	noStore(w.Header())
	wire.WriteJSON(w, status, v, `{"error":{"message":"Something went wrong."}}`)
}

func writeJSONError(w http.ResponseWriter, status int, message, field string) {
	writeJSON(w, status, payment.PageResult{Error: &payment.PageError{Message: message, Field: field}})
}
