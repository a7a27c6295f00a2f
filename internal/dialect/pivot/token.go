package pivot

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Access tokens are stateless, so that any server instance can check one
// without a shared cache: "pvt.<merchant id>.<expiry, Unix seconds>.<MAC>",
// the MAC a keyed digest under the merchant's own key (svc.Digest) of the
// merchant id, the expiry and the hash of the merchant's current secret
// key. Changing the secret key therefore revokes every token issued under
// the old one.

// TokenTTL is how long an access token is valid (Pivot's expiresIn "900").
const TokenTTL = 900 * time.Second

const (
	tokenPrefix  = "pvt"
	tokenPurpose = "pivot-access-token"
	maxTokenLen  = 200
	msgBadToken  = "The access token is invalid or has expired; get a new one from POST /v1/access-token."
	msgBadCreds  = "Invalid X-MERCHANT-ID or X-MERCHANT-SECRET."
)

var errBadToken = errors.New("pivot: bad access token")

// tokenMAC is the MAC input of a token: what it asserts, bound to the
// merchant's secret key as it is now.
func tokenMAC(merchantID string, exp int64, secretKeyHash []byte) []byte {
	return []byte("pivot access token|" + merchantID + "|" + strconv.FormatInt(exp, 10) + "|" + hex.EncodeToString(secretKeyHash))
}

// FormatToken lays out a token from its parts.
func FormatToken(merchantID string, exp int64, mac []byte) string {
	return tokenPrefix + "." + merchantID + "." + strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// ParseToken splits a token into its parts; ok is false for anything not
// laid out as FormatToken writes.
func ParseToken(tok string) (merchantID string, exp int64, mac []byte, ok bool) {
	if len(tok) > maxTokenLen {
		return "", 0, nil, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != tokenPrefix || parts[1] == "" {
		return "", 0, nil, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || exp <= 0 {
		return "", 0, nil, false
	}
	mac, err = base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(mac) == 0 {
		return "", 0, nil, false
	}
	return parts[1], exp, mac, true
}

// issueToken mints a token for m valid for TokenTTL from now.
func (d *Dialect) issueToken(ctx context.Context, m *store.Merchant, now time.Time) (string, error) {
	exp := now.Add(TokenTTL).Unix()
	mac, err := d.svc.Digest(ctx, m.ID, tokenPurpose, tokenMAC(m.ID, exp, m.SecretKeyHash))
	if err != nil {
		return "", err
	}
	return FormatToken(m.ID, exp, mac), nil
}

// verifyToken returns the merchant of a valid, unexpired token; errBadToken
// for any other (the reason is not told: it would help only a forger).
func (d *Dialect) verifyToken(ctx context.Context, tok string) (*store.Merchant, error) {
	merchantID, exp, mac, ok := ParseToken(tok)
	now := time.Now().Unix()
	// An expiry further ahead than any token is issued for is forged.
	if !ok || exp <= now || exp > now+int64(TokenTTL/time.Second)+60 {
		return nil, errBadToken
	}
	m, err := d.svc.GetMerchant(ctx, merchantID)
	if err != nil {
		var pe *payment.Error
		if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
			return nil, errBadToken
		}
		return nil, err
	}
	want, err := d.svc.Digest(ctx, m.ID, tokenPurpose, tokenMAC(m.ID, exp, m.SecretKeyHash))
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(want, mac) {
		return nil, errBadToken
	}
	return m, nil
}

type accessTokenRequest struct {
	GrantType string `json:"grantType"`
}

type accessTokenData struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   string `json:"expiresIn"`
	TokenType   string `json:"tokenType"`
}

// AccessToken exchanges the merchant's id and secret key for an access
// token: POST /v1/access-token.
func (d *Dialect) AccessToken(w http.ResponseWriter, r *http.Request) {
	var req accessTokenRequest
	ae := readJSON(w, r, &req)
	if ae == nil && req.GrantType != "" && req.GrantType != "client_credentials" {
		ae = badRequest("grantType must be client_credentials")
	}
	if ae != nil {
		writeError(w, ae)
		return
	}
	id := strings.TrimSpace(r.Header.Get("X-MERCHANT-ID"))
	secret := strings.TrimSpace(r.Header.Get("X-MERCHANT-SECRET"))
	if id == "" || secret == "" {
		writeError(w, newError(http.StatusUnauthorized, codeBadCredentials,
			"X-MERCHANT-ID (the Coffer merchant id) and X-MERCHANT-SECRET (its secret key, sk_…) are required."))
		return
	}
	if len(secret) > maxTokenLen || !strings.HasPrefix(secret, "sk_") {
		writeError(w, newError(http.StatusUnauthorized, codeBadCredentials, msgBadCreds))
		return
	}
	m, err := d.svc.Authenticate(r.Context(), secret)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, newError(http.StatusUnauthorized, codeBadCredentials, msgBadCreds))
		return
	case err != nil:
		d.log.ErrorContext(r.Context(), "pivot: authentication failed", "request_id", payment.RequestID(r.Context()), "error", err.Error())
		writeError(w, newError(http.StatusServiceUnavailable, codeUnavailable, "Credentials could not be checked; try again."))
		return
	case !hmac.Equal([]byte(m.ID), []byte(id)):
		writeError(w, newError(http.StatusUnauthorized, codeBadCredentials, msgBadCreds))
		return
	}
	tok, err := d.issueToken(r.Context(), m, time.Now())
	if err != nil {
		d.fail(w, r, "access-token", err)
		return
	}
	writeOK(w, accessTokenData{AccessToken: tok, ExpiresIn: strconv.Itoa(int(TokenTTL / time.Second)), TokenType: "Bearer"})
}
