// Package e2e tests Coffer from the outside: each test starts the real server
// (app.Serve) on a free loopback port over a real database and speaks HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/keys"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
)

// syncBuffer collects a server's output safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type creds struct {
	ID             string `json:"id"`
	SecretKey      string `json:"secret_key"`
	PublishableKey string `json:"publishable_key"`
	HMACSecret     string `json:"hmac_secret"`
}

type server struct {
	t       testing.TB
	URL     string
	DataDir string
	Logs    *syncBuffer
	Stdout  *syncBuffer
	Sim     *simulator.Simulator
	Dev     creds // the development merchant, when this start created it
	cfg     app.Config
	cancel  context.CancelFunc
	done    chan error
}

type option func(*app.Config)

func withDataDir(dir string) option { return func(c *app.Config) { c.DataDir = dir } }

func withDatabaseURL(url string) option { return func(c *app.Config) { c.DatabaseURL = url } }

// withProcessorImpl makes the server use any acquirer implementation.
func withProcessorImpl(p processor.Processor) option { return func(c *app.Config) { c.Processor = p } }

// withSim makes the server use sim, e.g. the same acquirer across a restart.
func withSim(sim *simulator.Simulator) option { return func(c *app.Config) { c.Processor = sim } }

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// backends runs fn once per storage backend: SQLite always, PostgreSQL
// whenever pgtest can start one (in CI it must).
func backends(t *testing.T, fn func(t *testing.T, opts ...option)) {
	t.Run("sqlite", func(t *testing.T) { fn(t) })
	t.Run("postgres", func(t *testing.T) { fn(t, withDatabaseURL(pgtest.DSN(t))) })
}

// start runs a server until the test ends (or stop is called).
func start(t testing.TB, opts ...option) *server {
	t.Helper()
	s := &server{t: t, Logs: &syncBuffer{}, Stdout: &syncBuffer{}, Sim: simulator.New(), done: make(chan error, 1)}
	cfg := app.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Stdout: s.Stdout, Stderr: s.Logs, Processor: s.Sim,
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
	s.DataDir, s.cfg = cfg.DataDir, cfg
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
	t.Cleanup(s.stop)
	return s
}

// pgDevSetUp gives a PostgreSQL server what the SQLite development set-up
// makes by itself, since Coffer refuses PostgreSQL without a master key and
// makes no development merchant there: a key file in the data folder (found
// again by restarts on the same folder), the webhook address policy of the
// development set-up, and on first start a "Development merchant".
func pgDevSetUp(t testing.TB, s *server, cfg *app.Config) {
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
	s.Dev = creds{ID: dev.ID, SecretKey: dev.SecretKey, PublishableKey: dev.PublishableKey, HMACSecret: dev.HMACSecret}
}

// stop shuts the server down gracefully and waits for it.
func (s *server) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("server exited with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Error("server did not shut down in 30s")
	}
}

// restart stops the server and starts a new one on the same data.
func (s *server) restart() *server {
	s.stop()
	return start(s.t, withDataDir(s.DataDir), withDatabaseURL(s.cfg.DatabaseURL))
}

// resp is a decoded response.
type resp struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

var client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends one request; body may be nil, a string (sent as is) or a value (JSON).
func (s *server) call(method, path, key string, body any, hdr ...string) resp {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			s.t.Fatalf("%s %s: response is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// want fails the test unless the status matches.
func (r resp) want(t testing.TB, status int) resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// str digs a string out of the body: r.str("card", "mask").
func (r resp) str(path ...string) string {
	v, _ := dig(r.Body, path...).(string)
	return v
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// errParam returns error.type, error.code, error.param.
func (r resp) errInfo() (typ, code, param string) {
	return r.str("error", "type"), r.str("error", "code"), r.str("error", "param")
}

// card is a valid card body; Amex gets the 4-digit CVC its brand requires.
func card(number string) map[string]any {
	cvc := "123"
	if strings.HasPrefix(number, "34") || strings.HasPrefix(number, "37") {
		cvc = "1234"
	}
	return map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 5, "cvc": cvc, "holder_name": "Abu Bin Ali"}
}

func tokenize(t testing.TB, s *server, key string, body map[string]any) resp {
	t.Helper()
	return s.call("POST", "/v1/tokens", key, body)
}

// newMerchant creates a second merchant through the same path as the CLI.
func (s *server) newMerchant(name string) creds {
	s.t.Helper()
	cfg := s.cfg
	cfg.Stdout, cfg.Stderr = io.Discard, s.Logs
	c, err := app.CreateMerchant(context.Background(), cfg, name, paymentPatch())
	if err != nil {
		s.t.Fatal(err)
	}
	return creds{ID: c.ID, SecretKey: c.SecretKey, PublishableKey: c.PublishableKey, HMACSecret: c.HMACSecret}
}
