// Package stripemock runs Stripe's official mock server (stripe-mock) for
// tests, behind a recorder that keeps every request it forwards.
//
// stripe-mock validates each request against Stripe's OpenAPI spec (unknown
// or malformed parameters answer 400) and answers from fixtures. It is
// stateless: a created object does not exist afterwards, a PaymentIntent
// reads the fixture's status whatever was asked (requires_payment_method by
// default), and only some request parameters are echoed (amount, currency,
// capture_method, ids in the URL). Tests pick the statuses a scenario needs
// with WithFixtures, and assert what the code under test sent with Requests.
//
// The binary is installed with
//
//	go install github.com/stripe/stripe-mock@v0.203.0
//
// Without it Start skips the test, unless CI=true, where it fails it: a
// mandatory suite must not pass in CI by being skipped.
package stripemock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the stripe-mock release this package runs and reads fixtures from.
const Version = "v0.203.0"

// Module is stripe-mock's Go module path.
const Module = "github.com/stripe/stripe-mock"

// InstallCommand is what makes the binary available.
const InstallCommand = "go install " + Module + "@" + Version

// startTimeout bounds how long stripe-mock may take to answer its first
// request (loading the full spec takes ~10 s on a small machine).
const startTimeout = 90 * time.Second

// Server is a running stripe-mock behind a recorder.
type Server struct {
	// URL is the recorder's address (http://127.0.0.1:PORT): use it as the
	// Stripe API base URL.
	URL string
	// MockURL is stripe-mock's own plain-HTTP address, bypassing the recorder.
	MockURL string

	cmd    *exec.Cmd
	waited <-chan error // cmd's exit status, once it has exited
	rec    *recorder
}

// Option changes how Start runs stripe-mock.
type Option func(*config)

type config struct {
	fixtures func(resources map[string]any)
	paths    []string
	answers  func(req Request, answer map[string]any)
}

// WithAnswers lets edit change each JSON object stripe-mock answers, after
// stripe-mock has validated the request. stripe-mock keeps no state: a test
// that needs an object to move on (a PaymentIntent that reads succeeded
// after its capture) says so here, and only here, so what stands in for
// Stripe's state is visible in the test.
func WithAnswers(edit func(req Request, answer map[string]any)) Option {
	return func(c *config) { c.answers = edit }
}

// WithFixtures starts stripe-mock with a copy of its bundled fixtures
// (embedded/openapi/fixtures3.json in the module cache) that edit has
// changed, e.g. resources["payment_intent"].(map[string]any)["status"] =
// "requires_capture". Every answer with that resource reads the edited one.
func WithFixtures(edit func(resources map[string]any)) Option {
	return func(c *config) { c.fixtures = edit }
}

// WithPaths loads only the API paths that start with one of prefixes (with
// every schema they reference) from stripe-mock's bundled spec: requests to
// them are validated exactly as with the full spec, other paths answer 404,
// and stripe-mock starts in a third of the time.
func WithPaths(prefixes ...string) Option {
	return func(c *config) { c.paths = append(c.paths, prefixes...) }
}

// Start runs stripe-mock on free loopback ports (plain HTTP and HTTPS), puts
// the recorder in front of it, waits until it answers, and stops both when t
// ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := binary()
	if err != nil {
		unavailable(t, err)
	}
	var args []string
	if cfg.fixtures != nil || len(cfg.paths) > 0 {
		dir, err := moduleDir()
		if err != nil {
			unavailable(t, err)
		}
		if cfg.fixtures != nil {
			f, err := writeFixtures(dir, t.TempDir(), cfg.fixtures)
			if err != nil {
				t.Fatalf("stripemock: %v", err)
			}
			args = append(args, "-fixtures", f)
		}
		if len(cfg.paths) > 0 {
			f, err := writeSpec(dir, t.TempDir(), cfg.paths)
			if err != nil {
				t.Fatalf("stripemock: %v", err)
			}
			args = append(args, "-spec", f)
		}
	}

	s := &Server{}
	// A free port is found by binding to it and letting go; another process
	// may take it meanwhile, so try a few.
	for attempt := 0; ; attempt++ {
		err = s.start(bin, args)
		if err == nil {
			break
		}
		if attempt == 2 {
			t.Fatalf("stripemock: %v", err)
		}
	}
	rec, err := newRecorder(s.MockURL, cfg.answers)
	if err != nil {
		s.stop()
		t.Fatalf("stripemock: %v", err)
	}
	s.rec, s.URL = rec, rec.url
	t.Cleanup(func() {
		rec.close()
		s.stop()
	})
	return s
}

