package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/password"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// The keys page: the merchant's working keys and restricted keys, shown
// only as prefix and last four; rolling a key (after the user types their
// password again) and making a restricted key answer with the new key once,
// on the page the POST returns. Everything goes through the service the
// API's /v1/merchant/keys and /v1/api_keys routes use.

var (
	keysTmpl   = page("keys.html")
	keyNewTmpl = page("keynew.html")
)

// rollOverlap is one choice of how long a rolled key keeps working, in
// seconds; payment.RollParams takes any from 0 to payment.MaxKeyOverlap.
type rollOverlap struct {
	Seconds int64
	Label   string
}

var rollOverlaps = []rollOverlap{
	{0, "Stops now (a leaked key)"},
	{3600, "1 hour"},
	{payment.DefaultKeyOverlap, "24 hours"},
	{payment.MaxKeyOverlap, "7 days"},
}

// rollTypes are the keys a roll replaces, as payment.RollParams names them.
var rollTypes = []struct{ Type, Label string }{
	{store.KeySecret, "Secret key (sk_…)"},
	{store.KeyPublishable, "Publishable key (pk_…)"},
	{store.KeyHMAC, "HMAC secret"},
}

// choice is one option of a form's select, radio group or checkboxes.
type choice struct {
	Value, Label string
	Checked      bool
	ID           string // the input's id, when Value is not fit for one
}

// keysView is the keys page's data; the form values are kept when a form
// is shown again with an error.
type keysView struct {
	Working    []payment.KeyView // current and rolled secret/publishable keys, retired HMAC secrets
	Restricted []payment.KeyView
	More       bool

	Scopes   []choice // payment.Scopes, the ones a restricted key may hold
	Overlaps []choice
	Types    []choice

	RollType    string
	RollExpires int64
	KeyName     string
	KeyScopes   []string

	Error, ErrorForm string // ErrorForm: "roll" or "create", the form the error is about
	Notice           string
}

// keys shows the keys page.
func (d *Dashboard) keys(w http.ResponseWriter, r *http.Request) {
	v := keysView{Notice: doneNotice(r, "key_", map[string]string{"delete": "Key %s stopped: it no longer works."})}
	d.showKeys(w, r, http.StatusOK, v)
}

// showKeys renders the keys page over v's messages and form values.
func (d *Dashboard) showKeys(w http.ResponseWriter, r *http.Request, status int, v keysView) {
	su := userOf(r)
	m, err := d.svc.GetMerchant(r.Context(), su.user.MerchantID)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	if v.Working, err = d.svc.MerchantKeys(r.Context(), m); err != nil {
		d.failed(w, r, err)
		return
	}
	if v.Restricted, v.More, err = d.svc.ListAPIKeys(r.Context(), m.ID, listPage, ""); err != nil {
		d.failed(w, r, err)
		return
	}
	if v.RollType == "" {
		v.RollType, v.RollExpires = store.KeySecret, payment.DefaultKeyOverlap
	}
	for _, t := range rollTypes {
		v.Types = append(v.Types, choice{Value: t.Type, Label: t.Label, Checked: t.Type == v.RollType})
	}
	for _, o := range rollOverlaps {
		v.Overlaps = append(v.Overlaps, choice{Value: strconv.FormatInt(o.Seconds, 10), Label: o.Label, Checked: o.Seconds == v.RollExpires})
	}
	for _, sc := range payment.Scopes {
		// "payments:read" is no CSS selector's id: "scope-payments-read".
		v.Scopes = append(v.Scopes, choice{Value: sc, Label: sc, Checked: slices.Contains(v.KeyScopes, sc),
			ID: "scope-" + strings.ReplaceAll(sc, ":", "-")})
	}
	d.render(w, r, status, keysTmpl, layoutData{Title: "Keys", Nav: "keys", User: su.user, CSRF: su.csrf, Page: v})
}

// keyNewView is the page that shows a new key, once.
type keyNewView struct {
	Heading  string
	Key      string
	Redacted string
	Expires  *time.Time // a roll: when the replaced key stops
	Scopes   []string   // a restricted key's
}

