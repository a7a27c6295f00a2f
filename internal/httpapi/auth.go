package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// merchant authenticates a secret or restricted key, checks its rate and
// that it holds scope, and puts the merchant in the request context.
func (a *API) merchant(scope string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			writeError(w, &apiError{status: 401, Type: "authentication_error", Code: "api_key_missing",
				Message: "No API key provided: send Authorization: Bearer sk_…"})
			return
		}
		m, ok := a.authenticate(w, r, key, scope)
		if !ok {
			return
		}
		noteMerchant(w, m)
		next(w, r.WithContext(context.WithValue(r.Context(), merchantKey, m)))
	})
}

// authenticate checks a secret or restricted key for a route that needs
// scope. When the request must stop it has answered it and returns false.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, key, scope string) (*store.Merchant, bool) {
	if strings.HasPrefix(key, "pk_") {
		writeError(w, &apiError{status: 401, Type: "authentication_error", Code: "secret_key_required",
			Message: "This call needs a secret key (sk_…); a publishable key cannot make it."})
		return nil, false
	}
	m, g, err := a.svc.AuthenticateKey(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, &apiError{status: 401, Type: "authentication_error", Code: "api_key_invalid", Message: "Invalid API key."})
		return nil, false
	}
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	if !a.allow(w, g.KeyHash) {
		return nil, false
	}
	if !g.Allows(scope) {
		writeError(w, scopeError(g, scope))
		return nil, false
	}
	return m, true
}

// scopeError is the 403 for a key that may not call a route: it names the
// scope missing, never the key.
func scopeError(g payment.Grant, scope string) *apiError {
	msg := "This restricted key does not have the scope " + scope + " this call needs."
	switch {
	case g.Retiring:
		msg = "A secret key that was rolled cannot manage keys (" + scope + "); use the current secret key."
	case g.Restricted && strings.HasPrefix(scope, "keys:"):
		msg = "Restricted keys cannot manage keys (" + scope + "); use the secret key."
	}
	return &apiError{status: 403, Type: "permission_error", Code: "insufficient_scope", Message: msg}
}

// allow takes one request from the key's rate (keyHash identifies it); over
// the rate it answers 429 with Retry-After and returns false.
func (a *API) allow(w http.ResponseWriter, keyHash string) bool {
	ok, wait := a.limiter.Allow(keyHash, time.Now())
	if ok {
		return true
	}
	secs := strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
	writeError(w, &apiError{status: 429, Type: "rate_limit_error", Code: "rate_limited", retryAfter: secs,
		Message: "Too many requests with this API key; retry after " + secs + " s."})
	return false
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}
