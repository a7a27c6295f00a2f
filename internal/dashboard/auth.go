package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/password"
	"github.com/coffer-vault/coffer/internal/store"
)

// Cookies. The session cookie holds a random id whose SHA-256 is stored;
// the pre-session cookie is the sign-in form's CSRF token (double submit).
// Both are HttpOnly, SameSite=Strict and limited to /dashboard.
// The code cookie holds the random id (its SHA-256 stored) of a sign-in
// that gave the right password and waits for its TOTP code.
const (
	sessionCookie = "coffer_dashboard"
	preCookie     = "coffer_dashboard_pre"
	codeCookie    = "coffer_dashboard_code"
	cookiePath    = "/dashboard"
)

// signedInUser is a request's user, its session and the session's CSRF token.
type signedInUser struct {
	user *store.DashboardUser
	sess *store.DashboardSession
	csrf string
}

type ctxKey int

const userKey ctxKey = 1

func userOf(r *http.Request) *signedInUser { return r.Context().Value(userKey).(*signedInUser) }

func digest(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// csrfFor derives a session's CSRF token from its cookie's id: only a page
// of this session can know it, and nothing more needs storing.
func csrfFor(raw string) string {
	h := sha256.Sum256([]byte("coffer dashboard csrf\x00" + raw))
	return hex.EncodeToString(h[:])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// secureCookies reports whether cookies must be Secure: over TLS, or when
// the server's public address is https (TLS ends at a proxy in front).
func (d *Dashboard) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(d.svc.PublicURL(), "https://")
}

func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge, HttpOnly: true,
		Secure: d.secureCookies(r), SameSite: http.SameSiteStrictMode})
}

// session finds the request's live session, or nil.
func (d *Dashboard) session(r *http.Request) (*signedInUser, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) != 52 {
		return nil, nil
	}
	var s *store.DashboardSession
	var u *store.DashboardUser
	err = d.st.Read(r.Context(), func(tx store.Tx) (err error) { s, u, err = tx.GetDashboardSession(digest(c.Value)); return })
	if errors.Is(err, store.ErrNotFound) || err == nil && !d.now().Before(s.Expires) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &signedInUser{user: u, sess: s, csrf: csrfFor(c.Value)}, nil
}

// signedIn runs next for a signed-in user, checking the CSRF token of every
// POST first; anyone else goes to the sign-in page.
func (d *Dashboard) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		su, err := d.session(r)
		if err != nil {
			d.log.ErrorContext(r.Context(), "dashboard: reading the session failed", "err", err)
			d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
			return
		}
		if su == nil {
			if r.Method != http.MethodGet {
				d.renderError(w, r, http.StatusUnauthorized, "Signed out", "Your session has ended. Sign in again.")
				return
			}
			http.Redirect(w, r, "/dashboard/signin", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), su.csrf) {
			d.renderError(w, r, http.StatusForbidden, "Form expired", "This form is not from your current session (csrf). Reload the page and try again.")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), userKey, su)))
	}
}

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request) {
	if su, _ := d.session(r); su != nil {
		http.Redirect(w, r, "/dashboard/overview", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/dashboard/signin", http.StatusSeeOther)
}

// signInView is the sign-in page's data.
type signInView struct {
	Email string
	Error string
	CSRF  string
	// Code is the second step: the password was right, the TOTP code is asked.
	Code bool
}

// signInPage shows the form with a fresh pre-session token (kept if the
// browser has one, so two tabs both work).
func (d *Dashboard) signInPage(w http.ResponseWriter, r *http.Request) {
	d.showSignIn(w, r, http.StatusOK, signInView{})
}

func (d *Dashboard) showSignIn(w http.ResponseWriter, r *http.Request, status int, v signInView) {
	tok := ""
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 26 {
		tok = c.Value
	} else {
		tok = rand.Text()
		d.setCookie(w, r, preCookie, tok, 3600)
	}
	v.CSRF = tok
	d.render(w, r, status, signInTmpl, layoutData{Title: "Sign in", Page: v})
}

// signIn checks the e-mail and password. Failures are counted per e-mail
// and per address and audited when the e-mail is a user's; once either has
// used up its tries the form answers 429 without checking the password.
func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	pre, err := r.Cookie(preCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), pre.Value) {
		d.renderError(w, r, http.StatusForbidden, "Form expired", "This sign-in form has expired (csrf). Reload the page and try again.")
		return
	}
	email := NormalEmail(r.PostFormValue("email"))
	pw := r.PostFormValue("password")
	if email == "" || pw == "" || len(email) > 254 || len(pw) > password.MaxLength {
		d.showSignIn(w, r, http.StatusBadRequest, signInView{Email: email, Error: "Enter your e-mail and password."})
		return
	}
	now := d.now()
	keys := []string{"email:" + email, "ip:" + clientIP(r)}
	if blocked, until := d.attempts.Blocked(now, keys...); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
		d.showSignIn(w, r, http.StatusTooManyRequests, signInView{Email: email,
			Error: "Too many failed sign-ins. Try again in " + until.Sub(now).Round(time.Minute).String() + "."})
		return
	}
	var u *store.DashboardUser
	err = d.st.Read(r.Context(), func(tx store.Tx) (err error) { u, err = tx.GetDashboardUserByEmail(email); return })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		d.log.ErrorContext(r.Context(), "dashboard: reading a user failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
		return
	}
	hash := password.Dummy() // an unknown e-mail costs the same time as a known one
	if u != nil {
		hash = u.PasswordHash
	}
	ok, verr := d.verify(r.Context(), hash, pw)
	if errors.Is(verr, context.Canceled) || errors.Is(verr, context.DeadlineExceeded) {
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "Too many sign-ins at once.")
		return
	}
	if u == nil || !ok || verr != nil {
		d.attempts.Fail(now, keys...)
		if u != nil {
			d.audit(r, u.MerchantID, u.ID, "dashboard.sign_in_failed", u.ID, "wrong password from "+clientIP(r))
		}
		d.showSignIn(w, r, http.StatusUnauthorized, signInView{Email: email, Error: "That e-mail and password do not match."})
		return
	}
	if u.TOTPEnabled {
		d.startPending(w, r, u)
		return
	}
	d.startSession(w, r, u)
}

