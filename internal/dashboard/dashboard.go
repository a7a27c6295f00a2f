// Package dashboard serves the merchant's dashboard at /dashboard: its
// team signs in with an e-mail and password (users from `coffer user
// create`) and finds payments (refunding, capturing or cancelling them),
// manages saved cards (masked only) and looks into and redelivers webhooks.
//
// Every page is rendered server side from html/template with an embedded
// stylesheet and no script, under the hosted pages' strict policy (nothing
// loaded from elsewhere, no framing, nothing cached). Money moves only
// through the payment service the API uses, under an Idempotency-Key the
// form carries, so a double submit refunds once. Every action is audited
// with the user who did it.
package dashboard

import (
	"bytes"
	"embed"
	"github.com/coffer-vault/coffer/internal/wire"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Config is what the dashboard is built over.
type Config struct {
	Service *payment.Service
	Store   store.Store // users, sessions and the audit log
	Keeper  *idempotency.Keeper
	Logger  *slog.Logger
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
}

// DefaultSessionTTL is a working day: a session ends however active it is.
const DefaultSessionTTL = 12 * time.Hour

// Dashboard serves the dashboard's pages.
type Dashboard struct {
	svc      *payment.Service
	st       store.Store
	idem     idempotency.HTTP
	log      *slog.Logger
	ttl      time.Duration
	attempts *attempts
	hashing  chan struct{} // a slot per password check under way (see verify)
	now      func() time.Time
}

// maxHashing is how many password checks run at once.
const maxHashing = 4

// New returns the dashboard; Register serves it.
func New(c Config) *Dashboard {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	d := &Dashboard{svc: c.Service, st: c.Store, log: c.Logger, ttl: c.SessionTTL, attempts: newAttempts(MaxFailures, FailureWindow),
		hashing: make(chan struct{}, maxHashing),
		now:     func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
	d.idem = idempotency.HTTP{Keeper: c.Keeper, Sealer: c.Service, Log: c.Logger, Fail: idempotencyFailure,
		Scope: "dashboard", Mark: payment.WithIdempotencyKey}
	return d
}

var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed assets/style.css
	styleSheet string

	funcs = template.FuncMap{
		// money shows an amount with its currency: "MYR 50.00".
		"money": func(amount int64, currency string) string {
			return strings.ToUpper(currency) + " " + money.Format(amount, currency)
		},
		"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		// cardActions is what the "cardactions" partial shows for a card.
		"cardActions": func(t *store.Token, csrf, back string) cardActionsView {
			return cardActionsView{Token: t, CSRF: csrf, Back: back}
		},
		"derefInt": func(i *int) int {
			if i == nil {
				return 0
			}
			return *i
		},
	}

	signInTmpl   = page("signin.html")
	paymentsTmpl = page("payments.html")
	paymentTmpl  = page("payment.html")
	webhooksTmpl = page("webhooks.html")
	tokensTmpl   = page("tokens.html")
	errorTmpl    = page("error.html")
)

// page is one page's template set (layout + page), so pages can define the
// same block names.
func page(name string) *template.Template {
	return template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name))
}

// cardActionsView is a saved card with the form token its actions carry
// and, on a customer's page, where they return to.
type cardActionsView struct {
	Token      *store.Token
	CSRF, Back string
}

// layoutData is what the layout sees; Page is what the page's blocks see.
type layoutData struct {
	Nonce string
	CSS   template.CSS // our own embedded stylesheet, never outside input
	Title string
	Nav   string // the current section, "" on pages without the menu
	User  *store.DashboardUser
	CSRF  string
	Page  any
}

// render writes a whole page, or a bare 500 if the template fails: the page
// is built in memory first, so no half-written page is sent as a success.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, ld layoutData) {
	err := wire.WritePage(w, status, func(buf *bytes.Buffer, nonce string) error {
		ld.Nonce, ld.CSS = nonce, template.CSS(styleSheet)
		return t.ExecuteTemplate(buf, "layout", ld)
	}, secure)
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: rendering a page failed", "err", err)
	}
}

// doneNotice is the notice a page shows after the redirect that ends a
// POST (?done=ACTION&ref=ID): notices[ACTION] with the id put in for %s,
// or "" when the action is not one of them or the id lacks the page's
// prefix (so a crafted link cannot put any text on the page).
func doneNotice(r *http.Request, idPrefix string, notices map[string]string) string {
	ref, msg := r.FormValue("ref"), notices[r.FormValue("done")]
	if msg == "" || !strings.HasPrefix(ref, idPrefix) {
		return ""
	}
	return strings.ReplaceAll(msg, "%s", ref)
}

// errorView is the error page's data.
type errorView struct{ Heading, Message string }

// renderError shows a problem as a page of its own with status.
func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	d.render(w, r, status, errorTmpl, layoutData{Title: heading, Page: errorView{heading, message}})
}

// secure sets the headers of every dashboard response: only our own inline
// style with this response's nonce, no script at all, forms only to
// ourselves, never framed (clickjacking a refund button), never cached.
func secure(h http.Header, nonce string) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:; form-action 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// audit records what a user did. Failing to record fails nothing the user
// already did, but is logged: the action happened.
func (d *Dashboard) audit(r *http.Request, merchantID, actor, action, objectID, detail string) {
	a := &store.Audit{ID: id.NewOrdered("aud"), MerchantID: merchantID, Action: action, ObjectID: objectID, Purpose: detail,
		RequestID: payment.RequestID(r.Context()), Actor: actor, Created: d.now()}
	if err := d.st.Write(r.Context(), func(tx store.Tx) error { return tx.InsertAudit(a) }); err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: audit record failed", "action", action, "err", err)
	}
}

// clientIP is the connection's address without its port: sign-in limits
// count per address. Forwarded headers are not trusted (anyone can send one).
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
