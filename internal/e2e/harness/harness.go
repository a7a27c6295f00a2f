// Package harness is the end-to-end tests' one vocabulary: it starts the real
// server (app.Serve) on a free loopback port over a real database, speaks
// HTTP to it, and gives the helpers every e2e package shares — cards,
// merchants, webhook receivers, the database as an attacker sees it, and a
// headless browser. The tests themselves live in packages beside it, one per
// area (payments, checkout, dialects …), so `go test ./...` runs them side by
// side.
//
// Every server a test starts is its own (own data folder or own PostgreSQL
// database, own simulator), so tests may call t.Parallel unless they change
// process-wide state.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"github.com/coffer-vault/coffer/internal/event"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/browsertest"
	"github.com/coffer-vault/coffer/internal/keys"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/scratch"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
)

// Main is an e2e package's TestMain: it runs the tests, then stops the
// PostgreSQL server pgtest and the Chromium browsertest may have started for
// them.
//
// Unless -parallel is given, it lets Parallel tests run two per CPU rather
// than one: an e2e test waits part of the time (for a delivery, a browser,
// the other process), so one per CPU leaves the CPUs idle, while four per
// CPU measured slower (3m21s against 2m50s for the whole suite on 2 cores):
// the servers, their databases and the browser then fight for the CPUs.
func Main(m *testing.M) {
	// Refusal tests name addresses off this machine; whatever a regression
	// lets through, the servers of this test binary dial loopback only.
	event.LoopbackOnly()
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0)))
	}
	code := m.Run()
	pgtest.Stop()
	browsertest.Stop()
	os.Exit(code)
}

// SyncBuffer collects a server's output safely across goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Creds are a merchant's identifiers and secrets as `merchant create` prints them.
type Creds struct {
	ID             string `json:"id"`
	SecretKey      string `json:"secret_key"`
	PublishableKey string `json:"publishable_key"`
	HMACSecret     string `json:"hmac_secret"`
}

// Server is one running Coffer.
type Server struct {
	T       testing.TB
	URL     string
	DataDir string
	Logs    *SyncBuffer // the server's log (stderr)
	Stdout  *SyncBuffer
	Sim     *simulator.Simulator
	Dev     Creds      // the development merchant, when this start created it
	Cfg     app.Config // as the server was started
	// SpecCheck checks every answer Do receives from a /v1 route against
	// api/openapi.yaml (CheckResponse), failing the test on a mismatch.
	// Start turns it on; a test that sends answers the spec cannot
	// describe on purpose may turn it off.
	SpecCheck bool
	cancel    context.CancelFunc
	done      chan error
}

// Option changes the configuration a server starts with.
type Option func(*app.Config)

// WithConfig applies any change to the configuration.
func WithConfig(f func(*app.Config)) Option { return Option(f) }

// WithDataDir starts the server on an existing data folder (a restart).
func WithDataDir(dir string) Option { return func(c *app.Config) { c.DataDir = dir } }

// WithDatabaseURL stores in PostgreSQL instead of the folder's SQLite.
func WithDatabaseURL(url string) Option { return func(c *app.Config) { c.DatabaseURL = url } }

// WithProcessor makes the server use any acquirer implementation.
func WithProcessor(p processor.Processor) Option { return func(c *app.Config) { c.Processor = p } }

// WithSim makes the server use sim, e.g. the same acquirer across a restart
// or between two instances.
func WithSim(sim *simulator.Simulator) Option { return func(c *app.Config) { c.Processor = sim } }

// WithChallengeTTL sets how long a 3-D Secure challenge stays open.
func WithChallengeTTL(d time.Duration) Option { return func(c *app.Config) { c.ChallengeTTL = d } }

// WithWebhookRetryBase shortens the first webhook retry's delay.
func WithWebhookRetryBase(d time.Duration) Option {
	return func(c *app.Config) { c.WebhookRetryBase = d }
}

// WithInstanceTiming shortens how fast PostgreSQL instances judge each other.
func WithInstanceTiming(beat, stale time.Duration) Option {
	return func(c *app.Config) { c.HeartbeatInterval, c.InstanceStaleAfter = beat, stale }
}

// Backends runs fn once per storage backend: SQLite always, PostgreSQL
// whenever pgtest can start one (in CI it must).
func Backends(t *testing.T, fn func(t *testing.T, opts ...Option)) {
	t.Run("sqlite", func(t *testing.T) { fn(t) })
	t.Run("postgres", func(t *testing.T) { fn(t, WithDatabaseURL(pgtest.DSN(t))) })
}

