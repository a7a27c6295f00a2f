package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

func (a sessionHandlers) createSession(w http.ResponseWriter, r *http.Request) {
	var p payment.SessionParams
	if e := decode(r, &p, false); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CreateSession(r.Context(), merchantOf(r), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

func (a sessionHandlers) getSession(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetSession(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a sessionHandlers) cancelSession(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.CancelSession(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a sessionHandlers) confirmSession(w http.ResponseWriter, r *http.Request) {
	var p payment.ConfirmParams
	if e := decode(r, &p, false, "encrypted_card"); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.ConfirmSession(r.Context(), merchantOf(r), r.PathValue("id"), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

// sessionClient authenticates a session's confirmation: with the secret
// key like any call, or — from the merchant's own page in a browser — with
// the publishable key and the session's client_secret from the body.
func (a *API) sessionClient(scope string, next http.HandlerFunc) http.Handler {
	secret := a.merchant(scope, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok || !strings.HasPrefix(key, "pk_") {
			secret.ServeHTTP(w, r)
			return
		}
		body, we := wire.ReadBody(nil, r, 0) // bounded by observe's MaxBytesReader
		if we != nil {
			writeError(w, fromWire(we))
			return
		}
		var cs struct {
			ClientSecret string `json:"client_secret"`
		}
		_ = json.Unmarshal(body, &cs) // the handler's strict decode reports a malformed body
		m, err := a.svc.SessionClientAuth(r.Context(), key, r.PathValue("id"), cs.ClientSecret)
		var pe *payment.Error
		if errors.Is(err, store.ErrNotFound) || errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
			writeError(w, &apiError{status: 401, Type: "authentication_error", Code: "client_secret_invalid",
				Message: "Invalid publishable key or client_secret for this session."})
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if !a.allow(w, string(payment.HashSecretKey(key))) {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		noteMerchant(w, m)
		next(w, r.WithContext(context.WithValue(r.Context(), merchantKey, m)))
	})
}