// verify checks a password, at most maxHashing at a time: each check takes
// argon2id's 19 MiB, and a flood of sign-ins must not take the server's
// memory. A check waits its turn for as long as the request lives.
func (d *Dashboard) verify(ctx context.Context, hash, pw string) (bool, error) {
	select {
	case d.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-d.hashing }()
	return password.Verify(hash, pw)
}

// startSession stores a new session for u and sends its cookie.
func (d *Dashboard) startSession(w http.ResponseWriter, r *http.Request, u *store.DashboardUser) {
	raw := rand.Text() + rand.Text() // 260 bits
	now := d.now()
	s := &store.DashboardSession{IDHash: digest(raw), UserID: u.ID, Created: now, Expires: now.Add(d.ttl)}
	err := d.st.Write(r.Context(), func(tx store.Tx) error {
		if _, err := tx.DeleteExpiredDashboardSessions(now); err != nil {
			return err
		}
		return tx.InsertDashboardSession(s)
	})
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: storing a session failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
		return
	}
	d.audit(r, u.MerchantID, u.ID, "dashboard.sign_in", u.ID, "from "+clientIP(r))
	d.setCookie(w, r, sessionCookie, raw, int(d.ttl.Seconds()))
	d.setCookie(w, r, preCookie, "", -1)
	if _, err := r.Cookie(codeCookie); err == nil {
		d.setCookie(w, r, codeCookie, "", -1)
	}
	http.Redirect(w, r, "/dashboard/overview", http.StatusSeeOther)
}

func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	err := d.st.Write(r.Context(), func(tx store.Tx) error { return tx.DeleteDashboardSession(su.sess.IDHash) })
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: ending a session failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.sign_out", su.user.ID, "")
	d.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/dashboard/signin", http.StatusSeeOther)
}

// pendingTTL is how long a right password waits for its TOTP code: long
// enough to unlock a phone, short enough that a forgotten tab is dead.
const pendingTTL = 5 * time.Minute

// pendingCSRF derives the code form's CSRF token from its cookie's id, as
// csrfFor does for a session's forms (a different prefix: never the same).
func pendingCSRF(raw string) string {
	h := sha256.Sum256([]byte("coffer dashboard totp csrf\x00" + raw))
	return hex.EncodeToString(h[:])
}

