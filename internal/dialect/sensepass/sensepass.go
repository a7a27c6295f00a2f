// Package sensepass offers SensePass's Transaction API as a dialect over
// Coffer's payment service. (Skeleton: the handlers are being built.)
package sensepass

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Format names SensePass's callbacks: sessions created by this dialect
// record it as their CallbackFormat.
const Format = "sensepass"

// Dialect serves SensePass's API shape.
type Dialect struct {
	svc *payment.Service
	log *slog.Logger
}

// New returns the SensePass dialect over svc.
func New(svc *payment.Service, log *slog.Logger) *Dialect {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialect{svc: svc, log: log}
}

// Callbacks renders SensePass's transaction_status callbacks.
func (d *Dialect) Callbacks() event.Format { return callbacks{d} }

type callbacks struct{ d *Dialect }

func (c callbacks) Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error) {
	return nil, event.ErrSkip
}

func (c callbacks) Delivered(status int, body []byte) string { return event.Delivered2xx(status, body) }

func notYet(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, `{"success":false,"message":"not implemented yet"}`, http.StatusNotImplemented)
}

func (d *Dialect) Init(w http.ResponseWriter, r *http.Request)          { notYet(w, r) }
func (d *Dialect) Tokenize(w http.ResponseWriter, r *http.Request)      { notYet(w, r) }
func (d *Dialect) Pay(w http.ResponseWriter, r *http.Request)           { notYet(w, r) }
func (d *Dialect) ValidateToken(w http.ResponseWriter, r *http.Request) { notYet(w, r) }
func (d *Dialect) Get(w http.ResponseWriter, r *http.Request)           { notYet(w, r) }
func (d *Dialect) Cancel(w http.ResponseWriter, r *http.Request)        { notYet(w, r) }
func (d *Dialect) Socket(w http.ResponseWriter, r *http.Request)        { notYet(w, r) }
