package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// A crash between a keyed request's commit and the storing of its answer:
// the retry with the same Idempotency-Key must give the answer the first
// attempt would have given — never a second object, never invalid_state for
// an operation that in fact succeeded — and must not wait out the lease of
// the attempt that died. These tests make the database look like that crash
// (as crash_test.go does); TestCrashKill, at the end, does it for real with
// SIGKILL.

// forgetAnswer makes the newest idempotency key look as if its server died
// after the request's effects committed and before its answer was stored:
// started, no response, its lease lapsed.
func forgetAnswer(t *testing.T, s *server, db *sql.DB) {
	t.Helper()
	res, err := db.Exec(`UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = 0
		WHERE created = (SELECT MAX(created) FROM idempotency_keys)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("forgetAnswer touched %d keys", n)
	}
}

// sameJSON fails unless two bodies hold the same JSON.
func sameJSON(t *testing.T, what string, a, b []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v: %s", what, err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v: %s", what, err, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	if !bytes.Equal(xa, ya) {
		t.Fatalf("%s: the retry's answer differs from the first:\n%s\n%s", what, a, b)
	}
}

func countTokens(t *testing.T, s *server, key string) int {
	t.Helper()
	return len(s.call("GET", "/v1/tokens?limit=100", key, nil).want(t, 200).Body["data"].([]any))
}

func TestCrashRetryTokenize(t *testing.T) { backends(t, testCrashRetryTokenize) }

func testCrashRetryTokenize(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	db := openDB(t, s)
	cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "c-1"}).want(t, 201).str("id")
	for _, body := range []map[string]any{
		{"card": card("4242424242424242"), "metadata": map[string]string{"k": "v"}},
		{"card": card("5555555555554444"), "customer": cus},
	} {
		before := countTokens(t, s, sk)
		first := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "tok-"+body["card"].(map[string]any)["number"].(string)).want(t, 201)
		forgetAnswer(t, s, db)
		verifications := s.Sim.Stats().Verifications
		again := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "tok-"+body["card"].(map[string]any)["number"].(string)).want(t, 201)
		sameJSON(t, "tokenize", first.Raw, again.Raw)
		if n := countTokens(t, s, sk); n != before+1 {
			t.Fatalf("after the retry: %d tokens, want %d (the retry stored the card again)", n, before+1)
		}
		if v := s.Sim.Stats().Verifications; v != verifications {
			t.Fatalf("the retry verified the card again (%d → %d verifications)", verifications, v)
		}
		// The stored answer replays as usual from now on.
		s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "tok-"+body["card"].(map[string]any)["number"].(string)).want(t, 201)
	}
	// The customer's card saved again under a new key is the same token (200), as before.
	s.call("POST", "/v1/tokens", sk, map[string]any{"card": card("5555555555554444"), "customer": cus}, "Idempotency-Key", "other").want(t, 200)
}

func TestCrashRetryBatch(t *testing.T) { backends(t, testCrashRetryBatch) }

func testCrashRetryBatch(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	db := openDB(t, s)
	body := map[string]any{"cards": []any{card("4242424242424242"), card("4000000000000002"), card("5555555555554444")}}
	first := s.call("POST", "/v1/tokens/batch", sk, body, "Idempotency-Key", "batch-1").want(t, 200)
	data := first.Body["data"].([]any)
	if dig(data[0], "token", "id") == nil || dig(data[1], "error") == nil || dig(data[2], "token", "id") == nil ||
		dig(data[0], "token", "id") == dig(data[2], "token", "id") {
		t.Fatalf("batch: %s", first.Raw)
	}
	forgetAnswer(t, s, db)
	again := s.call("POST", "/v1/tokens/batch", sk, body, "Idempotency-Key", "batch-1").want(t, 200)
	sameJSON(t, "batch", first.Raw, again.Raw)
	if n := countTokens(t, s, sk); n != 2 {
		t.Fatalf("after the retry: %d tokens, want 2", n)
	}
}

// paymentFor makes a manual-capture payment of amount with a fresh token.
func paymentFor(t *testing.T, s *server, amount int) string {
	t.Helper()
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	return s.call("POST", "/v1/payments", sk, map[string]any{"amount": amount, "token": tok, "capture": false}).want(t, 201).str("id")
}

func TestCrashRetryCapture(t *testing.T) { backends(t, testCrashRetryCapture) }

func testCrashRetryCapture(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	db := openDB(t, s)

	// Died after the capture was recorded.
	pid := paymentFor(t, s, 1000)
	path := "/v1/payments/" + pid + "/capture"
	first := s.call("POST", path, sk, map[string]any{"amount": 600}, "Idempotency-Key", "cap-1").want(t, 200)
	forgetAnswer(t, s, db)
	again := s.call("POST", path, sk, map[string]any{"amount": 600}, "Idempotency-Key", "cap-1").want(t, 200)
	sameJSON(t, "capture", first.Raw, again.Raw)
	// Another request (another key) is refused as before.
	if _, code, _ := s.call("POST", path, sk, map[string]any{"amount": 600}, "Idempotency-Key", "cap-2").want(t, 422).errInfo(); code != "invalid_state" {
		t.Fatalf("a second capture: %s", code)
	}
	s.call("POST", path, sk, nil).want(t, 422)

	// Died after the acquirer captured, before anything was recorded: the
	// payment still requires_capture under the dead attempt's claim.
	pid = paymentFor(t, s, 1000)
	path = "/v1/payments/" + pid + "/capture"
	first = s.call("POST", path, sk, nil, "Idempotency-Key", "cap-3").want(t, 200)
	captures := s.Sim.Stats().Captures
	if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'requires_capture', amount_captured = 0, amount_capturable = 1000,
		pending_op = 'capture', pending_until = ? WHERE id = ?`), time.Now().Add(time.Hour).UnixMicro(), pid); err != nil {
		t.Fatal(err)
	}
	forgetAnswer(t, s, db)
	again = s.call("POST", path, sk, nil, "Idempotency-Key", "cap-3").want(t, 200)
	if again.str("status") != "succeeded" || dig(again.Body, "amount_captured") != float64(1000) {
		t.Fatalf("capture resumed: %s", again.Raw)
	}
	if c := s.Sim.Stats().Captures; c != captures {
		t.Fatalf("the resumed capture captured again: %d → %d", captures, c)
	}
	// Someone else's claim in progress is still waited for (409), not taken.
	pid = paymentFor(t, s, 1000)
	if _, err := db.Exec(rebind(s, `UPDATE payments SET pending_op = 'capture', pending_until = ?, op_key = 'someone-else' WHERE id = ?`),
		time.Now().Add(time.Hour).UnixMicro(), pid); err != nil {
		t.Fatal(err)
	}
	s.call("POST", "/v1/payments/"+pid+"/capture", sk, nil, "Idempotency-Key", "cap-4").want(t, 409)
}

