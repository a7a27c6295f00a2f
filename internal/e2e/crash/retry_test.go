package crash

import (
	"database/sql"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// A crash between a keyed request's commit and the storing of its answer:
// the retry with the same Idempotency-Key must give the answer the first
// attempt would have given — never a second object, never invalid_state for
// an operation that in fact succeeded — and must not wait out the lease of
// the attempt that died. These tests make the database look like that crash
// (as interrupted_test.go does); TestCrashKill (kill_test.go) does it for
// real with SIGKILL.

// forgetAnswer makes the newest idempotency key look as if its server died
// after the request's effects committed and before its answer was stored:
// started, no response, its lease lapsed.
func forgetAnswer(t *testing.T, s *harness.Server, db *sql.DB) {
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

func TestCrashRetryTokenize(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCrashRetryTokenize)
}

func testCrashRetryTokenize(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	db := s.OpenDB(t)
	cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "c-1"}).Want(t, 201).Str("id")
	for _, body := range []map[string]any{
		{"card": harness.Card("4242424242424242"), "metadata": map[string]string{"k": "v"}},
		{"card": harness.Card("5555555555554444"), "customer": cus},
	} {
		before := len(s.TokenIDs(t, sk))
		first := s.Call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "tok-"+body["card"].(map[string]any)["number"].(string)).Want(t, 201)
		forgetAnswer(t, s, db)
		verifications := s.Sim.Stats().Verifications
		again := s.Call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "tok-"+body["card"].(map[string]any)["number"].(string)).Want(t, 201)
		harness.SameJSON(t, "tokenize", first.Raw, again.Raw)
		if n := len(s.TokenIDs(t, sk)); n != before+1 {
			t.Fatalf("after the retry: %d tokens, want %d (the retry stored the card again)", n, before+1)
		}
		if v := s.Sim.Stats().Verifications; v != verifications {
			t.Fatalf("the retry verified the card again (%d → %d verifications)", verifications, v)
		}
		// The stored answer replays as usual from now on.
		s.Call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "tok-"+body["card"].(map[string]any)["number"].(string)).Want(t, 201)
	}
	// The customer's card saved again under a new key is the same token (200), as before.
	s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("5555555555554444"), "customer": cus}, "Idempotency-Key", "other").Want(t, 200)
}

func TestCrashRetryBatch(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCrashRetryBatch)
}

func testCrashRetryBatch(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	db := s.OpenDB(t)
	body := map[string]any{"cards": []any{harness.Card("4242424242424242"), harness.Card("4000000000000002"), harness.Card("5555555555554444")}}
	first := s.Call("POST", "/v1/tokens/batch", sk, body, "Idempotency-Key", "batch-1").Want(t, 200)
	data := first.Body["data"].([]any)
	if harness.Dig(data[0], "token", "id") == nil || harness.Dig(data[1], "error") == nil || harness.Dig(data[2], "token", "id") == nil ||
		harness.Dig(data[0], "token", "id") == harness.Dig(data[2], "token", "id") {
		t.Fatalf("batch: %s", first.Raw)
	}
	forgetAnswer(t, s, db)
	again := s.Call("POST", "/v1/tokens/batch", sk, body, "Idempotency-Key", "batch-1").Want(t, 200)
	harness.SameJSON(t, "batch", first.Raw, again.Raw)
	if n := len(s.TokenIDs(t, sk)); n != 2 {
		t.Fatalf("after the retry: %d tokens, want 2", n)
	}
}

// paymentFor makes a manual-capture payment of amount with a fresh token.
func paymentFor(t *testing.T, s *harness.Server, amount int) string {
	t.Helper()
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	return s.Call("POST", "/v1/payments", sk, map[string]any{"amount": amount, "token": tok, "capture": false}).Want(t, 201).Str("id")
}

func TestCrashRetryCapture(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCrashRetryCapture)
}

func testCrashRetryCapture(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	db := s.OpenDB(t)

	// Died after the capture was recorded.
	pid := paymentFor(t, s, 1000)
	path := "/v1/payments/" + pid + "/capture"
	first := s.Call("POST", path, sk, map[string]any{"amount": 600}, "Idempotency-Key", "cap-1").Want(t, 200)
	forgetAnswer(t, s, db)
	again := s.Call("POST", path, sk, map[string]any{"amount": 600}, "Idempotency-Key", "cap-1").Want(t, 200)
	harness.SameJSON(t, "capture", first.Raw, again.Raw)
	// Another request (another key) is refused as before.
	if _, code, _ := s.Call("POST", path, sk, map[string]any{"amount": 600}, "Idempotency-Key", "cap-2").Want(t, 422).ErrInfo(); code != "invalid_state" {
		t.Fatalf("a second capture: %s", code)
	}
	s.Call("POST", path, sk, nil).Want(t, 422)

	// Died after the acquirer captured, before anything was recorded: the
	// payment still requires_capture under the dead attempt's claim.
	pid = paymentFor(t, s, 1000)
	path = "/v1/payments/" + pid + "/capture"
	first = s.Call("POST", path, sk, nil, "Idempotency-Key", "cap-3").Want(t, 200)
	captures := s.Sim.Stats().Captures
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'requires_capture', amount_captured = 0, amount_capturable = 1000,
		pending_op = 'capture', pending_until = ? WHERE id = ?`), time.Now().Add(time.Hour).UnixMicro(), pid); err != nil {
		t.Fatal(err)
	}
	forgetAnswer(t, s, db)
	again = s.Call("POST", path, sk, nil, "Idempotency-Key", "cap-3").Want(t, 200)
	if again.Str("status") != "succeeded" || harness.Dig(again.Body, "amount_captured") != float64(1000) {
		t.Fatalf("capture resumed: %s", again.Raw)
	}
	if c := s.Sim.Stats().Captures; c != captures {
		t.Fatalf("the resumed capture captured again: %d → %d", captures, c)
	}
	// Someone else's claim in progress is still waited for (409), not taken.
	pid = paymentFor(t, s, 1000)
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET pending_op = 'capture', pending_until = ?, op_key = 'someone-else' WHERE id = ?`),
		time.Now().Add(time.Hour).UnixMicro(), pid); err != nil {
		t.Fatal(err)
	}
	s.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil, "Idempotency-Key", "cap-4").Want(t, 409)
}

