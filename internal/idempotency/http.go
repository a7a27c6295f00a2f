package idempotency

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
)

// ErrKeyTooLong: the client's key exceeds MaxKey.
var ErrKeyTooLong = errors.New("idempotency: key too long")

// ErrBody wraps a failure to read the request body (http.MaxBytesError
// included), which the caller answers as a 4xx.
var ErrBody = errors.New("idempotency: request body unreadable")

// MaxKey is the longest key a client may send.
const MaxKey = 255

// Sealer keeps what is stored of a request unreadable: keys and requests as
// keyed digests (either may hold card data a client put there), responses
// sealed (one may hold a secret such as a session's client_secret).
type Sealer interface {
	Digest(ctx context.Context, merchantID, purpose string, data []byte) ([]byte, error)
	SealStoredResponse(ctx context.Context, merchantID, key string, body []byte) ([]byte, error)
	OpenStoredResponse(ctx context.Context, merchantID, key string, body []byte) ([]byte, error)
}

// HTTP runs handlers under a client's idempotency key, whatever header or
// error shape the API (native or a provider dialect) uses: the response is
// stored durably before it is sent, so a retry after a crash or restart
// replays it; responses that invite a retry are not frozen.
type HTTP struct {
	Keeper *Keeper
	Sealer Sealer
	Log    *slog.Logger
	// Fail answers ErrKeyTooLong, ErrMismatch, ErrInProgress, ErrBody or an
	// internal error in the API's own shape.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
	// Retryable reports a response not to freeze besides 5xx (e.g. a
	// "try again shortly" conflict); nil means 5xx only.
	Retryable func(status int, body []byte) bool
	// Scope gives an API its own key space ("pivot:create",
	// "ottu:auto-debit"): the same client key sent to another API or
	// endpoint is another request, not a mismatch. Empty is the native API's.
	Scope string
	// Mark scopes ids derived in the handler to this use of the key (see
	// payment.WithIdempotencyKey); nil leaves the context alone.
	Mark func(ctx context.Context, scope string) context.Context
}

// Serve runs next under key for the merchant; an empty key runs it plainly.
func (h HTTP) Serve(w http.ResponseWriter, r *http.Request, merchantID, key string, next http.HandlerFunc) {
	if key == "" {
		next(w, r)
		return
	}
	if len(key) > MaxKey {
		h.Fail(w, r, ErrKeyTooLong)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.Fail(w, r, errors.Join(ErrBody, err))
		return
	}
	digest, err := h.Sealer.Digest(r.Context(), merchantID, "idempotency-request", append([]byte(r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+"\n"), body...))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if h.Scope != "" {
		key = h.Scope + "\x00" + key
	}
	keyDigest, err := h.Sealer.Digest(r.Context(), merchantID, "idempotency-key", []byte(key))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	key = hex.EncodeToString(keyDigest)
	ctx, cancel := context.WithTimeout(r.Context(), Lease)
	defer cancel()
	claim, replay, err := h.Keeper.Begin(ctx, merchantID, key, digest)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if replay != nil {
		body, err := h.Sealer.OpenStoredResponse(r.Context(), merchantID, key, replay.Body)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(replay.Status)
		w.Write(body)
		return
	}
	settled := false
	defer func() {
		if !settled { // the handler panicked: free the key for a retry now, not after the lease
			claim.Release(context.WithoutCancel(r.Context()))
		}
	}()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if h.Mark != nil {
		// The claim's creation time scopes derived ids to this use of the
		// key: a retry of a crashed attempt shares it, a reuse after expiry
		// does not.
		r = r.WithContext(h.Mark(r.Context(), key+"|"+strconv.FormatInt(claim.Created.UnixMicro(), 10)))
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	next(rec, r)
	settled = true
	if rec.status >= 500 || h.Retryable != nil && h.Retryable(rec.status, rec.body.Bytes()) {
		if err := claim.Release(r.Context()); err != nil && h.Log != nil {
			h.Log.Error("idempotency: release failed", "error", err.Error())
		}
	} else {
		sealed, err := h.Sealer.SealStoredResponse(r.Context(), merchantID, key, rec.body.Bytes())
		if err == nil {
			err = claim.Finish(r.Context(), Response{Status: rec.status, Body: sealed})
		}
		if err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

// recorder holds a handler's response until it is stored.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header         { return rec.header }
func (rec *recorder) WriteHeader(code int)        { rec.status = code }
func (rec *recorder) Write(b []byte) (int, error) { return rec.body.Write(b) }