func TestCrashRetryCancel(t *testing.T) { backends(t, testCrashRetryCancel) }

func testCrashRetryCancel(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	db := openDB(t, s)

	pid := paymentFor(t, s, 700)
	path := "/v1/payments/" + pid + "/cancel"
	first := s.call("POST", path, sk, nil, "Idempotency-Key", "can-1").want(t, 200)
	forgetAnswer(t, s, db)
	again := s.call("POST", path, sk, nil, "Idempotency-Key", "can-1").want(t, 200)
	sameJSON(t, "cancel", first.Raw, again.Raw)
	s.call("POST", path, sk, nil, "Idempotency-Key", "can-2").want(t, 422)

	// Died after the acquirer voided, before anything was recorded.
	pid = paymentFor(t, s, 700)
	path = "/v1/payments/" + pid + "/cancel"
	s.call("POST", path, sk, nil, "Idempotency-Key", "can-3").want(t, 200)
	if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'requires_capture', amount_capturable = 700,
		pending_op = 'cancel', pending_until = ? WHERE id = ?`), time.Now().Add(time.Hour).UnixMicro(), pid); err != nil {
		t.Fatal(err)
	}
	forgetAnswer(t, s, db)
	again = s.call("POST", path, sk, nil, "Idempotency-Key", "can-3").want(t, 200)
	if again.str("status") != "canceled" {
		t.Fatalf("cancel resumed: %s", again.Raw)
	}
}

func TestCrashRetryRefund(t *testing.T) { backends(t, testCrashRetryRefund) }

func testCrashRetryRefund(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	db := openDB(t, s)
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	pid := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).want(t, 201).str("id")
	path := "/v1/payments/" + pid + "/refunds"
	first := s.call("POST", path, sk, map[string]any{"amount": 300}, "Idempotency-Key", "ref-1").want(t, 201)
	forgetAnswer(t, s, db)
	refunds := s.Sim.Stats().Refunds
	again := s.call("POST", path, sk, map[string]any{"amount": 300}, "Idempotency-Key", "ref-1").want(t, 201)
	sameJSON(t, "refund", first.Raw, again.Raw)
	if r := s.Sim.Stats().Refunds; r != refunds {
		t.Fatalf("the retry refunded again: %d → %d", refunds, r)
	}
	p := s.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200)
	if dig(p.Body, "amount_refunded") != float64(300) || len(p.Body["refunds"].([]any)) != 1 {
		t.Fatalf("after the retry: %s", p.Raw)
	}
}

// withInstanceTiming shortens how fast PostgreSQL instances judge each other.
func withInstanceTiming(beat, stale time.Duration) option {
	return func(c *app.Config) { c.HeartbeatInterval, c.InstanceStaleAfter = beat, stale }
}

// callWithin is call with a time limit: a retry that waits out a lease
// fails here instead of hanging the test.
func (s *server) callWithin(t *testing.T, limit time.Duration, method, path, key string, body any, hdr ...string) (resp, time.Duration) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	res, err := (&http.Client{Timeout: limit}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer within %v: %v", method, path, limit, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	json.Unmarshal(raw, &r.Body)
	return r, time.Since(start)
}

// A request in flight when its server died holds its key's lease (90 s).
// The next server takes the lease over at once — SQLite at start, PostgreSQL
// as soon as the holder's instance is known dead (left the register, or
// silent past InstanceStaleAfter) — so the retry is answered promptly.
func TestCrashLeaseTakenOver(t *testing.T) { backends(t, testCrashLeaseTakenOver) }

func testCrashLeaseTakenOver(t *testing.T, opts ...option) {
	s := start(t, append(opts, withInstanceTiming(50*time.Millisecond, 500*time.Millisecond))...)
	sk := s.Dev.SecretKey
	body := map[string]any{"card": card("4242424242424242")}
	first := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "inflight").want(t, 201)
	held := func(s *server, owner string) {
		db := openDB(t, s)
		if _, err := db.Exec(rebind(s, `UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = ?, owner = ?`),
			time.Now().Add(time.Hour).UnixMicro(), owner); err != nil {
			t.Fatal(err)
		}
	}
	held(s, "")
	if s.cfg.DatabaseURL != "" {
		// PostgreSQL: the holder is an instance that was killed: still
		// registered, its last beat a second old.
		db := openDB(t, s)
		if _, err := db.Exec(`INSERT INTO instances (id, started, beat) VALUES ('ins_killed', $1, $1)`, time.Now().Add(-time.Second).UnixMicro()); err != nil {
			t.Fatal(err)
		}
		held(s, "ins_killed")
	}
	sim := s.Sim
	s.stop()
	s2 := start(t, append(opts, withDataDir(s.DataDir), withSim(sim), withInstanceTiming(50*time.Millisecond, 500*time.Millisecond))...)
	again, took := s2.callWithin(t, 10*time.Second, "POST", "/v1/tokens", sk, body, "Idempotency-Key", "inflight")
	if again.Status != 201 || again.str("id") != first.str("id") {
		t.Fatalf("retry of the interrupted request: %d %s", again.Status, again.Raw)
	}
	if took > 5*time.Second {
		t.Fatalf("the retry was answered after %v", took)
	}
	t.Logf("retry answered in %v", took.Round(time.Millisecond))
}

// ---- the real thing: SIGKILL under load

// crashMasterKey is the fixed KEK the killed binary runs with (a test value).
const crashMasterKey = "Y29mZmVyLWNyYXNoLXRlc3QtbWFzdGVyLWtleS0zMmI="

// TestCrashKill kills the built binary with SIGKILL while keyed requests
// (tokenize; create, capture and refund a payment) run concurrently,
// restarts it, retries every request that got no answer with the same key
// and body, and checks: every retry answered within 5 s of /readyz saying
// ready, one token per tokenization key, no wrong answer (a 422 for an
// operation that succeeded, or any other failure), and amounts captured and
// refunded exactly as acknowledged.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	build := exec.Command("go", "build", "-o", bin, "github.com/coffer-vault/coffer/cmd/coffer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	backends(t, func(t *testing.T, opts ...option) {
		var cfg app.Config
		for _, o := range opts {
			o(&cfg)
		}
		testCrashKill(t, bin, cfg.DatabaseURL)
	})
}

// binServer is a running `coffer serve` binary.
type binServer struct {
	cmd    *exec.Cmd
	url    string
	out    *syncBuffer
	logs   *syncBuffer
	done   chan struct{}
	ready  time.Time // when /readyz first answered 200
	client *http.Client
}

// startBinary runs the binary on a free loopback port and waits (bounded)
// until /readyz answers 200.
// crashEnv is this process's environment without any COFFER_ setting.
func crashEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFER_") {
			env = append(env, kv)
		}
	}
	return env
}

func startBinary(t *testing.T, bin, data, dbURL string) *binServer {
	t.Helper()
	for attempt := 0; attempt < 4; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := &binServer{url: "http://" + addr, out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan struct{}),
			client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
		args := []string{"serve", "--addr", addr, "--data", data}
		if dbURL != "" {
			args = append(args, "--database-url", dbURL)
		}
		s.cmd = exec.Command(bin, args...)
		s.cmd.Env = append(crashEnv(), "COFFER_MASTER_KEY="+crashMasterKey)
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.logs
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.cmd.Wait(); close(s.done) }()
		t.Cleanup(s.kill)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-s.done:
				if strings.Contains(s.logs.String(), "address already in use") {
					deadline = time.Time{} // try another port
					continue
				}
				t.Fatalf("coffer serve exited:\n%s", s.logs.String())
			default:
			}
			if res, err := s.client.Get(s.url + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					s.ready = time.Now()
					return s
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case <-s.done:
		default:
			t.Fatalf("coffer serve was not ready within 30 s:\n%s", s.logs.String())
		}
	}
	t.Fatal("no free port for coffer serve")
	return nil
}

// kill sends SIGKILL and waits for the process to end.
func (s *binServer) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.client.CloseIdleConnections()
}

// keyedReq is one keyed request of the load and what became of it.
type keyedReq struct {
	kind       string // tokenize | create | capture | refund
	path, key  string
	body       []byte
	amount     int64 // capture and refund
	status     int
	raw        []byte
	answered   bool // by the server that was killed
	retried    bool
	retryAfter time.Duration // from the restarted server's readiness to the retry's answer
}

// sendOutcome is what one send of a keyed request came to.
type sendOutcome int

const (
	answered sendOutcome = iota
	noAnswer             // the connection failed: the server is gone
	tryLater             // a 5xx or 409 operation_in_progress: the API asks for a retry with the same key
)

// send posts r once and keeps a final answer in r.
func (s *binServer) send(r *keyedReq, sk string) sendOutcome {
	req, _ := http.NewRequest("POST", s.url+r.path, bytes.NewReader(r.body))
	req.Header.Set("Authorization", "Bearer "+sk)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", r.key)
	res, err := s.client.Do(req)
	if err != nil {
		return noAnswer
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return noAnswer
	}
	if res.StatusCode >= 500 || res.StatusCode == 409 && bytes.Contains(raw, []byte(`"operation_in_progress"`)) {
		return tryLater
	}
	r.status, r.raw = res.StatusCode, raw
	return answered
}

// sendUntilAnswered sends r until it gets a final answer, as a client
// following the API's advice does (bounded); false when the server is gone
// or kept asking for later.
func (s *binServer) sendUntilAnswered(r *keyedReq, sk string, transient *atomic.Int32) bool {
	for range 5 {
		switch s.send(r, sk) {
		case answered:
			return true
		case noAnswer:
			return false
		}
		transient.Add(1)
	}
	return false
}

// crashCounts are the figures of a crash run.
type crashCounts struct {
	requests, kills, retries, lost, double, wrong int
	transient                                     atomic.Int32 // "retry shortly" answers, retried with the same key
	maxRetry                                      time.Duration
}

func testCrashKill(t *testing.T, bin, dbURL string) {
	data := t.TempDir()
	// A production set-up (a master key is given): no development merchant
	// is made, so the merchant comes from the CLI, as an operator's would.
	args := []string{"merchant", "create", "--name", "Crash", "--json", "--data", data}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	mc := exec.Command(bin, args...)
	mc.Env = append(crashEnv(), "COFFER_MASTER_KEY="+crashMasterKey)
	out, err := mc.CombinedOutput()
	var dev creds
	if err != nil || json.Unmarshal(out, &dev) != nil || dev.SecretKey == "" {
		t.Fatalf("coffer merchant create: %v\n%s", err, out)
	}
	srv := startBinary(t, bin, data, dbURL)
	sk := dev.SecretKey
	base := &keyedReq{kind: "tokenize", path: "/v1/tokens", key: "base", body: mustJSON(t, map[string]any{"card": card("4242424242424242")})}
	if srv.send(base, sk) != answered || base.status != 201 {
		t.Fatalf("base token: %d %s", base.status, base.raw)
	}
	baseTok := jsonField(base.raw, "id")

	const cycles, workers = 3, 8
	// A chain is a tokenization, or a payment's create → capture → refund;
	// each step is sent once the one before it was answered.
	type chain struct{ reqs []*keyedReq }
	var all []*chain
	var mu sync.Mutex
	var n crashCounts
	for cycle := range cycles {
		// Kill mid-flight, after a varying amount of acknowledged work.
		threshold := int32(20 + 15*cycle)
		var acked atomic.Int32
		reached := make(chan struct{})
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ { // bounded; the kill ends it long before
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("c%d-w%d-%d", cycle, w, i)
					r := &keyedReq{kind: "create", path: "/v1/payments", key: "pay-" + id,
						body: mustJSON(t, map[string]any{"amount": 1000 + i, "token": baseTok, "capture": false})}
					if i%2 == 0 {
						r = &keyedReq{kind: "tokenize", path: "/v1/tokens", key: "tok-" + id,
							body: mustJSON(t, map[string]any{"card": card("4242424242424242"), "metadata": map[string]string{"k": "tok-" + id}})}
					}
					c := &chain{reqs: []*keyedReq{r}}
					mu.Lock()
					all = append(all, c)
					mu.Unlock()
					for {
						if !srv.sendUntilAnswered(r, sk, &n.transient) {
							return // the server died under it: retried after the restart
						}
						if acked.Add(1) == threshold {
							close(reached)
						}
						mu.Lock()
						r.answered = true
						mu.Unlock()
						if r.kind == "tokenize" || r.kind == "refund" || r.status >= 300 {
							break
						}
						pid := jsonField(c.reqs[0].raw, "id")
						if r.kind == "create" {
							r = &keyedReq{kind: "capture", path: "/v1/payments/" + pid + "/capture", key: "cap-" + id, amount: 600,
								body: mustJSON(t, map[string]any{"amount": 600})}
						} else {
							r = &keyedReq{kind: "refund", path: "/v1/payments/" + pid + "/refunds", key: "ref-" + id, amount: 250,
								body: mustJSON(t, map[string]any{"amount": 250})}
						}
						mu.Lock()
						c.reqs = append(c.reqs, r)
						mu.Unlock()
					}
				}
			}()
		}
		select {
		case <-reached:
		case <-time.After(60 * time.Second):
			t.Errorf("only %d answers within 60 s", acked.Load())
		}
		srv.kill()
		n.kills++
		close(stop)
		wg.Wait()

		srv = startBinary(t, bin, data, dbURL)
		var pending []*keyedReq
		mu.Lock()
		for _, c := range all {
			for _, r := range c.reqs {
				if !r.answered && !r.retried {
					pending = append(pending, r)
				}
			}
		}
		mu.Unlock()
		var rwg sync.WaitGroup
		for _, r := range pending {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				r.retried = true
				if srv.sendUntilAnswered(r, sk, &n.transient) {
					r.retryAfter = time.Since(srv.ready)
				} else {
					r.retryAfter = -1
				}
			}()
		}
		rwg.Wait()
		n.retries += len(pending)
		t.Logf("cycle %d: killed after %d acknowledged answers; %d requests retried", cycle, acked.Load(), len(pending))
	}

	// Check every request's final answer against the stored state.
	tokens := map[string][]string{} // metadata k → token ids
	for after := ""; ; {
		page := srv.get(t, sk, "/v1/tokens?limit=100"+after)
		for _, v := range page["data"].([]any) {
			if k, _ := dig(v, "metadata", "k").(string); k != "" {
				tokens[k] = append(tokens[k], dig(v, "id").(string))
			}
		}
		if page["has_more"] != true {
			break
		}
		d := page["data"].([]any)
		after = "&starting_after=" + dig(d[len(d)-1], "id").(string)
	}
	fail := func(format string, args ...any) { t.Errorf(format, args...) }
	for _, c := range all {
		chain := c.reqs
		for _, r := range chain {
			n.requests++
			if r.retried {
				if r.retryAfter < 0 {
					fail("%s %s: no answer after the restart", r.kind, r.key)
					n.lost++
					continue
				}
				n.maxRetry = max(n.maxRetry, r.retryAfter)
			}
			want := map[string]int{"tokenize": 201, "create": 201, "capture": 200, "refund": 201}[r.kind]
			if r.status != want {
				n.wrong++
				fail("%s %s (retried %v): %d %s", r.kind, r.key, r.retried, r.status, r.raw)
			}
		}
		first := chain[0]
		if first.kind == "tokenize" {
			ids := tokens[first.key]
			switch {
			case len(ids) > 1:
				n.double++
				fail("tokenization %s stored %d tokens", first.key, len(ids))
			case first.status == 201 && (len(ids) == 0 || ids[0] != jsonField(first.raw, "id")):
				n.lost++
				fail("tokenization %s answered %s, stored %v", first.key, jsonField(first.raw, "id"), ids)
			}
			continue
		}
		if first.status != 201 {
			continue
		}
		p := srv.get(t, sk, "/v1/payments/"+jsonField(first.raw, "id"))
		var captured, refunded int64
		refunds, unknown := 0, false
		for _, r := range chain[1:] {
			switch {
			case r.retried && r.retryAfter < 0:
				unknown = true // unanswered (counted above): what it did is not known
			case r.kind == "capture" && r.status == 200:
				captured = r.amount
			case r.kind == "refund" && r.status == 201:
				refunded, refunds = r.amount, 1
			}
		}
		if unknown {
			continue
		}
		gotCap, gotRef := int64(dig(p, "amount_captured").(float64)), int64(dig(p, "amount_refunded").(float64))
		if gotCap > captured || gotRef > refunded || len(p["refunds"].([]any)) > refunds {
			n.double++
			fail("payment %s: captured %d refunded %d (%d refunds); acknowledged %d, %d", first.key, gotCap, gotRef, len(p["refunds"].([]any)), captured, refunded)
		} else if gotCap < captured || gotRef < refunded {
			n.lost++
			fail("payment %s: captured %d refunded %d; acknowledged %d, %d", first.key, gotCap, gotRef, captured, refunded)
		}
	}
	for k, ids := range tokens {
		if !strings.HasPrefix(k, "tok-") {
			continue
		}
		found := false
		for _, c := range all {
			found = found || c.reqs[0].key == k
		}
		if !found {
			n.double++
			fail("token %v stored under a key nobody sent: %s", ids, k)
		}
	}
	t.Logf("crash run: %d keyed requests, %d kills, %d retries, %d lost, %d double, %d wrong answers, slowest retry %v after ready (%d \"retry shortly\" answers retried)",
		n.requests, n.kills, n.retries, n.lost, n.double, n.wrong, n.maxRetry.Round(time.Millisecond), n.transient.Load())
	if n.maxRetry > 5*time.Second {
		t.Errorf("a retry was answered %v after the server was ready (want ≤ 5 s)", n.maxRetry)
	}
	if n.retries == 0 {
		t.Errorf("no request was in flight at any kill: the test proved nothing")
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(15 * time.Second):
		t.Error("coffer serve did not stop within 15 s of SIGTERM")
	}
}

func (s *binServer) get(t *testing.T, sk, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+sk)
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	return v
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonField(raw []byte, k string) string {
	var m map[string]any
	json.Unmarshal(raw, &m)
	v, _ := m[k].(string)
	return v
}
