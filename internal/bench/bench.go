// Package bench is Coffer's load generator, the library behind `coffer bench`:
// a fixed number of workers send requests in a closed loop (send, wait for the
// answer, send again) for a fixed time, and the result gives the rate of
// successful requests, exact latency percentiles and the errors by status.
//
// Without a URL it benchmarks an embedded server: app.Serve on 127.0.0.1:0
// over a fresh temporary data folder, removed afterwards. With Baseline it
// first measures GET /healthz under the same load against the same server, so
// the scenario's rate can be read as a fraction of what the HTTP stack alone
// achieves on this machine.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios.
const (
	Tokenize = "tokenize" // POST /v1/tokens, a fresh random test card each time, verify:true
	Validate = "validate" // POST /v1/tokens/{id}/validate over tokens made during setup
	Pay      = "pay"      // POST /v1/payments charging (authorize + capture) tokens made during setup
	Healthz  = "healthz"  // GET /healthz
)

// Scenarios lists the scenario names Run accepts.
var Scenarios = []string{Tokenize, Pay, Validate, Healthz}

// Defaults.
const (
	DefaultConcurrency    = 32
	DefaultDuration       = 10 * time.Second
	DefaultWarmup         = time.Second
	DefaultTimeout        = 30 * time.Second
	DefaultMaxErrorRate   = 0.01
	DefaultValidateTokens = 50
)

// ErrTooManyErrors is returned (wrapped) by Run, together with the complete
// result, when more than MaxErrorRate of a phase's requests failed.
var ErrTooManyErrors = errors.New("too many failed requests")

// ErrNoRequests is returned (wrapped) by Run when a phase completed no
// request at all inside its window.
var ErrNoRequests = errors.New("no request completed")

// Options configures a run. Zero values take the defaults above, except
// Warmup: zero means no warmup (the command line defaults it to 1s).
type Options struct {
	// URL of a running server ("http://127.0.0.1:8080"); empty starts an
	// embedded server on a temporary data folder.
	URL string
	// Key is the merchant secret key (sk_…); required with URL for the
	// tokenize and validate scenarios, read from the embedded server otherwise.
	Key string

	Scenario    string
	Concurrency int
	Duration    time.Duration // measured time per phase
	Warmup      time.Duration // unmeasured time before each phase
	Baseline    bool          // measure Healthz first, then Scenario

	// Timeout bounds one request (DefaultTimeout when zero).
	Timeout time.Duration
	// MaxErrorRate is the fraction of failed requests above which Run
	// returns ErrTooManyErrors (DefaultMaxErrorRate when zero; negative
	// disables the check).
	MaxErrorRate float64
	// ValidateTokens is how many tokens the validate and pay scenarios create first.
	ValidateTokens int

	// ServerLog receives the embedded server's JSON logs (discarded when nil).
	ServerLog io.Writer
	// Progress, when set, receives one line per step (server start, phases).
	Progress io.Writer
	// Client replaces the HTTP client built for the run (its Transport
	// should keep at least Concurrency idle connections per host).
	Client *http.Client

	// Requests, when positive, ends the scenario phase once that many
	// requests have been sent after the warmup (Duration still bounds it).
	Requests int64
	// MemoryEvery, when positive, samples the server's RSS at that interval
	// during the scenario phase (Result.Memory): the process with ServerPID,
	// or this one for the embedded server.
	MemoryEvery time.Duration
	ServerPID   int
}

