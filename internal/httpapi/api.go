// Package httpapi is Coffer's native REST API v1. It translates HTTP to calls
// of the domain services and back; it holds no business rules.
package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/coffer-vault/coffer/internal/checkout"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/ratelimit"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/wire"
)

// DefaultMaxBody bounds every request body; a batch of 100 cards is ~20 KiB.
const DefaultMaxBody = 1 << 20

// Config wires the API.
type Config struct {
	Service Service
	Store   Pinger // what /readyz asks
	Keeper  *idempotency.Keeper
	Logger  *slog.Logger
	MaxBody int64
	// Pages serves the card holder's pages (3-D Secure challenge, hosted
	// checkout); nil serves none.
	Pages *checkout.Pages
	// Mount are further route sets served behind the API's middleware
	// (request id, body limit, panic recovery, access log): app mounts the
	// provider dialects here, so that this package knows none of them.
	Mount []Routes
	// RateLimit is how many requests a second each API key may make
	// (bursts of twice as many); 0 for no limit.
	RateLimit float64
	// Metrics is told of every request; nil counts none.
	Metrics HTTPObserver
}

// HTTPObserver counts requests (internal/metrics in the server). pattern
// is the ServeMux pattern that routed the request ("" when none did),
// never its path, so no id reaches a metric.
type HTTPObserver interface {
	ObserveHTTP(pattern, method string, status int, took time.Duration)
}

// Pinger is what /readyz asks: whether the database (and the keys) can
// be reached.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Routes is a set of routes another package serves on the API's mux.
type Routes interface {
	Register(mux *http.ServeMux)
}

// API is the native API handler set.
type API struct {
	svc     Service
	pages   *checkout.Pages
	st      Pinger
	idem    idempotency.HTTP
	log     *slog.Logger
	maxBody int64
	limiter *ratelimit.Limiter // nil: no rate limit
	metrics HTTPObserver
}

// New returns the API as one handler with its middleware.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{svc: cfg.Service, st: cfg.Store, log: cfg.Logger, maxBody: cfg.MaxBody, pages: cfg.Pages, metrics: cfg.Metrics,
		limiter: ratelimit.New(cfg.RateLimit, 2*cfg.RateLimit)}
	a.idem = idempotency.HTTP{Keeper: cfg.Keeper, Sealer: cfg.Service, Log: cfg.Logger, Fail: a.idempotencyFailure,
		// "In progress, retry shortly" invites a retry that must be able to succeed.
		Retryable: func(status int, body []byte) bool {
			return status == http.StatusConflict && bytes.Contains(body, []byte(`"operation_in_progress"`))
		},
		Mark: payment.WithIdempotencyKey}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBody
	}
	mux := http.NewServeMux()
	a.routes(mux)
	for _, m := range cfg.Mount {
		m.Register(mux)
	}
	return a.observe(mux)
}

type ctxKey int

const merchantKey ctxKey = 1

// requestIDOK reports whether a client's X-Request-Id may be kept: 1 to 64
// of [A-Za-z0-9_.:-], and fewer than 12 digits, since an id with a dozen
// or more could be a card number in any grouping and the id is echoed in a
// header, every log line and audit records. A byte loop, not a regexp: it
// runs on every request.
func requestIDOK(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return digits < 12
}

// requestIDEncoding is id.New's alphabet (lower-case base32, no padding).
var requestIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRequestID mints what id.New("req") would, with one allocation instead
// of four: it runs for every request that brings no id of its own.
func newRequestID() string {
	var raw [16]byte
	rand.Read(raw[:]) // never fails (Go ≥1.24 panics instead)
	var out [len("req_") + 26]byte
	copy(out[:], "req_")
	requestIDEncoding.Encode(out[len("req_"):], raw[:])
	return string(out[:])
}

// statusWriter remembers what the access log reports: the status, the
// bytes written and the merchant the request authenticated as.
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int
	merchant string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket; the status logged is 101.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// noteMerchant tells the access log who the request authenticated as. The
// authenticating middleware sits directly under the mux, so w is observe's
// writer; the context cannot carry it back, as observe holds the request
// from before authentication.
func noteMerchant(w http.ResponseWriter, m *store.Merchant) {
	if sw, ok := w.(*statusWriter); ok {
		sw.merchant = m.ID
	}
}

// observe gives each request an id, a body limit, panic recovery and one
// access-log line. Only the path is logged: queries and bodies never are.
// It runs for every request, so it allocates little: the id check is a
// byte loop, a body-less request gets no body limit, and the log line's
// attributes go straight into a record.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !requestIDOK(rid) {
			rid = newRequestID()
		}
		w.Header()["Request-Id"] = []string{rid} // Header().Set, its key already canonical
		r = r.WithContext(payment.WithRequestID(r.Context(), rid))
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
		}
		sw := &statusWriter{ResponseWriter: w}
		defer a.finish(sw, r, rid, start)
		next.ServeHTTP(sw, r)
	})
}

