package dashboard

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/totp"
)

// The Security page: a user turns on TOTP (RFC 6238, any authenticator
// app) by scanning a QR code and proving it with a first code, and turns
// it off with a current code. With it on, sign-in asks for a code after
// the password (auth.go). The secret is sealed at rest like every other
// secret, and shown once, on the answer to the POST that made it.

var securityTmpl = page("security.html")

// totpIssuer names the service in authenticator apps.
const totpIssuer = "Coffer"

// Why a code was refused, as audited; codeMessage words them for the user.
const (
	whyWrongCode = "wrong code"
	whyUsedCode  = "code already used"
)

// codeFormatMessage answers a code that is not six digits.
const codeFormatMessage = "Enter the 6-digit code your authenticator app shows (code)."

// errSetupChanged is a set-up replaced or finished in another tab between
// showing the QR code and its first code.
var errSetupChanged = errors.New("dashboard: the TOTP set-up changed meanwhile")

func codeMessage(why string) string {
	if why == whyUsedCode {
		return "That code was already used (code). Wait for the next one and enter it."
	}
	return "That code is not right (code). Check that your phone sets its clock automatically, and try the next code."
}

// codeField is the form's code without the spaces apps show in it, when it
// is six digits.
func codeField(r *http.Request) (string, bool) {
	c := strings.NewReplacer(" ", "", "\u00a0", "").Replace(r.PostFormValue("code"))
	if len(c) != totp.Digits || strings.Trim(c, "0123456789") != "" {
		return "", false
	}
	return c, true
}

// totpKey opens the user's sealed TOTP secret.
func (d *Dashboard) totpKey(ctx context.Context, u *store.DashboardUser) ([]byte, error) {
	if u.TOTPSecretCT == nil {
		return nil, errors.New("dashboard: user has no TOTP secret")
	}
	return d.svc.OpenDashboardTOTP(ctx, u.MerchantID, u.ID, u.TOTPSecretCT)
}

// acceptCode checks a code against u's secret and, when it is right and of
// a step after the last one taken, records its step and runs then in the
// same write: a replayed code loses even when it races the first use. why
// is "" for a taken code, else whyWrongCode or whyUsedCode.
func (d *Dashboard) acceptCode(ctx context.Context, u *store.DashboardUser, code string, now time.Time,
	then func(tx store.Tx, step int64) error) (why string, err error) {
	key, err := d.totpKey(ctx, u)
	if err != nil {
		return "", err
	}
	step, ok := totp.Verify(key, code, now)
	switch {
	case !ok:
		return whyWrongCode, nil
	case step <= u.TOTPLastStep:
		return whyUsedCode, nil
	}
	err = d.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.UseDashboardTOTPStep(u.ID, step); err != nil {
			return err
		}
		return then(tx, step)
	})
	if errors.Is(err, store.ErrConflict) {
		return whyUsedCode, nil
	}
	return "", err
}

// securityView is the Security page's data.
type securityView struct {
	Enabled bool
	Setup   *totpSetup // set on the answer to "Set up" (and to a wrong first code)
	Error   string
	Notice  string
}

// totpSetup is what an authenticator app needs: the QR code of the
// otpauth URI, and the secret to type when scanning is not possible.
type totpSetup struct {
	Secret string // base32, in groups of four for reading aloud or typing
	URI    template.URL
	QR     template.URL // data:image/png;base64,…: the CSP allows img-src data:
	QRSize int          // the PNG's width and height in pixels
}

// qrScale is the pixels per QR module: a whole number keeps every module
// sharp, and 4 makes a usual code about 200 px, easy to scan from a screen.
const qrScale = 4

func newSetup(email string, key []byte) (*totpSetup, error) {
	secret := totp.EncodeSecret(key)
	uri := totp.URI(totpIssuer, email, secret)
	code, err := qr.Encode(uri, qr.M)
	if err != nil {
		return nil, err
	}
	code.Scale = qrScale
	var groups []string
	for i := 0; i < len(secret); i += 4 {
		groups = append(groups, secret[i:min(i+4, len(secret))])
	}
	// Both URLs are ours, built above: otpauth: and data: are schemes
	// html/template would otherwise blank out.
	return &totpSetup{Secret: strings.Join(groups, " "), URI: template.URL(uri),
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(code.PNG())), QRSize: (code.Size + 8) * qrScale}, nil
}

func (d *Dashboard) showSecurity(w http.ResponseWriter, r *http.Request, status int, v securityView) {
	su := userOf(r)
	d.render(w, r, status, securityTmpl, layoutData{Title: "Security", Nav: "security", User: su.user, CSRF: su.csrf, Page: v})
}

// security shows whether sign-in asks for a code, with the way to change it.
func (d *Dashboard) security(w http.ResponseWriter, r *http.Request) {
	v := securityView{Enabled: userOf(r).user.TOTPEnabled}
	switch r.FormValue("done") {
	case "enabled":
		v.Notice = "Two-step sign-in is on: sign-in now asks for a code from your authenticator app."
	case "disabled":
		v.Notice = "Two-step sign-in is off: sign-in asks for your password only."
	}
	d.showSecurity(w, r, http.StatusOK, v)
}

