package metrics

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Unmatched is the route label of a request no pattern took (and of the
// native API's catch-all "/", whose only answer is "unknown route").
const Unmatched = "unmatched"

type httpKey struct {
	route, method string
	code          int
}

// httpChild is one route, method and code's series, resolved once.
type httpChild struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// ObserveHTTP counts a request. pattern is the ServeMux pattern that
// routed it (http.Request.Pattern after routing): its path part is the
// route label, so ids in the path never reach a label. A status of 0
// (nothing written) is net/http's implicit 200.
func (m *Metrics) ObserveHTTP(pattern, method string, status int, took time.Duration) {
	if m == nil {
		return
	}
	if status == 0 {
		status = 200
	}
	k := httpKey{route: route(pattern), method: knownMethod(method), code: status}
	c, ok := (*m.httpChildren.Load())[k]
	if !ok {
		c = m.httpChild(k)
	}
	c.count.Inc()
	c.duration.Observe(took.Seconds())
}

// httpChild resolves and remembers a new combination. The combinations
// are bounded: patterns are the code's, methods and codes fixed sets.
func (m *Metrics) httpChild(k httpKey) httpChild {
	m.httpMu.Lock()
	defer m.httpMu.Unlock()
	old := *m.httpChildren.Load()
	if c, ok := old[k]; ok {
		return c
	}
	c := httpChild{count: m.httpRequests.WithLabelValues(k.route, k.method, strconv.Itoa(k.code)),
		duration: m.httpDuration.WithLabelValues(k.route, k.method)}
	next := make(map[httpKey]httpChild, len(old)+1)
	for ok, ov := range old {
		next[ok] = ov
	}
	next[k] = c
	m.httpChildren.Store(&next)
	return c
}

// route is a pattern's path part ("GET /v1/tokens/{id}" → "/v1/tokens/{id}");
// the method is a label of its own.
func route(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	if pattern == "" || pattern == "/" {
		return Unmatched
	}
	return pattern
}

// knownMethod keeps the standard methods and folds whatever else a client
// sends into OTHER: the method of an unmatched request is the client's.
func knownMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "OTHER"
}
