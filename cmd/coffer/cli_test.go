package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCLI drives the real coffer binary the way an operator does: version,
// serve on a fresh folder, merchant create/update and keys rotate while the
// server runs, a graceful SIGTERM under load, and restarts on the same folder.
func TestCLI(t *testing.T) {
	bin := cliBuild(t)

	t.Run("version", func(t *testing.T) {
		out, errOut, code := cliRun(t, bin, "version")
		if code != 0 || !strings.HasPrefix(out, "coffer ") || len(strings.Fields(out)) != 2 || errOut != "" {
			t.Fatalf("coffer version: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("unknown command", func(t *testing.T) {
		for _, args := range [][]string{{"frobnicate"}, {}, {"merchant", "destroy"}, {"keys"}} {
			out, errOut, code := cliRun(t, bin, args...)
			if code == 0 || !strings.Contains(errOut, "usage:") || !strings.Contains(errOut, "coffer serve") || out != "" {
				t.Errorf("coffer %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
		}
	})

	t.Run("serve", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "coffer-data") // serve must create it
		srv := cliServe(t, bin, data)

		// The development merchant, printed once.
		dev := srv.devMerchant(t)
		if !strings.HasPrefix(dev.ID, "mer_") || !strings.HasPrefix(dev.SecretKey, "sk_") || !strings.HasPrefix(dev.PublishableKey, "pk_") || dev.HMACSecret == "" {
			t.Fatalf("development merchant: %+v\nstdout: %s", dev, srv.stdout.String())
		}
		// Files and the loud warning.
		cliMode(t, data, 0o700|os.ModeDir)
		cliMode(t, filepath.Join(data, "master.key"), 0o600)
		cliMode(t, filepath.Join(data, "coffer.db"), 0o600)
		for _, f := range []string{"coffer.db-wal", "coffer.db-shm"} {
			if _, err := os.Stat(filepath.Join(data, f)); err == nil {
				cliMode(t, filepath.Join(data, f), 0o600)
			}
		}
		if !srv.logged(t, "WARN", "DEVELOPMENT KEY FILE CREATED") {
			t.Errorf("no loud development-key warning in the log:\n%s", srv.stderr.String())
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if st, body := srv.do(t, "GET", p, "", nil); st != 200 {
				t.Errorf("GET %s: %d %s", p, st, body)
			}
		}
		dk := dev.SecretKey
		tokOld := srv.tokenize(t, dk, "4242424242424242", "123")

		// merchant create while the server runs: exactly the four fields, and the key works.
		shop := cliMerchantCreate(t, bin, data, "Shop")
		st, body := srv.do(t, "GET", "/v1/merchant", shop.SecretKey, nil)
		var m map[string]any
		json.Unmarshal(body, &m)
		if st != 200 || m["id"] != shop.ID || m["name"] != "Shop" || m["publishable_key"] != shop.PublishableKey {
			t.Fatalf("GET /v1/merchant with the new key: %d %s", st, body)
		}
		if m["require_cvc_for_saved_cards"] != false {
			t.Fatalf("default require_cvc_for_saved_cards: %s", body)
		}
		shopTok := srv.tokenize(t, shop.SecretKey, "5555555555554444", "321")

		// merchant update changes what the running server sees.
		out, errOut, code := cliRun(t, bin, "merchant", "update", "--id", shop.ID, "--data", data, "--require-cvc-for-saved-cards", "true", "--json")
		if code != 0 {
			t.Fatalf("merchant update: exit %d\n%s\n%s", code, out, errOut)
		}
		var upd map[string]any
		if err := json.Unmarshal([]byte(out), &upd); err != nil || upd["id"] != shop.ID {
			t.Fatalf("merchant update --json printed %q (%v)", out, err)
		}
		// The server may cache a merchant briefly (a few seconds) for
		// authentication; the change made by another process must show
		// within that bound.
		for upd := time.Now(); ; time.Sleep(50 * time.Millisecond) {
			st, body = srv.do(t, "GET", "/v1/merchant", shop.SecretKey, nil)
			m = nil
			json.Unmarshal(body, &m)
			if st == 200 && m["require_cvc_for_saved_cards"] == true {
				if d := time.Since(upd); d > 100*time.Millisecond {
					t.Logf("merchant update became visible to the running server after %v", d.Round(10*time.Millisecond))
				}
				break
			}
			if st != 200 || time.Since(upd) > 5*time.Second {
				t.Fatalf("after merchant update (waited %v): %d %s", time.Since(upd).Round(time.Millisecond), st, body)
			}
		}
		if _, errOut, code := cliRun(t, bin, "merchant", "update", "--id", shop.ID, "--data", data, "--require-cvc-for-saved-cards", "maybe"); code == 0 || errOut == "" {
			t.Errorf("a bad setting value must fail: exit %d", code)
		}
		if _, _, code := cliRun(t, bin, "merchant", "update", "--id", "mer_doesnotexist00000000000000", "--data", data, "--require-cvc-for-saved-cards", "true"); code == 0 {
			t.Errorf("updating an unknown merchant must fail")
		}
		// senangPay's legacy auth: a comma-separated allowlist, validated.
		out, errOut, code = cliRun(t, bin, "merchant", "update", "--id", shop.ID, "--data", data, "--json",
			"--senangpay-legacy-auth", "true", "--senangpay-legacy-auth-cidrs", "203.0.113.9/24, 127.0.0.1/32")
		if code != 0 || !strings.Contains(out, `"senangpay_legacy_auth":true`) || !strings.Contains(out, `"senangpay_legacy_auth_cidrs":["203.0.113.0/24","127.0.0.1/32"]`) {
			t.Errorf("merchant update with senangPay legacy auth: exit %d\n%s\n%s", code, out, errOut)
		}
		if _, errOut, code := cliRun(t, bin, "merchant", "update", "--id", shop.ID, "--data", data, "--senangpay-legacy-auth-cidrs", "localhost"); code == 0 || !strings.Contains(errOut, "senangpay_legacy_auth_cidrs") {
			t.Errorf("a bad CIDR must fail naming the setting: exit %d %s", code, errOut)
		}
		out, errOut, code = cliRun(t, bin, "merchant", "update", "--id", shop.ID, "--data", data, "--json",
			"--senangpay-legacy-auth", "false", "--senangpay-legacy-auth-cidrs", "")
		if code != 0 || !strings.Contains(out, `"senangpay_legacy_auth":false`) || !strings.Contains(out, `"senangpay_legacy_auth_cidrs":[]`) {
			t.Errorf("merchant update clearing senangPay legacy auth: exit %d\n%s\n%s", code, out, errOut)
		}

		// Graceful shutdown under load.
		acked := srv.sigtermUnderLoad(t, dk)

		// Restart: no new development merchant; everything acknowledged is there.
		srv = cliServe(t, bin, data)
		if strings.Contains(srv.stdout.String(), "Development merchant") {
			t.Errorf("a restart printed a new development merchant:\n%s", srv.stdout.String())
		}
		for _, id := range append([]string{tokOld}, acked...) {
			if st, body := srv.do(t, "GET", "/v1/tokens/"+id, dk, nil); st != 200 {
				t.Errorf("token %s acknowledged before shutdown is gone: %d %s", id, st, body)
			}
		}
		if st, body := srv.do(t, "GET", "/v1/tokens/"+shopTok, shop.SecretKey, nil); st != 200 {
			t.Errorf("shop token after restart: %d %s", st, body)
		}
		srv.validate(t, dk, tokOld, "")

		// Key rotation while the server runs.
		out, errOut, code = cliRun(t, bin, "keys", "rotate", "--data", data)
		if code != 0 || !strings.Contains(out, "version 2 is now current") {
			t.Fatalf("keys rotate: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		cliMode(t, filepath.Join(data, "master.key"), 0o600)
		var ring struct {
			Current uint32 `json:"current"`
		}
		if b, err := os.ReadFile(filepath.Join(data, "master.key")); err != nil || json.Unmarshal(b, &ring) != nil || ring.Current != 2 {
			t.Errorf("key file after rotation: current %d (%v)", ring.Current, err)
		}
		srv.validate(t, dk, tokOld, "123") // written under version 1
		srv.validate(t, shop.SecretKey, shopTok, "321")
		newTok := srv.tokenize(t, dk, "378282246310005", "1234")
		srv.validate(t, dk, newTok, "")
		after := cliMerchantCreate(t, bin, data, "After rotation") // its data keys are wrapped under version 2
		afterTok := srv.tokenize(t, after.SecretKey, "3566002020360505", "456")
		srv.validate(t, after.SecretKey, afterTok, "456")

		// And all of it after a restart.
		srv.stop(t)
		srv = cliServe(t, bin, data)
		srv.validate(t, dk, tokOld, "")
		srv.validate(t, dk, newTok, "1234")
		srv.validate(t, after.SecretKey, afterTok, "")
		srv.validate(t, shop.SecretKey, shopTok, "")
		srv.stop(t)
	})
}

// cliServer is a running `coffer serve`.
type cliServer struct {
	cmd            *exec.Cmd
	url            string
	stdout, stderr *cliBuffer
	done           chan struct{}
	err            error // from Wait, once done is closed
	client         *http.Client
}

type cliCreds struct {
	ID             string `json:"id"`
	SecretKey      string `json:"secret_key"`
	PublishableKey string `json:"publishable_key"`
	HMACSecret     string `json:"hmac_secret"`
}

// cliBuffer is a goroutine-safe output sink.
type cliBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *cliBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *cliBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// cliBinary is the coffer binary, built once per test binary (the first
// cliBuild) into a folder TestMain removes.
var cliBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// cliBuild compiles this package into a temporary binary, once.
func cliBuild(t *testing.T) string {
	t.Helper()
	cliBinary.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			cliBinary.err = fmt.Errorf("the CLI test builds the binary and needs go on PATH: %w", err)
			return
		}
		if cliBinary.dir, err = os.MkdirTemp("", "coffer-cli-test-"); err != nil {
			cliBinary.err = err
			return
		}
		cliBinary.path = filepath.Join(cliBinary.dir, "coffer")
		cmd := exec.Command(goBin, "build", "-o", cliBinary.path, ".")
		cmd.Env = cliEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			cliBinary.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if cliBinary.err != nil {
		t.Fatal(cliBinary.err)
	}
	return cliBinary.path
}

// cliEnv is the test's environment without any COFFER_ setting.
func cliEnv() []string { return harness.Environ() }

// cliRun runs a short command and returns its output and exit code.
func cliRun(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return harness.RunCommand(t, bin, "", harness.Environ(), args...)
}

func cliMerchantCreate(t *testing.T, bin, data, name string) cliCreds {
	t.Helper()
	out, errOut, code := cliRun(t, bin, "merchant", "create", "--name", name, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("merchant create: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("merchant create --json must print one JSON line, got %q", out)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatalf("merchant create --json: %v: %q", err, out)
	}
	if len(fields) != 4 {
		t.Fatalf("merchant create --json must print exactly id, secret_key, publishable_key, hmac_secret: %s", out)
	}
	var c cliCreds
	json.Unmarshal([]byte(out), &c)
	if !strings.HasPrefix(c.ID, "mer_") || !strings.HasPrefix(c.SecretKey, "sk_") || !strings.HasPrefix(c.PublishableKey, "pk_") || c.HMACSecret == "" {
		t.Fatalf("merchant create --json: %s", out)
	}
	return c
}

// cliFreePort finds a loopback port nobody listens on.
func cliFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// cliServe starts `coffer serve` on a free port and waits until /healthz
// answers. The port is picked by listening on :0 and closing, so another
// process may take it meanwhile: that case is retried.
func cliServe(t *testing.T, bin, data string) *cliServer {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s, busy := cliTryServe(t, bin, data)
		if s != nil {
			return s
		}
		if !busy || attempt == 3 {
			t.Fatal("coffer serve did not start")
		}
	}
}

func cliTryServe(t *testing.T, bin, data string) (srv *cliServer, portBusy bool) {
	t.Helper()
	addr := cliFreePort(t)
	s := &cliServer{url: "http://" + addr, stdout: &cliBuffer{}, stderr: &cliBuffer{}, done: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	s.cmd = exec.Command(bin, "serve", "--addr", addr, "--data", data)
	s.cmd.Env = cliEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			if strings.Contains(s.stderr.String(), "address already in use") {
				return nil, true
			}
			t.Fatalf("coffer serve exited: %v\nstdout: %s\nstderr: %s", s.err, s.stdout.String(), s.stderr.String())
		default:
		}
		if res, err := s.client.Get(s.url + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s, false
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("coffer serve did not answer /healthz in 20s\nstderr: %s", s.stderr.String())
	return nil, false
}

// stop sends SIGTERM and wants a clean exit within 10 s.
func (s *cliServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.wait(t)
}

func (s *cliServer) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("coffer serve exited with %v after SIGTERM\nstderr tail: %s", s.err, cliTail(s.stderr.String()))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("coffer serve did not exit within 10 s of SIGTERM")
	}
}

func (s *cliServer) devMerchant(t *testing.T) cliCreds {
	t.Helper()
	out := s.stdout.String()
	if !strings.Contains(out, "Development merchant created") {
		t.Fatalf("no development merchant on stdout: %q", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "{") {
			var c cliCreds
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("development merchant JSON: %v: %q", err, line)
			}
			return c
		}
	}
	t.Fatalf("no JSON credentials on stdout: %q", out)
	return cliCreds{}
}

// logged reports whether a JSON log line of the level has msg containing text.
func (s *cliServer) logged(t *testing.T, level, text string) bool {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["level"] == level && strings.Contains(fmt.Sprint(rec["msg"]), text) {
			return true
		}
	}
	return false
}