// Start runs a server until the test ends (or Stop is called).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{T: t, Logs: &SyncBuffer{}, Stdout: &SyncBuffer{}, Sim: simulator.New(), done: make(chan error, 1), SpecCheck: true}
	cfg := app.Config{Addr: "127.0.0.1:0", DataDir: TempDir(t), Stdout: s.Stdout, Stderr: s.Logs, Processor: s.Sim,
		ShutdownTimeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if sim, ok := cfg.Processor.(*simulator.Simulator); ok {
		s.Sim = sim
	}
	if cfg.DatabaseURL != "" && cfg.MasterKey == "" && cfg.KeyFile == "" {
		pgDevSetUp(t, s, &cfg)
	}
	s.DataDir, s.Cfg = cfg.DataDir, cfg
	ready := make(chan string, 1)
	cfg.OnReady = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- app.Serve(ctx, cfg) }()
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case err := <-s.done:
		t.Fatalf("server did not start: %v\nlogs:\n%s", err, s.Logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start in 30s")
	}
	if out := s.Stdout.String(); s.Dev.ID == "" && strings.Contains(out, "Development merchant created") {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s.Dev); err != nil {
			t.Fatalf("development merchant line: %v", err)
		}
	}
	t.Cleanup(s.Stop)
	return s
}

// TempDir is t.TempDir under scratch.Root (memory when it has room): where a
// server's data folder goes.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := scratch.MkdirTemp("coffer-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// pgDevSetUp gives a PostgreSQL server what the SQLite development set-up
// makes by itself, since Coffer refuses PostgreSQL without a master key and
// makes no development merchant there: a key file in the data folder (found
// again by restarts on the same folder), the webhook address policy of the
// development set-up, and on first start a "Development merchant".
func pgDevSetUp(t testing.TB, s *Server, cfg *app.Config) {
	t.Helper()
	cfg.KeyFile = filepath.Join(cfg.DataDir, app.DevKeyFile)
	if cfg.WebhooksAllowPrivate == nil {
		allow := true
		cfg.WebhooksAllowPrivate = &allow
	}
	if _, err := os.Stat(cfg.KeyFile); err == nil {
		return
	}
	if _, err := keys.CreateFile(cfg.KeyFile); err != nil {
		t.Fatal(err)
	}
	c := *cfg
	c.Stdout, c.Stderr = io.Discard, s.Logs
	dev, err := app.CreateMerchant(context.Background(), c, "Development merchant", payment.SettingsPatch{})
	if err != nil {
		t.Fatalf("creating the development merchant: %v", err)
	}
	s.Dev = Creds{ID: dev.ID, SecretKey: dev.SecretKey, PublishableKey: dev.PublishableKey, HMACSecret: dev.HMACSecret}
}

// Stop shuts the server down gracefully and waits for it.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.T.Errorf("server exited with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.T.Error("server did not shut down in 30s")
	}
}

// Restart stops the server and starts a new one on the same data.
func (s *Server) Restart(opts ...Option) *Server {
	s.Stop()
	return Start(s.T, append([]Option{WithDataDir(s.DataDir), WithDatabaseURL(s.Cfg.DatabaseURL)}, opts...)...)
}

// NewMerchant creates another merchant through the same path as the CLI.
func (s *Server) NewMerchant(name string) Creds {
	s.T.Helper()
	return s.NewMerchantWith(name, payment.SettingsPatch{})
}

// NewMerchantWith creates a merchant with settings, as `merchant create` does.
func (s *Server) NewMerchantWith(name string, settings payment.SettingsPatch) Creds {
	s.T.Helper()
	cfg := s.Cfg
	cfg.Stdout, cfg.Stderr = io.Discard, s.Logs
	c, err := app.CreateMerchant(context.Background(), cfg, name, settings)
	if err != nil {
		s.T.Fatal(err)
	}
	return Creds{ID: c.ID, SecretKey: c.SecretKey, PublishableKey: c.PublishableKey, HMACSecret: c.HMACSecret}
}

// CallbackSecret is the merchant's callback secret (GET /v1/merchant).
func (s *Server) CallbackSecret(key string) string {
	s.T.Helper()
	return s.Call("GET", "/v1/merchant", key, nil).Want(s.T, 200).Str("callback_secret")
}