func TestCrashRetryCancel(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCrashRetryCancel)
}

func testCrashRetryCancel(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	db := s.OpenDB(t)

	pid := paymentFor(t, s, 700)
	path := "/v1/payments/" + pid + "/cancel"
	first := s.Call("POST", path, sk, nil, "Idempotency-Key", "can-1").Want(t, 200)
	forgetAnswer(t, s, db)
	again := s.Call("POST", path, sk, nil, "Idempotency-Key", "can-1").Want(t, 200)
	harness.SameJSON(t, "cancel", first.Raw, again.Raw)
	s.Call("POST", path, sk, nil, "Idempotency-Key", "can-2").Want(t, 422)

	// Died after the acquirer voided, before anything was recorded.
	pid = paymentFor(t, s, 700)
	path = "/v1/payments/" + pid + "/cancel"
	s.Call("POST", path, sk, nil, "Idempotency-Key", "can-3").Want(t, 200)
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'requires_capture', amount_capturable = 700,
		pending_op = 'cancel', pending_until = ? WHERE id = ?`), time.Now().Add(time.Hour).UnixMicro(), pid); err != nil {
		t.Fatal(err)
	}
	forgetAnswer(t, s, db)
	again = s.Call("POST", path, sk, nil, "Idempotency-Key", "can-3").Want(t, 200)
	if again.Str("status") != "canceled" {
		t.Fatalf("cancel resumed: %s", again.Raw)
	}
}

func TestCrashRetryRefund(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCrashRetryRefund)
}

func testCrashRetryRefund(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	db := s.OpenDB(t)
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).Want(t, 201).Str("id")
	path := "/v1/payments/" + pid + "/refunds"
	first := s.Call("POST", path, sk, map[string]any{"amount": 300}, "Idempotency-Key", "ref-1").Want(t, 201)
	forgetAnswer(t, s, db)
	refunds := s.Sim.Stats().Refunds
	again := s.Call("POST", path, sk, map[string]any{"amount": 300}, "Idempotency-Key", "ref-1").Want(t, 201)
	harness.SameJSON(t, "refund", first.Raw, again.Raw)
	if r := s.Sim.Stats().Refunds; r != refunds {
		t.Fatalf("the retry refunded again: %d → %d", refunds, r)
	}
	p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
	if harness.Dig(p.Body, "amount_refunded") != float64(300) || len(p.Body["refunds"].([]any)) != 1 {
		t.Fatalf("after the retry: %s", p.Raw)
	}
}

// A request in flight when its server died holds its key's lease (90 s).
// The next server takes the lease over at once — SQLite at start, PostgreSQL
// as soon as the holder's instance is known dead (left the register, or
// silent past InstanceStaleAfter) — so the retry is answered promptly.
func TestCrashLeaseTakenOver(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCrashLeaseTakenOver)
}

func testCrashLeaseTakenOver(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, append(opts, harness.WithInstanceTiming(50*time.Millisecond, 500*time.Millisecond))...)
	sk := s.Dev.SecretKey
	body := map[string]any{"card": harness.Card("4242424242424242")}
	first := s.Call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "inflight").Want(t, 201)
	held := func(s *harness.Server, owner string) {
		db := s.OpenDB(t)
		if _, err := db.Exec(s.Rebind(`UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = ?, owner = ?`),
			time.Now().Add(time.Hour).UnixMicro(), owner); err != nil {
			t.Fatal(err)
		}
	}
	held(s, "")
	if s.Cfg.DatabaseURL != "" {
		// PostgreSQL: the holder is an instance that was killed: still
		// registered, its last beat a second old.
		db := s.OpenDB(t)
		if _, err := db.Exec(`INSERT INTO instances (id, started, beat) VALUES ('ins_killed', $1, $1)`, time.Now().Add(-time.Second).UnixMicro()); err != nil {
			t.Fatal(err)
		}
		held(s, "ins_killed")
	}
	sim := s.Sim
	s.Stop()
	s2 := harness.Start(t, append(opts, harness.WithDataDir(s.DataDir), harness.WithSim(sim), harness.WithInstanceTiming(50*time.Millisecond, 500*time.Millisecond))...)
	again, took := s2.CallWithin(10*time.Second, "POST", "/v1/tokens", sk, body, "Idempotency-Key", "inflight")
	if again.Status != 201 || again.Str("id") != first.Str("id") {
		t.Fatalf("retry of the interrupted request: %d %s", again.Status, again.Raw)
	}
	if took > 5*time.Second {
		t.Fatalf("the retry was answered after %v", took)
	}
	t.Logf("retry answered in %v", took.Round(time.Millisecond))
}
