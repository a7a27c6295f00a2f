// Package metrics is Coffer's Prometheus instrumentation: the collectors,
// the hooks the other packages call (through small interfaces they define,
// so that none of them imports Prometheus) and the /metrics handler that
// app serves on its own listener.
//
// No label value comes from a client or a merchant unchecked: routes are
// ServeMux patterns, methods and codes come from fixed sets, connectors,
// operations, outcomes and rules are Coffer's own names, and a webhook
// endpoint's host is cleaned and its number bounded (see hosts.go). No id,
// card digit, key or URL is ever a label value.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors. Its methods may be called on a nil
// *Metrics, which records nothing, so the hooks need no nil checks.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	// httpChildren maps a route, method and code to its pre-resolved
	// series, copied on write: the request path reads it without a lock
	// and without building label values.
	httpChildren atomic.Pointer[map[httpKey]httpChild]
	httpMu       sync.Mutex

	processorCalls    *prometheus.CounterVec
	processorDuration *prometheus.HistogramVec
	threeDS           *prometheus.CounterVec
	cardTesting       *prometheus.CounterVec
	webhookAttempts   *prometheus.CounterVec
	webhookFailures   *prometheus.CounterVec
	webhookDuration   prometheus.Histogram
	hosts             hostSet
}

// Buckets, in seconds: the API answers in milliseconds, acquirers and
// webhook receivers in up to their timeouts (30 s, 10 s).
var (
	httpBuckets     = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	upstreamBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// New makes the collectors and registers them, with Go's runtime and the
// process's own metrics.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coffer_http_requests_total",
		Help: "HTTP requests answered, by route (the ServeMux pattern; unmatched when none matched), method and status code."},
		[]string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "coffer_http_request_duration_seconds",
		Help: "Time from a request's arrival to its handler's return, by route and method.", Buckets: httpBuckets},
		[]string{"route", "method"})
	m.processorCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coffer_processor_calls_total",
		Help: "Calls to acquirers, by connector, operation and outcome."}, []string{"connector", "operation", "outcome"})
	m.processorDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "coffer_processor_call_duration_seconds",
		Help: "Time an acquirer took to answer, by connector and operation.", Buckets: upstreamBuckets},
		[]string{"connector", "operation"})
	m.threeDS = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coffer_threeds_challenges_total",
		Help: "3-D Secure challenges started, passed and failed."}, []string{"outcome"})
	m.cardTesting = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coffer_card_testing_throttled_total",
		Help: "Card attempts refused by the card-testing control, by rule."}, []string{"rule"})
	m.webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coffer_webhook_attempts_total",
		Help: "Webhook and callback delivery attempts, by outcome (delivered or failed)."}, []string{"outcome"})
	m.webhookFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coffer_webhook_failures_total",
		Help: "Failed delivery attempts by the receiving endpoint's host (never its path or query)."}, []string{"host"})
	m.webhookDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coffer_webhook_attempt_duration_seconds",
		Help: "Time a delivery attempt took, connect to last byte.", Buckets: upstreamBuckets})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.processorCalls, m.processorDuration, m.threeDS, m.cardTesting,
		m.webhookAttempts, m.webhookFailures, m.webhookDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{ThreeDSStarted, ThreeDSPassed, ThreeDSFailed} {
		m.threeDS.WithLabelValues(o) // shown at 0 before the first one
	}
	for _, o := range []string{"delivered", "failed"} {
		m.webhookAttempts.WithLabelValues(o)
	}
	empty := map[httpKey]httpChild{}
	m.httpChildren.Store(&empty)
	return m
}

// Handler serves the registry in Prometheus's text (or protobuf) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Register adds further collectors (the store's, the webhook queue's).
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// 3-D Secure outcomes, as ThreeDSChallenge takes them.
const (
	ThreeDSStarted = "started"
	ThreeDSPassed  = "passed"
	ThreeDSFailed  = "failed"
)

// ProcessorCall counts one call to an acquirer.
func (m *Metrics) ProcessorCall(connector, operation, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.processorCalls.WithLabelValues(connector, operation, outcome).Inc()
	m.processorDuration.WithLabelValues(connector, operation).Observe(took.Seconds())
}

// ThreeDSChallenge counts a challenge started, passed or failed.
func (m *Metrics) ThreeDSChallenge(outcome string) {
	if m == nil {
		return
	}
	m.threeDS.WithLabelValues(outcome).Inc()
}

// CardTestingRefused counts a card attempt the card-testing control refused.
func (m *Metrics) CardTestingRefused(rule string) {
	if m == nil {
		return
	}
	m.cardTesting.WithLabelValues(rule).Inc()
}

// DeliveryAttempt counts a webhook or callback attempt at host.
func (m *Metrics) DeliveryAttempt(host string, failed bool, took time.Duration) {
	if m == nil {
		return
	}
	m.webhookDuration.Observe(took.Seconds())
	if !failed {
		m.webhookAttempts.WithLabelValues("delivered").Inc()
		return
	}
	m.webhookAttempts.WithLabelValues("failed").Inc()
	m.webhookFailures.WithLabelValues(m.hosts.label(host)).Inc()
}