// startPending stores a sign-in waiting for its TOTP code and asks for it.
// No session exists until the code is right: the password alone opens nothing.
func (d *Dashboard) startPending(w http.ResponseWriter, r *http.Request, u *store.DashboardUser) {
	raw := rand.Text() + rand.Text()
	now := d.now()
	p := &store.DashboardPendingSignIn{IDHash: digest(raw), UserID: u.ID, Created: now, Expires: now.Add(pendingTTL)}
	err := d.st.Write(r.Context(), func(tx store.Tx) error {
		if _, err := tx.DeleteExpiredDashboardPendingSignIns(now); err != nil {
			return err
		}
		return tx.InsertDashboardPendingSignIn(p)
	})
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: storing a pending sign-in failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
		return
	}
	d.setCookie(w, r, codeCookie, raw, int(pendingTTL.Seconds()))
	http.Redirect(w, r, "/dashboard/signin/code", http.StatusSeeOther)
}

// pending finds the request's live pending sign-in of a user who still
// has TOTP on, with the cookie's id; nil when there is none.
func (d *Dashboard) pending(r *http.Request) (*store.DashboardPendingSignIn, *store.DashboardUser, string, error) {
	c, err := r.Cookie(codeCookie)
	if err != nil || len(c.Value) != 52 {
		return nil, nil, "", nil
	}
	var p *store.DashboardPendingSignIn
	var u *store.DashboardUser
	err = d.st.Read(r.Context(), func(tx store.Tx) (err error) { p, u, err = tx.GetDashboardPendingSignIn(digest(c.Value)); return })
	if errors.Is(err, store.ErrNotFound) || err == nil && (!d.now().Before(p.Expires) || !u.TOTPEnabled) {
		return nil, nil, "", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	return p, u, c.Value, nil
}

// codePage shows the code form of the request's pending sign-in, or sends
// the browser back to the password form when there is none.
func (d *Dashboard) codePage(w http.ResponseWriter, r *http.Request) {
	_, u, raw, err := d.pending(r)
	switch {
	case err != nil:
		d.log.ErrorContext(r.Context(), "dashboard: reading a pending sign-in failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
	case u == nil:
		http.Redirect(w, r, "/dashboard/signin", http.StatusSeeOther)
	default:
		d.showCode(w, r, http.StatusOK, u, raw, "")
	}
}

func (d *Dashboard) showCode(w http.ResponseWriter, r *http.Request, status int, u *store.DashboardUser, raw, msg string) {
	d.render(w, r, status, signInTmpl, layoutData{Title: "Authentication code",
		Page: signInView{Email: u.Email, Error: msg, CSRF: pendingCSRF(raw), Code: true}})
}

// signInCode checks the TOTP code of a pending sign-in and starts the
// session when it is right. Wrong and replayed codes count toward the
// same limits as wrong passwords (per e-mail and per address) and are
// audited; a code is taken once (its step is recorded in the same write
// that checks it), so a code seen over a shoulder is worthless once used.
func (d *Dashboard) signInCode(w http.ResponseWriter, r *http.Request) {
	p, u, raw, err := d.pending(r)
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: reading a pending sign-in failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot reach its database.")
		return
	}
	if u == nil {
		d.setCookie(w, r, codeCookie, "", -1)
		d.showSignIn(w, r, http.StatusUnauthorized, signInView{Error: "Your sign-in has expired. Sign in again."})
		return
	}
	if !sameToken(r.PostFormValue("csrf"), pendingCSRF(raw)) {
		d.renderError(w, r, http.StatusForbidden, "Form expired", "This form has expired (csrf). Sign in again.")
		return
	}
	now := d.now()
	keys := []string{"email:" + u.Email, "ip:" + clientIP(r)}
	if blocked, until := d.attempts.Blocked(now, keys...); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
		d.showCode(w, r, http.StatusTooManyRequests, u, raw, "Too many failed sign-ins. Try again in "+until.Sub(now).Round(time.Minute).String()+".")
		return
	}
	code, ok := codeField(r)
	if !ok {
		d.showCode(w, r, http.StatusBadRequest, u, raw, codeFormatMessage)
		return
	}
	why, err := d.acceptCode(r.Context(), u, code, now, func(tx store.Tx, _ int64) error {
		return tx.DeleteDashboardPendingSignIn(p.IDHash)
	})
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: checking a TOTP code failed", "err", err)
		d.renderError(w, r, http.StatusServiceUnavailable, "Try again shortly", "The dashboard cannot check the code now.")
		return
	}
	if why != "" {
		d.attempts.Fail(now, keys...)
		d.audit(r, u.MerchantID, u.ID, "dashboard.sign_in_failed", u.ID, why+" from "+clientIP(r))
		d.showCode(w, r, http.StatusUnauthorized, u, raw, codeMessage(why))
		return
	}
	d.startSession(w, r, u)
}
