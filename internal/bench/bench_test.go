package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/coffer-vault/coffer/internal/card"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// short is a quick run against a real embedded server.
func short(scenario string) Options {
	return Options{
		Scenario:       scenario,
		Concurrency:    4,
		Duration:       300 * time.Millisecond,
		Warmup:         50 * time.Millisecond,
		ValidateTokens: 5,
	}
}

func checkClean(t *testing.T, s Stats) {
	t.Helper()
	if s.Requests == 0 || s.RPS <= 0 {
		t.Errorf("%s: %d requests, %.1f/s; want some", s.Name, s.Requests, s.RPS)
	}
	if s.Errors != 0 {
		t.Errorf("%s: %d errors: %v %s", s.Name, s.Errors, s.ErrorsByStatus, s.FirstError)
	}
	l := s.Latency
	if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s: latency not ordered: %+v", s.Name, l)
	}
}

func TestScenariosEmbedded(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the embedded server's data folder goes
	defer func() {
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("temporary data folder not removed: %v", left)
		}
	}()
	for _, sc := range Scenarios {
		t.Run(sc, func(t *testing.T) {
			// Ended by a count, not a window: a loaded machine (CI, -race)
			// once answered no pay in 300 ms; the minute only bounds it.
			o := short(sc)
			o.Requests, o.Duration = 12, time.Minute
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !res.Embedded || !strings.HasPrefix(res.URL, "http://127.0.0.1:") {
				t.Errorf("want an embedded server on 127.0.0.1, got %q embedded=%v", res.URL, res.Embedded)
			}
			if res.Scenario.Name != sc || res.Baseline != nil {
				t.Errorf("phases: %q baseline=%v", res.Scenario.Name, res.Baseline)
			}
			checkClean(t, res.Scenario)
		})
	}
}

func TestBaselineRatio(t *testing.T) {
	o := short(Tokenize)
	o.Baseline = true
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Baseline == nil || res.Baseline.Name != Healthz {
		t.Fatalf("no healthz baseline: %+v", res.Baseline)
	}
	checkClean(t, *res.Baseline)
	checkClean(t, res.Scenario)
	if res.Ratio <= 0 {
		t.Errorf("ratio %v, want > 0", res.Ratio)
	}
	if want := res.Scenario.RPS / res.Baseline.RPS; res.Ratio != want {
		t.Errorf("ratio %v, want %v", res.Ratio, want)
	}
	// The bare handler of the same run, and both ratios against it.
	if res.Bare == nil || res.Bare.Name != Bare {
		t.Fatalf("no bare-handler phase: %+v", res.Bare)
	}
	checkClean(t, *res.Bare)
	if want := res.Scenario.RPS / res.Bare.RPS; res.BareRatio != want || want <= 0 {
		t.Errorf("ratio against the bare handler %v, want %v", res.BareRatio, want)
	}
	if want := res.Baseline.RPS / res.Bare.RPS; res.HealthzBareRatio != want || want <= 0 {
		t.Errorf("healthz against the bare handler %v, want %v", res.HealthzBareRatio, want)
	}

	var text bytes.Buffer
	if err := res.Format(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"healthz", "tokenize", "bare", "req/s", "p99", "ratio tokenize/healthz", "ratio tokenize/bare", "ratio healthz/bare"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := res.WriteJSON(&js, nil); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js.Bytes(), &obj); err != nil {
		t.Fatalf("JSON: %v\n%s", err, js.String())
	}
	if obj["ok"] != true || obj["ratio"] == nil || obj["baseline"] == nil || obj["bare"] == nil || obj["ratio_bare"] == nil ||
		obj["ratio_healthz_bare"] == nil || bytes.Count(bytes.TrimSpace(js.Bytes()), []byte("\n")) != 0 {
		t.Errorf("JSON report: %s", js.String())
	}
}

