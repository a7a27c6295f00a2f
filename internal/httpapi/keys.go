package httpapi

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
)

// keyHandlers: the merchant's API keys — rolling the secret, publishable
// and HMAC keys, and restricted keys. Only the current secret key reaches
// them (the keys: scopes).
type keyHandlers struct{ *API }

// rollKey is POST /v1/merchant/keys/roll: the new key, shown only here.
func (a keyHandlers) rollKey(w http.ResponseWriter, r *http.Request) {
	var p payment.RollParams
	if e := decode(r, &p, false); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.RollKey(r.Context(), merchantOf(r).ID, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

// listMerchantKeys is GET /v1/merchant/keys: the secret and publishable
// keys that work now (rolled ones until they expire) and retired HMAC
// secrets still accepted, with their last use; never a key.
func (a keyHandlers) listMerchantKeys(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.MerchantKeys(r.Context(), merchantOf(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, false))
}

// createAPIKey is POST /v1/api_keys: a restricted key, shown only here.
func (a keyHandlers) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var p payment.APIKeyParams
	if e := decode(r, &p, false); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CreateAPIKey(r.Context(), merchantOf(r).ID, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

// listAPIKeys is GET /v1/api_keys: restricted keys, newest first.
func (a keyHandlers) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	limit, after, e := pageParams(r)
	if e != nil {
		writeError(w, e)
		return
	}
	v, more, err := a.svc.ListAPIKeys(r.Context(), merchantOf(r).ID, limit, after)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, more))
}

// deleteAPIKey is DELETE /v1/api_keys/{id}: the key stops working now.
func (a keyHandlers) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.RevokeAPIKey(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}
