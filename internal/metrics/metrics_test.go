package metrics

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape returns the text exposition of m.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, "\n"+l+"\n") {
			t.Errorf("scrape lacks %q", l)
		}
	}
}

func TestObserveHTTPLabels(t *testing.T) {
	m := New()
	m.ObserveHTTP("GET /v1/tokens/{id}", "GET", 200, 3*time.Millisecond)
	m.ObserveHTTP("GET /v1/tokens/{id}", "GET", 200, 3*time.Millisecond)
	m.ObserveHTTP("GET /v1/tokens/{id}", "HEAD", 0, time.Millisecond) // nothing written: 200
	m.ObserveHTTP("/", "BREW", 404, time.Millisecond)
	m.ObserveHTTP("", "GET", 400, time.Millisecond)
	m.ObserveHTTP("POST /ottu/b/checkout/v3/pymt-txn/submit/{id}", "POST", 201, 2*time.Second)
	out := scrape(t, m)
	wantLines(t, out,
		`coffer_http_requests_total{code="200",method="GET",route="/v1/tokens/{id}"} 2`,
		`coffer_http_requests_total{code="200",method="HEAD",route="/v1/tokens/{id}"} 1`,
		`coffer_http_requests_total{code="404",method="OTHER",route="unmatched"} 1`,
		`coffer_http_requests_total{code="400",method="GET",route="unmatched"} 1`,
		`coffer_http_request_duration_seconds_bucket{method="GET",route="/v1/tokens/{id}",le="0.005"} 2`,
		`coffer_http_request_duration_seconds_count{method="POST",route="/ottu/b/checkout/v3/pymt-txn/submit/{id}"} 1`,
		`coffer_threeds_challenges_total{outcome="started"} 0`,
	)
}

// TestObserveHTTPAllocatesNothing: a combination seen before costs no
// allocation on the request path.
func TestObserveHTTPAllocatesNothing(t *testing.T) {
	m := New()
	m.ObserveHTTP("POST /v1/tokens", "POST", 201, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { m.ObserveHTTP("POST /v1/tokens", "POST", 201, time.Millisecond) }); n != 0 {
		t.Errorf("ObserveHTTP allocates %v times", n)
	}
}

func BenchmarkObserveHTTP(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveHTTP("GET /v1/tokens/{id}", "GET", 200, time.Millisecond)
	}
}

func TestCleanHost(t *testing.T) {
	for in, want := range map[string]string{
		"Hooks.Example.COM":              "hooks.example.com",
		"127.0.0.1":                      "127.0.0.1",
		"[::1]":                          "::1",
		"::1":                            "::1",
		"api-2.example.com":              "api-2.example.com",
		"4242424242424242.example":       HostInvalid,
		"4242-4242-4242-4242.example":    HostInvalid,
		"host123456.example":             HostInvalid,
		"h12345.example":                 "h12345.example",
		"pay_abc.example":                HostInvalid, // not a host name character
		"user:pass@host":                 HostInvalid,
		"":                               HostInvalid,
		strings.Repeat("a", 254):         HostInvalid,
		"evil.example/path?token=secret": HostInvalid,
	} {
		if got := cleanHost(in); got != want {
			t.Errorf("cleanHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostsBounded(t *testing.T) {
	m := New()
	for i := range maxHosts + 20 {
		m.DeliveryAttempt("h"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".example"+string(rune('a'+i/26)), true, time.Millisecond)
	}
	m.DeliveryAttempt("127.0.0.1", false, time.Millisecond)
	out := scrape(t, m)
	if n := strings.Count(out, "coffer_webhook_failures_total{"); n > maxHosts+1 {
		t.Errorf("%d host series, want at most %d", n, maxHosts+1)
	}
	wantLines(t, out, `coffer_webhook_attempts_total{outcome="delivered"} 1`,
		`coffer_webhook_attempts_total{outcome="failed"} `+strconv.Itoa(maxHosts+20))
	if !strings.Contains(out, `coffer_webhook_failures_total{host="other"}`) {
		t.Error("no host=other series past the bound")
	}
}

type fakeStore struct{ commits, writes uint64 }

func (f *fakeStore) Stats() (uint64, uint64) { return f.commits, f.writes }
func (f *fakeStore) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"read": {OpenConnections: 3, InUse: 1, Idle: 2, MaxOpenConnections: 8, WaitCount: 5}}
}

type observingStore struct {
	fakeStore
	f func(int, time.Duration)
}

func (o *observingStore) ObserveCommits(f func(int, time.Duration)) { o.f = f }

func TestWatchStore(t *testing.T) {
	m := New()
	st := &observingStore{fakeStore: fakeStore{commits: 4, writes: 10}}
	if err := m.WatchStore(st); err != nil {
		t.Fatal(err)
	}
	st.f(3, 2*time.Millisecond)
	out := scrape(t, m)
	wantLines(t, out, `coffer_store_commits_total 4`, `coffer_store_committed_writes_total 10`,
		`coffer_store_commit_batch_size_bucket{le="4"} 1`, `coffer_store_commit_duration_seconds_count 1`,
		`coffer_db_connections_open{pool="read"} 3`, `coffer_db_connections_in_use{pool="read"} 1`,
		`coffer_db_connection_waits_total{pool="read"} 5`)
	// A store offering nothing registers nothing, and is no error.
	if err := New().WatchStore(struct{}{}); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookQueue(t *testing.T) {
	m := New()
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	fail := false
	if err := m.Register(queueCollector{now: func() time.Time { return now }, f: func(context.Context) (int, time.Time, error) {
		if fail {
			return 0, time.Time{}, errors.New("database down")
		}
		return 7, now.Add(-90 * time.Second), nil
	}}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, scrape(t, m), `coffer_webhook_deliveries_pending 7`, `coffer_webhook_oldest_pending_seconds 90`)
	fail = true
	out := scrape(t, m) // ContinueOnError: the rest is still served
	if strings.Contains(out, "coffer_webhook_deliveries_pending ") || !strings.Contains(out, "go_goroutines") {
		t.Errorf("a failed queue read should leave the gauges out and the rest in:\n%s", out)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.ObserveHTTP("/", "GET", 200, 0)
	m.ProcessorCall("simulator", "authorize", "ok", 0)
	m.ThreeDSChallenge(ThreeDSStarted)
	m.CardTestingRefused("cvc_guessing")
	m.DeliveryAttempt("h", true, 0)
	if m.WatchStore(nil) != nil || m.WatchWebhookQueue(nil) != nil {
		t.Error("nil Metrics returned an error")
	}
}
