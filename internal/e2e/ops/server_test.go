package ops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// server is one `coffer serve` process this test started; signals go to it
// alone, by its pid.
type server struct {
	cmd            *exec.Cmd
	url            string
	client         *http.Client
	stdout, stderr *harness.SyncBuffer
	done           chan struct{}
	err            error
}

// environ is this process's environment without any COFFER_ setting, plus extra.
func environ(extra ...string) []string { return harness.Environ(extra...) }

// run runs a short coffer command (bounded to a minute) and returns its
// output and exit code.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return harness.RunCommand(t, coffer(t), "", environ(env...), args...)
}

// serve starts `coffer serve` on a free loopback port with args and env and
// waits (bounded) until GET /healthz through client answers 200. A port
// taken by someone else between picking and binding is retried.
func serve(t *testing.T, env []string, scheme string, client *http.Client, args ...string) *server {
	t.Helper()
	for attempt := 0; attempt < 4; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := &server{url: scheme + "://" + addr, client: client, stdout: &harness.SyncBuffer{}, stderr: &harness.SyncBuffer{},
			done: make(chan struct{})}
		s.cmd = exec.Command(coffer(t), append([]string{"serve", "--addr", addr}, args...)...)
		s.cmd.Env = environ(env...)
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
		if s.waitHealthy(t) {
			return s
		}
	}
	t.Fatal("coffer serve found no free port")
	return nil
}

// waitHealthy polls /healthz for up to 30 s; false when the port was taken.
func (s *server) waitHealthy(t *testing.T) bool {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.done:
			if strings.Contains(s.stderr.String(), "address already in use") {
				return false
			}
			t.Fatalf("coffer serve exited: %v\nstderr: %s", s.err, s.stderr.String())
		default:
		}
		if res, err := s.client.Get(s.url + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return true
			}
		}
	}
	t.Fatalf("coffer serve did not answer /healthz within 30 s\nstderr: %s", s.stderr.String())
	return false
}

// stop sends SIGTERM and wants a clean exit within 15 s.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("coffer serve exited with %v after SIGTERM\nstderr: %s", s.err, s.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("coffer serve did not exit within 15 s of SIGTERM")
	}
	s.client.CloseIdleConnections()
}

// call sends one request and returns the status and body (status 0 when
// the request got no answer).
func (s *server) call(method, path, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// logged reports whether a JSON log line of the level has a message containing text.
func (s *server) logged(level, text string) bool {
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == level && strings.Contains(fmt.Sprint(rec["msg"]), text) {
			return true
		}
	}
	return false
}

// waitLog waits (bounded) until the server logs text at level.
func (s *server) waitLog(t *testing.T, level, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s.logged(level, text) {
			return
		}
	}
	t.Fatalf("no %s log %q within 10 s\nstderr: %s", level, text, s.stderr.String())
}

// devMerchant is the development merchant's secret key, printed on first start.
func (s *server) devMerchant(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(s.stdout.String(), "\n") {
		var c harness.Creds
		if json.Unmarshal([]byte(line), &c) == nil && strings.HasPrefix(c.SecretKey, "sk_") {
			return c.SecretKey
		}
	}
	t.Fatalf("no development merchant on stdout: %q", s.stdout.String())
	return ""
}

// decode is a JSON body as a map (nil when it is not an object).
func decode(b []byte) map[string]any {
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}
