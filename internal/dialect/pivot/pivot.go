// Package pivot speaks Pivot Payment's API (seed 003) over the core:
// access tokens, payment sessions (REDIRECT and API mode), confirm with an
// encrypted card or a stored token + CVC, customers' stored payment methods
// and PAYMENT.* callbacks. See docs/dialects.md.
package pivot

import (
	"log/slog"
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
)

// Format is the delivery format of Pivot sessions' callbacks.
const Format = "pivot"

// Dialect serves /pivot.
type Dialect struct {
	svc    *payment.Service
	keeper *idempotency.Keeper
	log    *slog.Logger
}

// New returns the dialect over svc; keeper serves X-REQUEST-ID.
func New(svc *payment.Service, keeper *idempotency.Keeper, log *slog.Logger) *Dialect {
	return &Dialect{svc: svc, keeper: keeper, log: log}
}

// Callbacks is the "pivot" delivery format.
func (d *Dialect) Callbacks() event.Format { return nil }

func (d *Dialect) AccessToken(w http.ResponseWriter, r *http.Request)    { d.NotFound(w, r) }
func (d *Dialect) CreatePayment(w http.ResponseWriter, r *http.Request)  { d.NotFound(w, r) }
func (d *Dialect) GetPayment(w http.ResponseWriter, r *http.Request)     { d.NotFound(w, r) }
func (d *Dialect) ConfirmPayment(w http.ResponseWriter, r *http.Request) { d.NotFound(w, r) }
func (d *Dialect) GetCustomer(w http.ResponseWriter, r *http.Request)    { d.NotFound(w, r) }
func (d *Dialect) NotFound(w http.ResponseWriter, r *http.Request)       { http.NotFound(w, r) }