// rollKey replaces the secret, publishable or HMAC key once the user has
// typed their password again: a session left open must not be enough to
// take the merchant's keys. A wrong password counts as a failed sign-in.
func (d *Dashboard) rollKey(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	v := keysView{RollType: r.PostFormValue("type"), ErrorForm: "roll"}
	exp, perr := strconv.ParseInt(r.PostFormValue("expires_in"), 10, 64)
	v.RollExpires = exp
	p := payment.RollParams{Type: v.RollType, ExpiresIn: &exp}
	if perr != nil {
		v.Error = "Choose how long the old key keeps working (expires_in)."
		d.showKeys(w, r, http.StatusBadRequest, v)
		return
	}
	if err := payment.CheckRoll(p); err != nil {
		v.Error = fieldMessage(err)
		d.showKeys(w, r, http.StatusBadRequest, v)
		return
	}
	if status, msg := d.reauthenticate(w, r, su, "roll the "+p.Type+" key"); status != 0 {
		v.Error = msg
		d.showKeys(w, r, status, v)
		return
	}
	k, err := d.svc.RollKey(r.Context(), su.user.MerchantID, p)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.key_roll", p.Type,
		"the replaced key works until "+k.PreviousExpires.UTC().Format(time.RFC3339))
	expires := k.PreviousExpires
	heading := map[string]string{store.KeySecret: "New secret key", store.KeyPublishable: "New publishable key",
		store.KeyHMAC: "New HMAC secret"}[p.Type]
	d.render(w, r, http.StatusOK, keyNewTmpl, layoutData{Title: heading, Nav: "keys", User: su.user, CSRF: su.csrf,
		Page: keyNewView{Heading: heading, Key: k.Key(), Expires: &expires}})
}

// reauthenticate checks the password the form carries against the user's,
// under the sign-in limits: it answers 0 when it matches, else the status
// and message to show. A failure is counted and audited like a sign-in's.
func (d *Dashboard) reauthenticate(w http.ResponseWriter, r *http.Request, su *signedInUser, what string) (int, string) {
	pw := r.PostFormValue("password")
	if pw == "" || len(pw) > password.MaxLength {
		return http.StatusBadRequest, "Type your password (password) to " + what + "."
	}
	now := d.now()
	keys := []string{"email:" + su.user.Email, "ip:" + clientIP(r)}
	if blocked, until := d.attempts.Blocked(now, keys...); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
		return http.StatusTooManyRequests, "Too many wrong passwords. Try again in " + until.Sub(now).Round(time.Minute).String() + "."
	}
	ok, err := d.verify(r.Context(), su.user.PasswordHash, pw)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, "Too many password checks at once; try again shortly."
	}
	if !ok || err != nil {
		d.attempts.Fail(now, keys...)
		d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.reauth_failed", su.user.ID, "wrong password to "+what+" from "+clientIP(r))
		return http.StatusForbidden, "That is not your password (password); nothing was changed."
	}
	return 0, ""
}

// createKey makes a restricted key with the scopes ticked.
func (d *Dashboard) createKey(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	if err := r.ParseForm(); err != nil {
		d.renderError(w, r, http.StatusBadRequest, "Not created", "The form could not be read.")
		return
	}
	p := payment.APIKeyParams{Name: strings.TrimSpace(r.PostFormValue("name")), Scopes: r.PostForm["scopes"]}
	k, err := d.svc.CreateAPIKey(r.Context(), su.user.MerchantID, p)
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindInvalidRequest {
		scopes := slices.DeleteFunc(slices.Clone(p.Scopes), func(s string) bool { return !slices.Contains(payment.Scopes, s) })
		d.showKeys(w, r, http.StatusBadRequest, keysView{ErrorForm: "create", Error: fieldMessage(err), KeyName: p.Name, KeyScopes: scopes})
		return
	}
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.api_key_create", k.ID, k.Name+" "+strings.Join(k.Scopes, ","))
	d.render(w, r, http.StatusOK, keyNewTmpl, layoutData{Title: "New restricted key", Nav: "keys", User: su.user, CSRF: su.csrf,
		Page: keyNewView{Heading: "New restricted key " + k.Name, Key: k.Key, Redacted: k.Redacted, Scopes: k.Scopes}})
}

// deleteKey stops a restricted key, or a rolled key before its expiry,
// once the confirmation is ticked.
func (d *Dashboard) deleteKey(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	kid := r.PathValue("id")
	if r.PostFormValue("confirm") != "yes" {
		d.renderError(w, r, http.StatusBadRequest, "Not stopped", "Tick the confirmation (confirm) to stop a key: it cannot be undone.")
		return
	}
	k, err := d.svc.RevokeAPIKey(r.Context(), su.user.MerchantID, kid)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.api_key_delete", k.ID, k.Type+" "+k.Redacted)
	http.Redirect(w, r, "/dashboard/keys?"+url.Values{"done": {"delete"}, "ref": {k.ID}}.Encode(), http.StatusSeeOther)
}

// fieldMessage is a refused request's message for the page, naming the
// field the service named.
func fieldMessage(err error) string {
	var pe *payment.Error
	if !errors.As(err, &pe) {
		return "That could not be done; try again."
	}
	if pe.Param != "" && !strings.Contains(pe.Message, pe.Param) {
		return pe.Message + " (" + pe.Param + ")"
	}
	return pe.Message
}