// Requests returns what the recorder forwarded so far, oldest first.
func (s *Server) Requests() []Request { return s.rec.requests() }

// Reset forgets the recorded requests.
func (s *Server) Reset() { s.rec.reset() }

func (s *Server) start(bin string, extra []string) error {
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	httpsPort, err := freePort()
	if err != nil {
		return err
	}
	args := append([]string{
		"-http-addr", "127.0.0.1:" + strconv.Itoa(httpPort),
		"-https-addr", "127.0.0.1:" + strconv.Itoa(httpsPort),
	}, extra...)
	cmd := exec.Command(bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd = cmd
	s.MockURL = "http://127.0.0.1:" + strconv.Itoa(httpPort)

	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		// stripe-mock answers a request without a key 401: it is serving
		// (and it is not another process that took the port).
		if resp, err := client.Get(s.MockURL + "/v1/refunds"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				s.waited = exited // for stop
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.kill(exited)
			return fmt.Errorf("%s did not answer within %v:\n%s", bin, startTimeout, out.String())
		}
		select {
		case err := <-exited:
			s.cmd = nil
			return fmt.Errorf("%s exited before answering (%v):\n%s", bin, err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the stripe-mock process this Server started (by its PID).
func (s *Server) stop() {
	if s.cmd != nil {
		s.kill(s.waited)
	}
}

func (s *Server) kill(exited <-chan error) {
	s.cmd.Process.Kill()
	if exited != nil {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	s.cmd = nil
}

// binary finds stripe-mock on PATH, then in $(go env GOBIN) and $(go env GOPATH)/bin.
func binary() (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	var tried []string
	if gobin := goEnv("GOBIN"); gobin != "" {
		tried = append(tried, filepath.Join(gobin, "stripe-mock"))
	}
	for _, gopath := range filepath.SplitList(goEnv("GOPATH")) {
		tried = append(tried, filepath.Join(gopath, "bin", "stripe-mock"))
	}
	for _, p := range tried {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("no stripe-mock binary: not on PATH nor in %s", strings.Join(tried, ", "))
}

// moduleDir is stripe-mock's source in the module cache, where its bundled
// spec and fixtures are.
func moduleDir() (string, error) {
	cache := goEnv("GOMODCACHE")
	if cache == "" {
		return "", errors.New("go env GOMODCACHE is empty")
	}
	dir := filepath.Join(cache, Module+"@"+Version)
	if _, err := os.Stat(filepath.Join(dir, "embedded", "openapi", "fixtures3.json")); err != nil {
		return "", fmt.Errorf("stripe-mock's module is not in the module cache (%s): %w", dir, err)
	}
	return dir, nil
}

var (
	goEnvMu    sync.Mutex
	goEnvCache = map[string]string{}
)

// goEnv is `go env NAME`, asked once per name.
func goEnv(name string) string {
	goEnvMu.Lock()
	defer goEnvMu.Unlock()
	if v, ok := goEnvCache[name]; ok {
		return v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	v := ""
	if err == nil {
		v = strings.TrimSpace(string(out))
	}
	goEnvCache[name] = v
	return v
}

// unavailable skips t, or fails it when CI=true.
func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("\n"+
		"************************************************************************\n"+
		"*** stripemock: NO STRIPE-MOCK, so the Stripe connector tests DID NOT RUN.\n"+
		"*** %v\n"+
		"*** Install it: %s\n"+
		"************************************************************************", err, InstallCommand)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "\n*** CI=true: this suite is mandatory in CI, so this is a failure.")
	}
	warnOnce.Do(func() { fmt.Fprintln(os.Stderr, msg) })
	t.Skip(msg)
}

var warnOnce sync.Once

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the process's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 64<<10 { // its verbose request log is not needed
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
