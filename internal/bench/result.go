package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Latency summarizes the durations of the successful requests of a phase.
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Stats is one phase's measurement.
type Stats struct {
	Name     string
	Window   time.Duration // the measured time (warmup excluded)
	Requests int           // 2xx answers sent and received inside the window
	RPS      float64       // Requests / Window
	Latency  Latency       // of the counted 2xx requests
	// Errors counts the failed requests inside the window; ErrorsByStatus
	// splits them by HTTP status ("500") or "transport" when no response came.
	Errors         int
	ErrorsByStatus map[string]int
	FirstError     string // the first transport error's text, if any
}

// ErrorRate is the failed fraction of the phase's requests.
func (s Stats) ErrorRate() float64 {
	total := s.Requests + s.Errors
	if total == 0 {
		return 0
	}
	return float64(s.Errors) / float64(total)
}

// Result is a whole run.
type Result struct {
	URL         string
	Embedded    bool
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Scenario    Stats
	Baseline    *Stats  // the healthz phase, with Options.Baseline
	Ratio       float64 // Scenario.RPS / Baseline.RPS, with Options.Baseline
	// Bare is, with Options.Baseline, a bare net/http handler in this
	// process, measured in the same run with the same client: what the
	// machine and the HTTP stack allow before Coffer does anything.
	Bare *Stats
	// BareRatio is Scenario.RPS / Bare.RPS; HealthzBareRatio is
	// Baseline.RPS / Bare.RPS, the cost of Coffer's middleware alone.
	BareRatio, HealthzBareRatio float64
	// Memory is the server's RSS through the scenario phase, with
	// Options.MemoryEvery.
	Memory []MemorySample
}

// Check returns an error wrapping ErrTooManyErrors when a phase failed more
// than maxRate of its requests, or wrapping ErrNoRequests when a phase
// completed nothing.
// A negative maxRate checks only the latter.
func (r Result) Check(maxRate float64) error {
	for _, s := range r.phases() {
		if s.Requests+s.Errors == 0 {
			return fmt.Errorf("%w: %s: nothing answered inside the %s window", ErrNoRequests, s.Name, s.Window)
		}
		if maxRate >= 0 && s.ErrorRate() > maxRate {
			return fmt.Errorf("%w: %s: %d of %d requests failed (%.2f%%, limit %.2f%%): %s",
				ErrTooManyErrors, s.Name, s.Errors, s.Requests+s.Errors, 100*s.ErrorRate(), 100*maxRate, s.errorList())
		}
	}
	return nil
}

func (r Result) phases() []Stats {
	var out []Stats
	if r.Bare != nil {
		out = append(out, *r.Bare)
	}
	if r.Baseline != nil {
		out = append(out, *r.Baseline)
	}
	return append(out, r.Scenario)
}

// Summarize returns the exact percentiles of d (which it sorts in place).
func Summarize(d []time.Duration) Latency {
	slices.Sort(d)
	return Latency{
		P50: Percentile(d, 50),
		P90: Percentile(d, 90),
		P99: Percentile(d, 99),
		Max: Percentile(d, 100),
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it, always one of the recorded values. Empty input gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// 1e-9 absorbs float error such as 0.07*100 = 7.000000000000001.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// errorList renders ErrorsByStatus as "500×12 transport×1", by key.
func (s Stats) errorList() string {
	if s.Errors == 0 {
		return "none"
	}
	keys := make([]string, 0, len(s.ErrorsByStatus))
	for k := range s.ErrorsByStatus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s.ErrorsByStatus[k]))
	}
	out := strings.Join(parts, " ")
	if s.FirstError != "" {
		out += " (first transport error: " + s.FirstError + ")"
	}
	return out
}