func (o *Options) defaults() error {
	if o.Scenario == "" {
		o.Scenario = Tokenize
	}
	if !slices.Contains(Scenarios, o.Scenario) {
		return fmt.Errorf("unknown scenario %q (want %s)", o.Scenario, strings.Join(Scenarios, ", "))
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Concurrency < 0 {
		return errors.New("concurrency must be positive")
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration < 0 || o.Warmup < 0 {
		return errors.New("duration and warmup must not be negative")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxErrorRate == 0 {
		o.MaxErrorRate = DefaultMaxErrorRate
	}
	if o.ValidateTokens <= 0 {
		o.ValidateTokens = DefaultValidateTokens
	}
	if o.Requests < 0 || o.MemoryEvery < 0 || o.ServerPID < 0 {
		return errors.New("requests, memory interval and server pid must not be negative")
	}
	if o.ServerPID > 0 && o.URL == "" {
		return errors.New("a server pid is for a server given by URL: the embedded one is this process")
	}
	if o.URL != "" {
		o.URL = strings.TrimRight(o.URL, "/")
		if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
			return fmt.Errorf("url %q: want http:// or https://", o.URL)
		}
		if o.Key == "" && o.Scenario != Healthz {
			return fmt.Errorf("the %s scenario needs --key sk_… with --url", o.Scenario)
		}
	} else if o.Key != "" {
		return errors.New("a key is only used with a URL: the embedded server makes its own merchant")
	}
	return nil
}

// NewClient returns an HTTP client for concurrency workers: its transport
// keeps enough idle connections per host that every worker reuses its
// connection (the default of 2 would make the run measure TCP handshakes).
func NewClient(concurrency int, timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // measure the server, not a proxy from the environment
	t.MaxIdleConns = 2 * concurrency
	t.MaxIdleConnsPerHost = 2 * concurrency
	t.MaxConnsPerHost = 0
	t.IdleConnTimeout = 90 * time.Second
	t.DisableCompression = true
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t, Timeout: timeout}
}

// Run benchmarks o.Scenario (after the healthz baseline when o.Baseline).
// On success the error is nil; when a phase failed more than MaxErrorRate
// of its requests, the full Result comes back with an error wrapping
// ErrTooManyErrors. Other errors (bad options, setup failure, ctx ended)
// come with whatever was measured so far.
func Run(ctx context.Context, o Options) (res Result, err error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	res = Result{
		URL:         o.URL,
		Concurrency: o.Concurrency,
		Duration:    o.Duration,
		Warmup:      o.Warmup,
	}
	if o.URL == "" {
		o.progress("starting an embedded server on a temporary data folder")
		srv, err := startEmbedded(ctx, o.ServerLog)
		if err != nil {
			return res, fmt.Errorf("embedded server: %w", err)
		}
		defer func() {
			if serr := srv.stop(); serr != nil && err == nil {
				err = fmt.Errorf("embedded server shutdown: %w", serr)
			}
		}()
		o.URL, o.Key = srv.url, srv.key
		res.URL, res.Embedded = srv.url, true
	}
	client := o.Client
	if client == nil {
		client = NewClient(o.Concurrency, o.Timeout)
		defer client.CloseIdleConnections()
	}
	t := &target{client: client, url: o.URL, key: o.Key}
	if res.Embedded {
		// Tens of thousands of random cards a minute from one merchant is
		// what the card-testing control is there to stop: two of them
		// sharing a BIN and last four sixteen times in an hour would get
		// 429. The embedded server's merchant is the bench itself.
		if err := t.allowCardBursts(ctx); err != nil {
			return res, fmt.Errorf("embedded server: %w", err)
		}
	}

	// Setup comes first so that a server that cannot even make tokens fails
	// fast rather than after the baseline.
	scen, err := t.scenario(ctx, o.Scenario, o.ValidateTokens, o.progress)
	if err != nil {
		return res, fmt.Errorf("%s setup: %w", o.Scenario, err)
	}
	if o.Baseline {
		o.progress(fmt.Sprintf("baseline: a bare net/http handler in this process, concurrency %d, %s warmup + %s", o.Concurrency, o.Warmup, o.Duration))
		bare, err := runBare(ctx, client, o.Concurrency, o.Warmup, o.Duration)
		res.Bare = &bare
		if err != nil {
			return res, err
		}
		o.progress(fmt.Sprintf("baseline: %s, concurrency %d, %s warmup + %s", Healthz, o.Concurrency, o.Warmup, o.Duration))
		h, _ := t.scenario(ctx, Healthz, 0, nil)
		st, err := runPhase(ctx, Healthz, h, o.Concurrency, o.Warmup, o.Duration)
		res.Baseline = &st
		if err != nil {
			return res, err
		}
	}
	o.progress(fmt.Sprintf("scenario: %s, concurrency %d, %s warmup + %s", o.Scenario, o.Concurrency, o.Warmup, o.Duration))
	var sent atomic.Int64
	var mem <-chan []MemorySample
	stopMem := func() {}
	if o.MemoryEvery > 0 {
		pid := o.ServerPID
		if pid == 0 {
			pid = os.Getpid()
		}
		mctx, cancel := context.WithCancel(ctx)
		stopMem = cancel
		if mem, err = sampleMemory(mctx, pid, o.MemoryEvery, &sent); err != nil {
			cancel()
			return res, err
		}
	}
	res.Scenario, err = runPhaseLimited(ctx, o.Scenario, scen, o.Concurrency, o.Warmup, o.Duration, o.Requests, &sent)
	stopMem()
	if mem != nil {
		res.Memory = <-mem
	}
	if err != nil {
		return res, err
	}
	if res.Baseline != nil && res.Baseline.RPS > 0 {
		res.Ratio = res.Scenario.RPS / res.Baseline.RPS
	}
	if res.Bare != nil && res.Bare.RPS > 0 {
		res.BareRatio = res.Scenario.RPS / res.Bare.RPS
		if res.Baseline != nil {
			res.HealthzBareRatio = res.Baseline.RPS / res.Bare.RPS
		}
	}
	return res, res.Check(o.MaxErrorRate)
}

func (o *Options) progress(msg string) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "coffer bench: %s\n", msg)
	}
}

