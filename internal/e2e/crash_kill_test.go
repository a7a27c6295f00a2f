package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// A crash between a keyed request's commit and the storing of its answer:
// the retry with the same Idempotency-Key must give the answer the first
// attempt would have given — never a second object, never invalid_state for
// an operation that in fact succeeded — and must not wait out the lease of
// the attempt that died. These tests make the database look like that crash
// (as crash_test.go does); TestCrashKill (crash_kill_binary_test.go) does it
// for real with SIGKILL.

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