// Format writes the human-readable report.
func (r Result) Format(w io.Writer) error {
	target := r.URL
	if r.Embedded {
		target += " (embedded, temporary data folder)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "coffer bench  %s\n", target)
	fmt.Fprintf(&b, "concurrency %d, duration %s per phase, warmup %s\n\n", r.Concurrency, r.Duration, r.Warmup)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests\treq/s\tp50\tp90\tp99\tmax\terrors\t")
	for _, s := range r.phases() {
		lat := [4]string{"-", "-", "-", "-"} // no successful request, no latency
		if s.Requests > 0 {
			lat = [4]string{ms(s.Latency.P50), ms(s.Latency.P90), ms(s.Latency.P99), ms(s.Latency.Max)}
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%d\t\n", s.Name, s.Requests, s.RPS, lat[0], lat[1], lat[2], lat[3], s.Errors)
	}
	tw.Flush()
	for _, s := range r.phases() {
		if s.Errors > 0 {
			fmt.Fprintf(&b, "\nerrors (%s): %s", s.Name, s.errorList())
		}
	}
	if r.Baseline != nil {
		fmt.Fprintf(&b, "\nratio %s/%s: %.3f", r.Scenario.Name, r.Baseline.Name, r.Ratio)
	}
	if r.Bare != nil {
		fmt.Fprintf(&b, "\nratio %s/%s: %.3f", r.Scenario.Name, r.Bare.Name, r.BareRatio)
		if r.Baseline != nil {
			fmt.Fprintf(&b, "\nratio %s/%s: %.3f", r.Baseline.Name, r.Bare.Name, r.HealthzBareRatio)
		}
	}
	b.WriteString("\n")
	if len(r.Memory) > 0 {
		b.WriteString("\nserver RSS during the scenario:\n")
		mw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(mw, "elapsed\trequests\tRSS MiB\t")
		for _, m := range r.Memory {
			fmt.Fprintf(mw, "%.0fs\t%d\t%.1f\t\n", m.Elapsed.Seconds(), m.Requests, float64(m.RSS)/(1<<20))
		}
		mw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

type jsonLatency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type jsonStats struct {
	Scenario       string         `json:"scenario"`
	Requests       int            `json:"requests"`
	RequestsPerSec float64        `json:"requests_per_second"`
	LatencyMS      jsonLatency    `json:"latency_ms"`
	Errors         int            `json:"errors"`
	ErrorRate      float64        `json:"error_rate"`
	ErrorsByStatus map[string]int `json:"errors_by_status"`
	FirstError     string         `json:"first_transport_error,omitempty"`
}

type jsonResult struct {
	URL             string     `json:"url"`
	Embedded        bool       `json:"embedded"`
	Concurrency     int        `json:"concurrency"`
	DurationSeconds float64    `json:"duration_seconds"`
	WarmupSeconds   float64    `json:"warmup_seconds"`
	Result          jsonStats  `json:"result"`
	Baseline        *jsonStats `json:"baseline,omitempty"`
	Ratio           *float64   `json:"ratio,omitempty"`
	Bare            *jsonStats `json:"bare,omitempty"`
	BareRatio       *float64   `json:"ratio_bare,omitempty"`
	HealthzBare     *float64   `json:"ratio_healthz_bare,omitempty"`
	Memory          []jsonMem  `json:"memory,omitempty"`
	OK              bool       `json:"ok"`
	Error           string     `json:"error,omitempty"`
}

// jsonMem is one memory sample: seconds into the phase, requests sent, RSS bytes.
type jsonMem struct {
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"`
	RSS      int64   `json:"rss_bytes"`
}

func msf(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func (s Stats) toJSON() jsonStats {
	by := s.ErrorsByStatus
	if by == nil {
		by = map[string]int{}
	}
	return jsonStats{
		Scenario:       s.Name,
		Requests:       s.Requests,
		RequestsPerSec: math.Round(s.RPS*10) / 10,
		LatencyMS:      jsonLatency{msf(s.Latency.P50), msf(s.Latency.P90), msf(s.Latency.P99), msf(s.Latency.Max)},
		Errors:         s.Errors,
		ErrorRate:      s.ErrorRate(),
		ErrorsByStatus: by,
		FirstError:     s.FirstError,
	}
}

// WriteJSON writes the result as one JSON object; runErr is the error Run
// returned with it (nil for a clean run) and sets "ok" and "error".
func (r Result) WriteJSON(w io.Writer, runErr error) error {
	out := jsonResult{
		URL:             r.URL,
		Embedded:        r.Embedded,
		Concurrency:     r.Concurrency,
		DurationSeconds: r.Duration.Seconds(),
		WarmupSeconds:   r.Warmup.Seconds(),
		Result:          r.Scenario.toJSON(),
		OK:              runErr == nil,
	}
	if runErr != nil {
		out.Error = runErr.Error()
	}
	if r.Baseline != nil {
		b := r.Baseline.toJSON()
		ratio := math.Round(r.Ratio*1000) / 1000
		out.Baseline, out.Ratio = &b, &ratio
	}
	if r.Bare != nil {
		b := r.Bare.toJSON()
		ratio, hz := math.Round(r.BareRatio*1000)/1000, math.Round(r.HealthzBareRatio*1000)/1000
		out.Bare, out.BareRatio, out.HealthzBare = &b, &ratio, &hz
	}
	for _, m := range r.Memory {
		out.Memory = append(out.Memory, jsonMem{Seconds: math.Round(m.Elapsed.Seconds()*10) / 10, Requests: m.Requests, RSS: m.RSS})
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}