func (s *cliServer) do(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	res, err := s.client.Do(harness.NewRequest(t, s.url, method, path, key, body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func cliCard(number, cvc string) map[string]any {
	return map[string]any{"card": map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 4, "cvc": cvc}}
}

func (s *cliServer) tokenize(t *testing.T, key, number, cvc string) string {
	t.Helper()
	st, body := s.do(t, "POST", "/v1/tokens", key, cliCard(number, cvc))
	var tok struct{ ID, Status string }
	json.Unmarshal(body, &tok)
	if st != 201 || !strings.HasPrefix(tok.ID, "tok_") || tok.Status != "active" {
		t.Fatalf("tokenize: %d %s", st, body)
	}
	return tok.ID
}

func (s *cliServer) validate(t *testing.T, key, tok, cvc string) {
	t.Helper()
	var body any
	if cvc != "" {
		body = map[string]any{"cvc": cvc}
	}
	st, raw := s.do(t, "POST", "/v1/tokens/"+tok+"/validate", key, body)
	var v struct {
		Valid    bool   `json:"valid"`
		CVCCheck string `json:"cvc_check"`
	}
	json.Unmarshal(raw, &v)
	if st != 200 || !v.Valid || (cvc != "" && v.CVCCheck != "pass") {
		t.Fatalf("validate %s: %d %s\nstderr tail: %s", tok, st, raw, cliTail(s.stderr.String()))
	}
}

// sigtermUnderLoad keeps 50 clients tokenizing, sends SIGTERM once the burst
// is under way, and checks that every answer was a 2xx, that the only
// failures are connections refused or closed after shutdown began, and that
// the process exits 0 within 10 s. It returns the tokens acknowledged.
func (s *cliServer) sigtermUnderLoad(t *testing.T, key string) []string {
	t.Helper()
	const clients, perClient = 50, 40
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var (
		mu       sync.Mutex
		acked    []string
		answered int
		late     int // answers that arrived after the signal: requests in flight finished
		refused  int
		sigAt    time.Time
		problems []string
	)
	started := make(chan struct{})
	var startOnce sync.Once
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				number := card.CompleteLuhn(fmt.Sprintf("49%04d%09d", c, i))
				b, _ := json.Marshal(cliCard(number, "123"))
				req, _ := http.NewRequest("POST", s.url+"/v1/tokens", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				now := time.Now()
				if err != nil {
					mu.Lock()
					if sigAt.IsZero() || now.Before(sigAt) {
						problems = append(problems, fmt.Sprintf("request failed before shutdown began: %v", err))
					} else if !cliCleanClose(err) {
						problems = append(problems, fmt.Sprintf("request failed uncleanly during shutdown: %v", err))
					} else {
						refused++
					}
					mu.Unlock()
					return // the server is going away
				}
				raw, rerr := io.ReadAll(res.Body)
				res.Body.Close()
				var tok struct{ ID string }
				json.Unmarshal(raw, &tok)
				mu.Lock()
				switch {
				case rerr != nil:
					problems = append(problems, fmt.Sprintf("response body cut off: %v", rerr))
				case res.StatusCode/100 != 2:
					problems = append(problems, fmt.Sprintf("status %d: %s", res.StatusCode, raw))
				default:
					acked = append(acked, tok.ID)
				}
				answered++
				if !sigAt.IsZero() {
					late++
				}
				if answered >= clients {
					startOnce.Do(func() { close(started) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the burst did not get going")
	}
	mu.Lock()
	sigAt = time.Now()
	mu.Unlock()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.wait(t)
	t.Logf("exited %v after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(acked) >= clients*perClient {
		t.Logf("note: every request finished before the signal took effect (%d)", len(acked))
	}
	if !s.logged(t, "INFO", "shutdown complete") {
		t.Errorf("no \"shutdown complete\" in the log:\n%s", cliTail(s.stderr.String()))
	}
	if late == 0 {
		t.Errorf("no request in flight at SIGTERM was answered")
	}
	t.Logf("graceful shutdown: %d requests acknowledged (%d after SIGTERM), %d refused or closed, %d problems", len(acked), late, refused, len(problems))
	return acked
}

// cliCleanClose: the connection was refused or closed before any response
// bytes — what a client sees from a server that stopped accepting work.
func cliCleanClose(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "server closed idle connection") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "connection reset") || strings.HasSuffix(msg, ": EOF")
}

func cliMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

func cliTail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