// finish is observe's deferred half: it recovers a panic into a 500,
// writes the access-log line and counts the request.
func (a *API) finish(sw *statusWriter, r *http.Request, rid string, start time.Time) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		a.log.Error("panic", "request_id", rid, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if sw.status == 0 {
			writeError(sw, &apiError{status: 500, Type: "api_error", Code: "internal_error", Message: "Internal error; the request id identifies it in the logs."})
		}
	}
	now := time.Now()
	a.accessLog(r, sw, rid, now, now.Sub(start))
	if a.metrics != nil {
		// The mux set r.Pattern on this very request when it routed it.
		a.metrics.ObserveHTTP(r.Pattern, r.Method, sw.status, now.Sub(start))
	}
}

// accessLog writes the request's line. It hands the record to the handler
// itself rather than through Logger.LogAttrs, which would walk the stack
// for a source location on every call; Coffer's logger never records one
// (no AddSource), so the line is the same.
func (a *API) accessLog(r *http.Request, sw *statusWriter, rid string, now time.Time, took time.Duration) {
	ctx := r.Context()
	level := levelFor(sw.status)
	h := a.log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(now, level, "request", 0)
	rec.AddAttrs(slog.String("request_id", rid), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", sw.status), slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.Int("bytes", sw.bytes))
	if sw.merchant != "" {
		rec.AddAttrs(slog.String("merchant", sw.merchant))
	}
	_ = h.Handle(ctx, rec) // as Logger does: a failed log write has nowhere to go
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

func merchantOf(r *http.Request) *store.Merchant {
	return r.Context().Value(merchantKey).(*store.Merchant)
}

// idempotent implements API.md's Idempotency-Key rules around a handler
// (idempotency.HTTP: stored before sent, replayed exactly, 5xx not frozen).
func (a *API) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.idem.Serve(w, r, merchantOf(r).ID, r.Header.Get("Idempotency-Key"), next)
	}
}

// idempotencyFailure answers a refused or failed idempotent request.
func (a *API) idempotencyFailure(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, idempotency.ErrKeyTooLong):
		writeError(w, invalidParam("Idempotency-Key", "The Idempotency-Key header must be at most 255 characters."))
	case errors.Is(err, idempotency.ErrBody):
		writeError(w, bodyError(err))
	case errors.Is(err, idempotency.ErrMismatch):
		writeError(w, &apiError{status: 409, Type: "idempotency_error", Code: "idempotency_key_reused",
			Message: "This Idempotency-Key was already used with a different request."})
	case errors.Is(err, idempotency.ErrInProgress):
		writeError(w, &apiError{status: 409, Type: "idempotency_error", Code: "idempotency_in_progress",
			Message: "A request with this Idempotency-Key is still in progress; retry later."})
	default:
		a.fail(w, r, err)
	}
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.st.Ping(ctx); err != nil {
		a.log.Error("readyz: database unreachable", "error", err.Error())
		writeJSON(w, 503, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (a *API) notFoundRoute(w http.ResponseWriter, r *http.Request) {
	// Method and path are the client's; writeError cleans digit runs away.
	writeError(w, &apiError{status: 404, Type: "not_found", Code: "route_missing", Message: "Unknown route " + r.Method + " " + r.URL.Path})
}

// decode reads a JSON object strictly through wire's guard (duplicate keys
// in any case, text that is not UTF-8 or holds a NUL, a card number outside
// the card fields, unknown fields, wrong types and trailing data are errors
// naming the field, never echoing the value). card lists the paths that
// carry card data. An empty body is allowed when optional is set (calls
// whose body is entirely optional).
func decode(r *http.Request, v any, optional bool, card ...string) *apiError {
	// Bounded by observe's MaxBytesReader.
	if we := wire.ReadJSON(nil, r, 0, v, wire.Rules{Card: card, Strict: true, Empty: optional}); we != nil {
		return fromWire(we)
	}
	return nil
}

// fromWire words a refused body in the native envelope.
func fromWire(e *wire.Error) *apiError {
	ae := &apiError{status: e.Status, Type: "invalid_request_error", Code: e.Code, Param: e.Param, Message: e.Error()}
	switch e.Code {
	case wire.CodeType:
		ae.Message = fmt.Sprintf("%s must be of type %s, not %s.", e.Param, e.Want, e.Got)
	case wire.CodeUnknown:
		ae.Message = fmt.Sprintf("Unknown parameter: %s.", e.Param)
	case wire.CodeDuplicate, wire.CodeInvalid:
		if e.Param != "" {
			ae.Message += "."
		}
	}
	return ae
}

func bodyError(err error) *apiError { return fromWire(wire.BodyError(err)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, v, `{"error":{"type":"api_error","code":"internal_error","message":"response encoding failed"}}`)
}