// doFunc sends one request of a scenario for the given worker and returns
// the HTTP status, or an error when no response came back.
type doFunc func(ctx context.Context, worker int) (status int, err error)

// recorder is one worker's tally; workers never share one, so recording
// costs no synchronization.
type recorder struct {
	ok       []time.Duration
	errs     map[string]int
	firstErr string
}

// runPhase runs concurrency workers in a closed loop for warmup+duration.
// A request counts when it was sent at or after the end of the warmup and
// answered by the deadline; requests in flight at the deadline are finished
// (so that connections stay reusable) but not counted.
func runPhase(ctx context.Context, name string, do doFunc, concurrency int, warmup, duration time.Duration) (Stats, error) {
	var sent atomic.Int64
	return runPhaseLimited(ctx, name, do, concurrency, warmup, duration, 0, &sent)
}

// runPhaseLimited is runPhase that also counts the requests sent (warmup
// included) and, with limit > 0, stops once limit requests were sent after
// the warmup; the window is then the time they took.
func runPhaseLimited(ctx context.Context, name string, do doFunc, concurrency int, warmup, duration time.Duration, limit int64, sent *atomic.Int64) (Stats, error) {
	start := time.Now()
	from := start.Add(warmup)
	deadline := from.Add(duration)
	recs := make([]recorder, concurrency)
	var measured atomic.Int64
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			r := &recs[w]
			r.ok = make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				// The limit counts measured requests: those sent after the warmup.
				if !t0.Before(from) {
					if n := measured.Add(1); limit > 0 && n > limit {
						return
					}
				}
				sent.Add(1)
				status, err := do(ctx, w)
				t1 := time.Now()
				if t0.Before(from) || t1.After(deadline) || ctx.Err() != nil {
					continue
				}
				switch {
				case err != nil:
					r.fail("transport", err.Error())
				case status < 200 || status > 299:
					r.fail(fmt.Sprint(status), "")
				default:
					r.ok = append(r.ok, t1.Sub(t0))
				}
			}
		})
	}
	wg.Wait()
	window := duration
	if took := time.Since(from); limit > 0 && took < duration {
		window = took
	}
	st := merge(name, window, recs)
	return st, ctx.Err()
}

func (r *recorder) fail(key, msg string) {
	if r.errs == nil {
		r.errs = make(map[string]int)
	}
	r.errs[key]++
	if r.firstErr == "" && msg != "" {
		r.firstErr = msg
	}
}

func merge(name string, window time.Duration, recs []recorder) Stats {
	n := 0
	for i := range recs {
		n += len(recs[i].ok)
	}
	all := make([]time.Duration, 0, n)
	st := Stats{Name: name, Window: window, ErrorsByStatus: map[string]int{}}
	for i := range recs {
		all = append(all, recs[i].ok...)
		for k, v := range recs[i].errs {
			st.ErrorsByStatus[k] += v
			st.Errors += v
		}
		if st.FirstError == "" {
			st.FirstError = recs[i].firstErr
		}
	}
	st.Requests = len(all)
	if window > 0 {
		st.RPS = float64(st.Requests) / window.Seconds()
	}
	st.Latency = Summarize(all)
	return st
}

// Bare names the phase of the bare handler.
const Bare = "bare"

// runBare measures an in-process net/http server whose handler only
// answers 200 with a short JSON body, on loopback, through the same
// client: the ceiling every figure of the run is a fraction of.
func runBare(ctx context.Context, client *http.Client, concurrency int, warmup, duration time.Duration) (Stats, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Stats{Name: Bare}, err
	}
	body := []byte(`{"status":"ok"}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/healthz"
	do := func(ctx context.Context, _ int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	return runPhase(ctx, Bare, do, concurrency, warmup, duration)
}