// totpSetupStart makes a new secret for the user (replacing one not yet
// confirmed) and answers with it: the only time it is shown.
func (d *Dashboard) totpSetupStart(w http.ResponseWriter, r *http.Request) {
	u := userOf(r).user
	if u.TOTPEnabled {
		d.showSecurity(w, r, http.StatusConflict, securityView{Enabled: true, Error: "Two-step sign-in is already on. Turn it off first to use another authenticator."})
		return
	}
	key, err := totp.DecodeSecret(totp.NewSecret())
	if err != nil {
		d.failed(w, r, err)
		return
	}
	setup, err := newSetup(u.Email, key)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	ct, err := d.svc.SealDashboardTOTP(r.Context(), u.MerchantID, u.ID, key)
	if err == nil {
		err = d.st.Write(r.Context(), func(tx store.Tx) error {
			fresh, err := tx.GetDashboardUser(u.ID)
			if err != nil {
				return err
			}
			if fresh.TOTPEnabled {
				return errSetupChanged
			}
			return tx.SetDashboardTOTP(u.ID, ct, false, fresh.TOTPLastStep)
		})
	}
	if errors.Is(err, errSetupChanged) {
		d.showSecurity(w, r, http.StatusConflict, securityView{Enabled: true, Error: "Two-step sign-in was turned on in another tab."})
		return
	}
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, u.MerchantID, u.ID, "dashboard.totp_setup", u.ID, "")
	d.showSecurity(w, r, http.StatusOK, securityView{Setup: setup})
}

// totpEnable turns TOTP on once the user proves their app has the secret
// with a first right code; a wrong one shows the set-up again to retry.
func (d *Dashboard) totpEnable(w http.ResponseWriter, r *http.Request) {
	u := userOf(r).user
	if u.TOTPEnabled {
		d.showSecurity(w, r, http.StatusConflict, securityView{Enabled: true, Error: "Two-step sign-in is already on."})
		return
	}
	if u.TOTPSecretCT == nil {
		d.showSecurity(w, r, http.StatusBadRequest, securityView{Error: "No authenticator is being set up: choose Set up first."})
		return
	}
	key, err := d.totpKey(r.Context(), u)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	retry := func(status int, msg string) {
		setup, err := newSetup(u.Email, key)
		if err != nil {
			d.failed(w, r, err)
			return
		}
		d.showSecurity(w, r, status, securityView{Setup: setup, Error: msg})
	}
	code, ok := codeField(r)
	if !ok {
		retry(http.StatusBadRequest, codeFormatMessage)
		return
	}
	why, err := d.acceptCode(r.Context(), u, code, d.now(), func(tx store.Tx, step int64) error {
		fresh, err := tx.GetDashboardUser(u.ID)
		if err != nil {
			return err
		}
		if fresh.TOTPEnabled || !bytes.Equal(fresh.TOTPSecretCT, u.TOTPSecretCT) {
			return errSetupChanged
		}
		return tx.SetDashboardTOTP(u.ID, u.TOTPSecretCT, true, step)
	})
	switch {
	case errors.Is(err, errSetupChanged):
		d.showSecurity(w, r, http.StatusConflict, securityView{Error: "The set-up changed in another tab. Start again with Set up."})
	case err != nil:
		d.failed(w, r, err)
	case why != "":
		retry(http.StatusBadRequest, codeMessage(why))
	default:
		d.audit(r, u.MerchantID, u.ID, "dashboard.totp_enabled", u.ID, "")
		http.Redirect(w, r, "/dashboard/security?done=enabled", http.StatusSeeOther)
	}
}

// totpDisable turns TOTP off with a current code: a session left open on
// someone's desk must not be enough to weaken sign-in. Wrong codes count
// toward the sign-in limits, as at sign-in.
func (d *Dashboard) totpDisable(w http.ResponseWriter, r *http.Request) {
	u := userOf(r).user
	if !u.TOTPEnabled {
		d.showSecurity(w, r, http.StatusConflict, securityView{Error: "Two-step sign-in is already off."})
		return
	}
	now := d.now()
	keys := []string{"email:" + u.Email, "ip:" + clientIP(r)}
	if blocked, until := d.attempts.Blocked(now, keys...); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
		d.showSecurity(w, r, http.StatusTooManyRequests, securityView{Enabled: true,
			Error: "Too many wrong codes. Try again in " + until.Sub(now).Round(time.Minute).String() + "."})
		return
	}
	code, ok := codeField(r)
	if !ok {
		d.showSecurity(w, r, http.StatusBadRequest, securityView{Enabled: true, Error: codeFormatMessage})
		return
	}
	why, err := d.acceptCode(r.Context(), u, code, now, func(tx store.Tx, step int64) error {
		return tx.SetDashboardTOTP(u.ID, nil, false, step)
	})
	switch {
	case err != nil:
		d.failed(w, r, err)
	case why != "":
		d.attempts.Fail(now, keys...)
		d.audit(r, u.MerchantID, u.ID, "dashboard.totp_disable_failed", u.ID, why+" from "+clientIP(r))
		d.showSecurity(w, r, http.StatusBadRequest, securityView{Enabled: true, Error: codeMessage(why)})
	default:
		d.audit(r, u.MerchantID, u.ID, "dashboard.totp_disabled", u.ID, "")
		http.Redirect(w, r, "/dashboard/security?done=disabled", http.StatusSeeOther)
	}
}
