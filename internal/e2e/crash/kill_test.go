package crash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// The real thing: SIGKILL under load.

// masterKey is the fixed KEK the killed binary runs with (a test value).
const masterKey = "Y29mZmVyLWNyYXNoLXRlc3QtbWFzdGVyLWtleS0zMmI="

// TestCrashKill kills the built binary with SIGKILL while keyed requests
// (tokenize; create, capture and refund a payment) and unkeyed sales of a
// saved card (then refunded, keyed) run concurrently,
// restarts it, retries every request that got no answer with the same key
// and body, and checks: every retry answered within 5 s of /readyz saying
// ready, one token per tokenization key, no wrong answer (a 422 for an
// operation that succeeded, or any other failure), and amounts captured and
// refunded exactly as acknowledged. An unkeyed sale cannot be retried, so
// one that got no answer is not checked; one that did must be captured, and
// its refund proves the acquirer's books hold the capture (an unkeyed sale
// records its payment without waiting for it: see Payments.queueRecord).
func TestCrashKill(t *testing.T) {
	// Not parallel: it checks every retry is answered within 5 s of the
	// restarted binary being ready, which other tests' load would blur.
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	build := exec.Command("go", "build", "-o", bin, "github.com/coffer-vault/coffer/cmd/coffer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
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
	out    *harness.SyncBuffer
	logs   *harness.SyncBuffer
	done   chan struct{}
	ready  time.Time // when /readyz first answered 200
	client *http.Client
}

// startBinary runs the binary on a free loopback port and waits (bounded)
// until /readyz answers 200.
// environ is this process's environment without any COFFER_ setting.
func environ() []string { return harness.Environ() }

func startBinary(t *testing.T, bin, data, dbURL string) *binServer {
	t.Helper()
	for attempt := 0; attempt < 4; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := &binServer{url: "http://" + addr, out: &harness.SyncBuffer{}, logs: &harness.SyncBuffer{}, done: make(chan struct{}),
			client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
		args := []string{"serve", "--addr", addr, "--data", data}
		if dbURL != "" {
			args = append(args, "--database-url", dbURL)
		}
		s.cmd = exec.Command(bin, args...)
		s.cmd.Env = append(environ(), "COFFER_MASTER_KEY="+masterKey)
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
	kind       string // tokenize | create | sale | capture | refund
	path, key  string // key labels an unkeyed request too
	unkeyed    bool   // sent without an Idempotency-Key (a sale)
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
	if !r.unkeyed {
		req.Header.Set("Idempotency-Key", r.key)
	}
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

// runCounts are the figures of a crash run.
type runCounts struct {
	requests, kills, retries, lost, double, wrong, sales int
	transient                                            atomic.Int32 // "retry shortly" answers, retried with the same key
	maxRetry                                             time.Duration
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
	mc.Env = append(environ(), "COFFER_MASTER_KEY="+masterKey)
	out, err := mc.CombinedOutput()
	var dev harness.Creds
	if err != nil || json.Unmarshal(out, &dev) != nil || dev.SecretKey == "" {
		t.Fatalf("coffer merchant create: %v\n%s", err, out)
	}
	srv := startBinary(t, bin, data, dbURL)
	sk := dev.SecretKey
	base := &keyedReq{kind: "tokenize", path: "/v1/tokens", key: "base", body: harness.MustJSON(t, map[string]any{"card": harness.Card("4242424242424242")})}
	if srv.send(base, sk) != answered || base.status != 201 {
		t.Fatalf("base token: %d %s", base.status, base.raw)
	}
	baseTok := harness.JSONField(base.raw, "id")

	const cycles, workers = 3, 8
	// A chain is a tokenization, or a payment's create → capture → refund;
	// each step is sent once the one before it was answered.
	type chain struct{ reqs []*keyedReq }
	var all []*chain
	var mu sync.Mutex
	var n runCounts
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
						body: harness.MustJSON(t, map[string]any{"amount": 1000 + i, "token": baseTok, "capture": false})}
					if i%4 == 1 {
						r = &keyedReq{kind: "sale", path: "/v1/payments", key: "sale-" + id, unkeyed: true, amount: int64(1000 + i),
							body: harness.MustJSON(t, map[string]any{"amount": 1000 + i, "token": baseTok, "capture": true})}
					}
					if i%2 == 0 {
						r = &keyedReq{kind: "tokenize", path: "/v1/tokens", key: "tok-" + id,
							body: harness.MustJSON(t, map[string]any{"card": harness.Card("4242424242424242"), "metadata": map[string]string{"k": "tok-" + id}})}
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
						pid := harness.JSONField(c.reqs[0].raw, "id")
						if r.kind == "create" {
							r = &keyedReq{kind: "capture", path: "/v1/payments/" + pid + "/capture", key: "cap-" + id, amount: 600,
								body: harness.MustJSON(t, map[string]any{"amount": 600})}
						} else {
							r = &keyedReq{kind: "refund", path: "/v1/payments/" + pid + "/refunds", key: "ref-" + id, amount: 250,
								body: harness.MustJSON(t, map[string]any{"amount": 250})}
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
				if !r.answered && !r.retried && !r.unkeyed { // an unkeyed retry would be another payment
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
			if k, _ := harness.Dig(v, "metadata", "k").(string); k != "" {
				tokens[k] = append(tokens[k], harness.Dig(v, "id").(string))
			}
		}
		if page["has_more"] != true {
			break
		}
		d := page["data"].([]any)
		after = "&starting_after=" + harness.Dig(d[len(d)-1], "id").(string)
	}
	fail := func(format string, args ...any) { t.Errorf(format, args...) }
	for _, c := range all {
		chain := c.reqs
		if chain[0].unkeyed && !chain[0].answered {
			continue // unanswered and not retried: its client cannot know what it did
		}
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
			want := map[string]int{"tokenize": 201, "create": 201, "sale": 201, "capture": 200, "refund": 201}[r.kind]
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
			case first.status == 201 && (len(ids) == 0 || ids[0] != harness.JSONField(first.raw, "id")):
				n.lost++
				fail("tokenization %s answered %s, stored %v", first.key, harness.JSONField(first.raw, "id"), ids)
			}
			continue
		}
		if first.status != 201 {
			continue
		}
		p := srv.get(t, sk, "/v1/payments/"+harness.JSONField(first.raw, "id"))
		var captured, refunded int64
		refunds, unknown := 0, false
		if first.kind == "sale" {
			captured = first.amount
			n.sales++
		}
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
		gotCap, gotRef := int64(harness.Dig(p, "amount_captured").(float64)), int64(harness.Dig(p, "amount_refunded").(float64))
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
	t.Logf("crash run: %d requests (%d acknowledged unkeyed sales checked), %d kills, %d retries, %d lost, %d double, %d wrong answers, slowest retry %v after ready (%d \"retry shortly\" answers retried)",
		n.requests, n.sales, n.kills, n.retries, n.lost, n.double, n.wrong, n.maxRetry.Round(time.Millisecond), n.transient.Load())
	if n.maxRetry > 5*time.Second {
		t.Errorf("a retry was answered %v after the server was ready (want ≤ 5 s)", n.maxRetry)
	}
	if n.retries == 0 {
		t.Errorf("no request was in flight at any kill: the test proved nothing")
	}
	if n.sales == 0 {
		t.Errorf("no unkeyed sale was acknowledged: the test proved nothing of them")
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