func TestFailingServerTripsThreshold(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/tokens" && r.Header.Get("Authorization") != "Bearer sk_test" {
			t.Errorf("tokenize without the key: %q", r.Header.Get("Authorization"))
		}
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"type":"api_error"}}`))
	}))
	defer srv.Close()

	for _, sc := range []string{Healthz, Tokenize} {
		t.Run(sc, func(t *testing.T) {
			o := short(sc)
			o.URL, o.Key = srv.URL, "sk_test"
			res, err := Run(context.Background(), o)
			if !errors.Is(err, ErrTooManyErrors) {
				t.Fatalf("err = %v, want ErrTooManyErrors", err)
			}
			s := res.Scenario
			if s.Requests != 0 || s.RPS != 0 {
				t.Errorf("500s counted as requests: %d, %.1f/s", s.Requests, s.RPS)
			}
			if s.Errors == 0 || s.ErrorsByStatus["500"] != s.Errors || s.ErrorRate() != 1 {
				t.Errorf("errors %d by status %v rate %v", s.Errors, s.ErrorsByStatus, s.ErrorRate())
			}
			var text bytes.Buffer
			res.Format(&text)
			if !strings.Contains(text.String(), "500×") {
				t.Errorf("report does not show the 500s:\n%s", text.String())
			}
		})
	}

	// The validate setup cannot make tokens: Run fails before measuring.
	o := short(Validate)
	o.URL, o.Key = srv.URL, "sk_test"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "setup") {
		t.Errorf("validate against a failing server: err = %v, want a setup error", err)
	}
}

func TestThreshold(t *testing.T) {
	ok := Stats{Name: "tokenize", Window: time.Second, Requests: 990, Errors: 10, ErrorsByStatus: map[string]int{"503": 10}}
	if err := (Result{Scenario: ok}).Check(0.01); err != nil {
		t.Errorf("exactly 1%% failed: %v, want nil", err)
	}
	bad := ok
	bad.Requests = 989
	if err := (Result{Scenario: bad}).Check(0.01); !errors.Is(err, ErrTooManyErrors) || !strings.Contains(err.Error(), "503×10") {
		t.Errorf("over 1%%: %v", err)
	}
	// The baseline phase is held to the same rule.
	if err := (Result{Scenario: ok, Baseline: &bad}).Check(0.01); !errors.Is(err, ErrTooManyErrors) {
		t.Errorf("failing baseline: %v", err)
	}
	if err := (Result{Scenario: Stats{Name: "healthz", Window: time.Second}}).Check(0.01); !errors.Is(err, ErrNoRequests) {
		t.Errorf("nothing completed: %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	o := short(Healthz)
	o.Warmup, o.Duration = 0, 100*time.Millisecond
	o.URL = url
	res, err := Run(context.Background(), o)
	if !errors.Is(err, ErrTooManyErrors) {
		t.Fatalf("err = %v", err)
	}
	if res.Scenario.ErrorsByStatus["transport"] == 0 || res.Scenario.FirstError == "" {
		t.Errorf("transport errors not reported: %+v", res.Scenario)
	}
}

func TestPercentiles(t *testing.T) {
	// 1ms … 100ms, shuffled.
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration((i*37)%100+1) * time.Millisecond
	}
	l := Summarize(d)
	want := Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if l != want {
		t.Errorf("Summarize(1..100ms) = %+v, want %+v", l, want)
	}

	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	cases := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond}, // nearest rank: ceil(0.5*2) = 1st
		{ms(1, 2), 51, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10 * time.Millisecond},
	}
	for _, c := range cases {
		if got := Percentile(c.in, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
	// 1000 values: p99 is the 990th, p90 the 900th.
	big := make([]time.Duration, 1000)
	for i := range big {
		big[i] = time.Duration(i + 1)
	}
	if Percentile(big, 99) != 990 || Percentile(big, 90) != 900 || Percentile(big, 50) != 500 {
		t.Errorf("1000 values: p50 %v p90 %v p99 %v", Percentile(big, 50), Percentile(big, 90), Percentile(big, 99))
	}
}

func TestRandomCard(t *testing.T) {
	if card.CompleteLuhn("424242424242424") != "4242424242424242" {
		t.Fatal("CompleteLuhn disagrees with the known test card")
	}
	now := time.Now()
	seen := map[string]bool{}
	for range 1000 {
		c := RandomCard()
		if len(c.Number) != 16 || !strings.HasPrefix(c.Number, CardPrefix) || !card.Luhn(c.Number) {
			t.Fatalf("bad number %q", c.Number)
		}
		if c.ExpMonth < 1 || c.ExpMonth > 12 || c.ExpYear <= now.Year() || len(c.CVC) != 3 {
			t.Fatalf("bad card %+v", c)
		}
		seen[c.Number] = true
	}
	if len(seen) < 990 {
		t.Errorf("only %d distinct numbers in 1000", len(seen))
	}
	var body struct {
		Card   Card `json:"card"`
		Verify bool `json:"verify"`
	}
	if err := json.Unmarshal(tokenizeBody(RandomCard()), &body); err != nil || !body.Verify || body.Card.Number == "" {
		t.Errorf("tokenize body: %+v %v", body, err)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Scenario: "pay-everyone"},
		{Concurrency: -1},
		{URL: "127.0.0.1:8080", Scenario: Healthz},
		{URL: "http://127.0.0.1:8080", Scenario: Tokenize}, // no key
		{Key: "sk_x"},                                      // key without URL
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}

func TestSecretKeyFromServeOutput(t *testing.T) {
	out := "Development merchant created. Its keys are shown only now:\n" +
		`{"id":"mer_1","secret_key":"sk_abc","publishable_key":"pk_abc","hmac_secret":"h"}` + "\n"
	if k, err := secretKey(out); err != nil || k != "sk_abc" {
		t.Errorf("secretKey = %q, %v", k, err)
	}
	if _, err := secretKey(""); err == nil {
		t.Error("secretKey of empty output succeeded")
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	o := short(Healthz)
	o.Duration = time.Minute
	start := time.Now()
	_, err := Run(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
}

// The benchmarks run a scenario against an embedded server and report its
// rate and latency; with -cpuprofile they profile server and client together:
//
//	go test -run XXX -bench Tokenize -cpuprofile cpu.out ./internal/bench/
func BenchmarkHealthz(b *testing.B)  { benchScenario(b, Healthz) }
func BenchmarkTokenize(b *testing.B) { benchScenario(b, Tokenize) }
func BenchmarkValidate(b *testing.B) { benchScenario(b, Validate) }
func BenchmarkPay(b *testing.B)      { benchScenario(b, Pay) }

func benchScenario(b *testing.B, scenario string) {
	o := Options{Scenario: scenario, Concurrency: DefaultConcurrency, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond}
	var res Result
	for b.Loop() {
		var err error
		if res, err = Run(b.Context(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op") // one op is a whole run: meaningless
	b.ReportMetric(res.Scenario.RPS, "req/s")
	b.ReportMetric(float64(res.Scenario.Latency.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(res.Scenario.Latency.P99.Microseconds()), "p99-µs")
}

// TestRequestLimitAndMemory: with Requests the scenario ends after that
// many requests, well before its duration, and with MemoryEvery the
// result carries RSS samples of this process (the embedded server) with
// the requests sent so far, never more than the limit.
func TestRequestLimitAndMemory(t *testing.T) {
	o := short(Healthz)
	// No warmup: every request sent counts, and the samples' counts with them.
	o.Duration, o.Warmup, o.Requests, o.MemoryEvery = time.Minute, 0, 300, 5*time.Millisecond
	start := time.Now()
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("a 300-request run took %v: the limit did not end it", took)
	}
	if n := res.Scenario.Requests + res.Scenario.Errors; n == 0 || n > 300 {
		t.Errorf("%d requests counted, want 1..300", n)
	}
	if res.Scenario.Window >= time.Minute || res.Scenario.RPS <= 0 {
		t.Errorf("window %v, rate %v: want the time the requests took", res.Scenario.Window, res.Scenario.RPS)
	}
	if len(res.Memory) == 0 {
		t.Fatal("no memory samples")
	}
	var last int64
	for _, m := range res.Memory {
		if m.RSS <= 0 || m.Requests < last || m.Requests > 300+int64(o.Concurrency) {
			t.Errorf("sample %+v after %d requests", m, last)
		}
		last = m.Requests
	}
	var out strings.Builder
	if err := res.Format(&out); err != nil || !strings.Contains(out.String(), "server RSS during the scenario") {
		t.Errorf("format: %v\n%s", err, out.String())
	}
}
