package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/coffer-vault/coffer/internal/checkout"
	"github.com/coffer-vault/coffer/internal/dashboard"
	"github.com/coffer-vault/coffer/internal/dialect/ottu"
	"github.com/coffer-vault/coffer/internal/dialect/pivot"
	"github.com/coffer-vault/coffer/internal/dialect/senangpay"
	"github.com/coffer-vault/coffer/internal/dialect/sensepass"
	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/httpapi"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// dialect is what the server needs of a provider dialect: the routes it
// serves and the callback formats its sessions name.
type dialect interface {
	Register(mux *http.ServeMux)
	Formats() map[string]event.Format
}

// Web is the server's HTTP side: the native API with every dialect mounted
// behind its middleware, and the dialects' callback formats for the
// dispatcher.
type Web struct {
	Handler http.Handler
	Formats map[string]event.Format
}

// WebConfig is what the HTTP side is built over.
type WebConfig struct {
	Service *payment.Service
	Ready   store.Store // what /readyz pings
	Keeper  *idempotency.Keeper
	Logger  *slog.Logger
	Metrics httpapi.HTTPObserver // nil counts nothing
	// RateLimit is requests a second per API key (httpapi.Config.RateLimit).
	RateLimit int
}

// NewWeb composes the native API and the provider dialects over one
// service. Each dialect registers its own routes; the native API knows
// none of them.
func NewWeb(c WebConfig) (*Web, error) {
	svc, keeper, log := c.Service, c.Keeper, c.Logger
	ds := []dialect{
		senangpay.New(svc, log),
		sensepass.New(svc, log),
		pivot.New(svc, keeper, log),
		ottu.New(svc, keeper, log),
	}
	formats, err := formatsOf(ds)
	if err != nil {
		return nil, err
	}
	mount := make([]httpapi.Routes, len(ds), len(ds)+1)
	for i, d := range ds {
		mount[i] = d
	}
	// The merchant's dashboard: its own sign-in, pages and CSRF checks,
	// behind the same middleware (request id, body limit, access log).
	mount = append(mount, dashboard.New(dashboard.Config{Service: svc, Store: c.Ready, Keeper: keeper, Logger: log}))
	pages := checkout.New(svc, svc, log).WithFields(svc)
	h := httpapi.New(httpapi.Config{Service: svc, Store: c.Ready, Keeper: keeper, Logger: log, Pages: pages, Mount: mount,
		Metrics: c.Metrics, RateLimit: float64(c.RateLimit)})
	return &Web{Handler: h, Formats: formats}, nil
}

// formatsOf merges the dialects' callback formats. A name claimed twice is
// an error: sessions record the name, and the dispatcher must not send one
// dialect's callbacks in another's format.
func formatsOf(ds []dialect) (map[string]event.Format, error) {
	out := map[string]event.Format{}
	for _, d := range ds {
		fs := d.Formats()
		names := make([]string, 0, len(fs))
		for name := range fs {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("callback format %q is claimed by two dialects", name)
			}
			if fs[name] == nil {
				return nil, fmt.Errorf("callback format %q has no formatter", name)
			}
			out[name] = fs[name]
		}
	}
	return out, nil
}
