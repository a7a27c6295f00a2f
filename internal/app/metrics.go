package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/httpapi"
	"github.com/coffer-vault/coffer/internal/metrics"
	"github.com/coffer-vault/coffer/internal/payment"
)

// observability is a server's metrics side: the collectors and the
// listener serving them. Its zero value is metrics switched off; its
// accessors then return nil interfaces (not interfaces holding a nil
// pointer), so the hooks skip the calls entirely.
type observability struct {
	m   *metrics.Metrics
	srv *http.Server
}

// startMetrics serves /metrics on c.MetricsAddr, its own listener: the
// API's port never shows it, so the metrics can be firewalled apart.
func startMetrics(c *Config, log *slog.Logger) (observability, error) {
	if c.MetricsAddr == "" {
		return observability{}, nil
	}
	if c.MetricsAddr == c.Addr {
		if _, port, err := net.SplitHostPort(c.Addr); err != nil || port != "0" {
			return observability{}, errors.New("--metrics-addr must differ from --addr: metrics get a listener of their own")
		}
	}
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return observability{}, fmt.Errorf("metrics listener: %w", err)
	}
	m := metrics.New()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "error", err.Error())
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	if c.OnMetricsReady != nil {
		c.OnMetricsReady(ln.Addr().String())
	}
	return observability{m: m, srv: srv}, nil
}

// stop closes the listener; a scrape under way gets a few seconds.
func (o observability) stop() {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.srv.Shutdown(ctx); err != nil {
		o.srv.Close()
	}
}

// watch registers what is read at each scrape: the store's commit and
// pool statistics (whichever it offers: SQLite has per-batch commit
// observations and both pools) and the webhook queue.
func (o observability) watch(st any, d *event.Dispatcher) error {
	if o.m == nil {
		return nil
	}
	if err := o.m.WatchStore(st); err != nil {
		return err
	}
	return o.m.WatchWebhookQueue(d.Pending)
}

func (o observability) http() httpapi.HTTPObserver {
	if o.m == nil {
		return nil
	}
	return o.m
}

func (o observability) payment() payment.Metrics {
	if o.m == nil {
		return nil
	}
	return o.m
}

func (o observability) event() event.Observer {
	if o.m == nil {
		return nil
	}
	return o.m
}
