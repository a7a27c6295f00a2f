package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// parallel runs n copies of fn at once (released together) and returns
// their responses in order.
func parallel(n int, fn func(i int) harness.Resp) []harness.Resp {
	out := make([]harness.Resp, n)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			out[i] = fn(i)
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return out
}

// statuses counts responses by status.
func statuses(rs []harness.Resp) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}

// TestPaymentIdempotencyConcurrent: 50 concurrent POST /v1/payments with one
// Idempotency-Key all get the same status and the same bytes, the processor
// authorizes (and captures) exactly once, and one payment exists. The same
// holds for a declined charge (one authorization, one failed payment, the
// same 402 bytes), for a concurrent capture with one key, and a reused key
// with another body is a 409.
func TestPaymentIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentIdempotencyConcurrent)
}

func testPaymentIdempotencyConcurrent(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	declTok := s.NewToken(t, sk, "4000000000000341")

	body := harness.TokenPayment(tok, 1000, "order_id", "idem-1", "metadata", map[string]string{"k": "v"})
	sim := s.Sim.Stats()
	out := parallel(50, func(int) harness.Resp { return s.CreatePayment(sk, body, "Idempotency-Key", "pay-key-1") })
	for i, r := range out {
		if r.Status != out[0].Status || !bytes.Equal(r.Raw, out[0].Raw) {
			t.Fatalf("response %d differs: %d %s\nvs %d %s", i, r.Status, r.Raw, out[0].Status, out[0].Raw)
		}
	}
	p := harness.PaymentOK(t, out[0], 201, "succeeded")
	pid := p["id"].(string)
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Authorizations != 1 || d.Captures != 1 {
		t.Errorf("50 requests with one key: the processor authorized %d and captured %d times, want 1 and 1", d.Authorizations, d.Captures)
	}
	if n := s.Sim.AuthorizationsFor(s.Dev.ID, pid); n != 1 {
		t.Errorf("AuthorizationsFor(%s) = %d, want 1", pid, n)
	}
	if ids := s.PaymentIDs(t, sk); !slices.Equal(ids, []string{pid}) {
		t.Errorf("want exactly payment %s, got %v", pid, ids)
	}
	// A sequential retry replays too, marked as a replay.
	r := s.CreatePayment(sk, body, "Idempotency-Key", "pay-key-1")
	if !bytes.Equal(r.Raw, out[0].Raw) || r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("sequential replay: %d %q %s", r.Status, r.Header.Get("Idempotent-Replayed"), r.Raw)
	}
	// Same key, another body: 409, nothing charged.
	sim = s.Sim.Stats()
	harness.Refused(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1001, "order_id", "idem-1"), "Idempotency-Key", "pay-key-1"), 409, "idempotency_error", harness.AnyParam, harness.AnyParam)
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d != (simulator.Stats{}) {
		t.Errorf("a reused key reached the processor: %+v", d)
	}

	// A decline under one key: 50 × the same 402, one authorization, one failed payment.
	sim = s.Sim.Stats()
	out = parallel(50, func(int) harness.Resp {
		return s.CreatePayment(sk, harness.TokenPayment(declTok, 1000), "Idempotency-Key", "pay-key-2")
	})
	for i, r := range out {
		if r.Status != 402 || !bytes.Equal(r.Raw, out[0].Raw) {
			t.Fatalf("declined response %d differs: %d %s\nvs %s", i, r.Status, r.Raw, out[0].Raw)
		}
	}
	f := s.PaymentDeclined(t, sk, out[0], "card_declined", "generic_decline")
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Authorizations != 1 {
		t.Errorf("a declined charge under one key was authorized %d times", d.Authorizations)
	}
	if ids := s.PaymentIDs(t, sk); !slices.Equal(ids, []string{f["id"].(string), pid}) {
		t.Errorf("want the failed and the succeeded payment, got %v", ids)
	}

	// Another merchant's identical key is unrelated: its own new payment.
	m2 := s.NewMerchant("m2")
	tok2 := s.NewToken(t, m2.SecretKey, "4242424242424242")
	sim = s.Sim.Stats()
	other := harness.PaymentOK(t, s.CreatePayment(m2.SecretKey, harness.TokenPayment(tok2, 1000, "order_id", "idem-1", "metadata", map[string]string{"k": "v"}), "Idempotency-Key", "pay-key-1"), 201, "succeeded")
	if other["id"] == pid || harness.StatsDelta(sim, s.Sim.Stats()).Authorizations != 1 {
		t.Errorf("merchant 2's request with merchant 1's key must be a new payment: %v", other["id"])
	}

	// One key, two different bodies at once: one request runs, the callers
	// with its body get its answer, the others 409; one authorization.
	sim = s.Sim.Stats()
	bodies := []map[string]any{harness.TokenPayment(tok, 3000), harness.TokenPayment(tok, 4000)}
	out = parallel(20, func(i int) harness.Resp { return s.CreatePayment(sk, bodies[i%2], "Idempotency-Key", "pay-key-3") })
	var winner []byte
	for i, r := range out {
		if r.Status == 201 {
			if winner == nil {
				winner = r.Raw
			}
			if amt := harness.Int(r.Body, "amount"); amt != int64(bodies[i%2]["amount"].(int)) || !bytes.Equal(r.Raw, winner) {
				t.Errorf("caller %d (amount %v) got %s", i, bodies[i%2]["amount"], r.Raw)
			}
		} else {
			harness.Refused(t, r, 409, "idempotency_error", harness.AnyParam, harness.AnyParam)
		}
	}
	if winner == nil || statuses(out)[201] != 10 || harness.StatsDelta(sim, s.Sim.Stats()).Authorizations != 1 {
		t.Errorf("one key, two bodies: %v, processor %+v", statuses(out), harness.StatsDelta(sim, s.Sim.Stats()))
	}

	// A capture under one key from 20 callers: one capture, identical answers.
	a := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 800, "capture", false)), 201, "requires_capture")
	sim = s.Sim.Stats()
	out = parallel(20, func(int) harness.Resp {
		return s.Call("POST", "/v1/payments/"+a["id"].(string)+"/capture", sk, map[string]any{"amount": 500}, "Idempotency-Key", "cap-key")
	})
	for i, r := range out {
		if r.Status != 200 || !bytes.Equal(r.Raw, out[0].Raw) {
			t.Fatalf("capture response %d differs: %d %s\nvs %s", i, r.Status, r.Raw, out[0].Raw)
		}
	}
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Captures != 1 {
		t.Errorf("captures under one key: %d", d.Captures)
	}
	if g := s.GetPayment(t, sk, a["id"].(string)); harness.Int(g, "amount_captured") != 500 {
		t.Errorf("captured: %v", g)
	}
}

// TestPaymentReplayAfterRestart: a payment, a decline and a capture made
// with Idempotency-Keys replay byte for byte from a restarted server (whose
// new simulator never sees a call), and nothing new is recorded.
func TestPaymentReplayAfterRestart(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentReplayAfterRestart)
}

func testPaymentReplayAfterRestart(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	payBodyA := harness.TokenPayment(tok, 1000, "order_id", "r-1", "description", "replayed")
	first := s.CreatePayment(sk, payBodyA, "Idempotency-Key", "restart-pay").Want(t, 201)
	declBody := harness.CardPayment("4000000000009995", 1000)
	decl := s.CreatePayment(sk, declBody, "Idempotency-Key", "restart-decl").Want(t, 402)
	auth := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 900, "capture", false)), 201, "requires_capture")
	capPath := "/v1/payments/" + auth["id"].(string) + "/capture"
	capd := s.Call("POST", capPath, sk, map[string]any{"amount": 900}, "Idempotency-Key", "restart-cap").Want(t, 200)
	refPath := "/v1/payments/" + first.Str("id") + "/refunds"
	ref := s.Call("POST", refPath, sk, map[string]any{"amount": 250}, "Idempotency-Key", "restart-ref").Want(t, 201)
	ids := s.PaymentIDs(t, sk)
	pay := s.GetPayment(t, sk, first.Str("id"))

	s2 := s.Restart()
	for _, c := range []struct {
		name, path, key string
		body            any
		was             harness.Resp
	}{
		{"payment", "/v1/payments", "restart-pay", payBodyA, first},
		{"decline", "/v1/payments", "restart-decl", declBody, decl},
		{"capture", capPath, "restart-cap", map[string]any{"amount": 900}, capd},
		{"refund", refPath, "restart-ref", map[string]any{"amount": 250}, ref},
	} {
		r := s2.Call("POST", c.path, sk, c.body, "Idempotency-Key", c.key)
		if r.Status != c.was.Status || !bytes.Equal(r.Raw, c.was.Raw) {
			t.Errorf("%s: after a restart the stored response must replay:\n%d %s\n%d %s", c.name, r.Status, r.Raw, c.was.Status, c.was.Raw)
		}
	}
	if st := s2.Sim.Stats(); st != (simulator.Stats{}) {
		t.Errorf("a replay after the restart reached the processor: %+v", st)
	}
	if got := s2.PaymentIDs(t, sk); !slices.Equal(got, ids) {
		t.Errorf("payments after the replays: %v, want %v", got, ids)
	}
	if got := s2.GetPayment(t, sk, first.Str("id")); !reflect.DeepEqual(got, pay) || harness.Int(got, "amount_refunded") != 250 {
		t.Errorf("the payment changed across the replays:\n%v\n%v", got, pay)
	}
}

// TestPaymentConcurrentCaptures: 20 simultaneous full captures of one
// authorization — exactly one 200, the rest 409 operation_in_progress or 422
// invalid_state, one capture at the processor, amount_captured the amount.
func TestPaymentConcurrentCaptures(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentConcurrentCaptures)
}

func testPaymentConcurrentCaptures(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	for round := range 3 {
		a := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "capture", false)), 201, "requires_capture")
		id := a["id"].(string)
		sim := s.Sim.Stats()
		out := parallel(20, func(int) harness.Resp {
			return s.Call("POST", "/v1/payments/"+id+"/capture", sk, map[string]any{"amount": 1000})
		})
		won := 0
		for _, r := range out {
			switch r.Status {
			case 200:
				won++
				if q := harness.PaymentShape(t, r.Body); q["status"] != "succeeded" || harness.Int(q, "amount_captured") != 1000 {
					t.Errorf("winning capture: %s", r.Raw)
				}
			case 409:
				harness.Refused(t, r, 409, harness.AnyParam, "operation_in_progress", harness.AnyParam)
			case 422:
				harness.Refused(t, r, 422, "invalid_request_error", "invalid_state", harness.AnyParam)
			default:
				t.Errorf("round %d: capture answered %d: %s", round, r.Status, r.Raw)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d captures succeeded, want exactly 1 (%v)", round, won, statuses(out))
		}
		if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Captures != 1 || d.Voids != 0 {
			t.Errorf("round %d: processor %+v, want one capture", round, d)
		}
		if g := s.GetPayment(t, sk, id); g["status"] != "succeeded" || harness.Int(g, "amount_captured") != 1000 || harness.Int(g, "amount_capturable") != 0 {
			t.Errorf("round %d: after the race: %v", round, g)
		}
	}
}

// TestPaymentConcurrentRefunds: 30 simultaneous refunds of 100 on a captured
// 1000 — exactly 10 succeed, the rest are 400/422, the processor refunds
// exactly 10 times, and the payment ends fully refunded with 10 refunds.
func TestPaymentConcurrentRefunds(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentConcurrentRefunds)
}

func testPaymentConcurrentRefunds(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	p := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000)), 201, "succeeded")
	id := p["id"].(string)
	sim := s.Sim.Stats()
	out := parallel(30, func(int) harness.Resp {
		return s.Call("POST", "/v1/payments/"+id+"/refunds", sk, map[string]any{"amount": 100})
	})
	var refundIDs []string
	for _, r := range out {
		switch r.Status {
		case 201:
			rf := harness.RefundShape(t, r.Body)
			if harness.Int(rf, "amount") != 100 || rf["status"] != "succeeded" || rf["payment"] != id {
				t.Errorf("refund: %s", r.Raw)
			}
			refundIDs = append(refundIDs, rf["id"].(string))
		case 400:
			harness.Refused(t, r, 400, "invalid_request_error", "amount_too_large", "amount")
		case 422:
			harness.Refused(t, r, 422, "invalid_request_error", harness.AnyParam, harness.AnyParam)
		default:
			t.Errorf("refund answered %d: %s", r.Status, r.Raw)
		}
	}
	if len(refundIDs) != 10 {
		t.Errorf("%d refunds of 100 succeeded on a 1000 payment, want exactly 10 (%v)", len(refundIDs), statuses(out))
	}
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Refunds != 10 {
		t.Errorf("the processor refunded %d times, want 10", d.Refunds)
	}
	g := s.GetPayment(t, sk, id)
	if harness.Int(g, "amount_refunded") != 1000 || g["refunded"] != true || len(g["refunds"].([]any)) != 10 {
		t.Errorf("after the race: %v", g)
	}
	lr := s.Call("GET", "/v1/payments/"+id+"/refunds", sk, nil).Want(t, 200)
	var listed []string
	for _, d := range lr.Body["data"].([]any) {
		listed = append(listed, harness.RefundShape(t, d)["id"].(string))
	}
	if !harness.SameSet(listed, refundIDs) {
		t.Errorf("listed refunds %v, answered %v", listed, refundIDs)
	}
	harness.Refused(t, s.Call("POST", "/v1/payments/"+id+"/refunds", sk, map[string]any{"amount": 1}), 422, "invalid_request_error", harness.AnyParam, harness.AnyParam)

	// 10 simultaneous "refund the rest": one refunds everything, the rest are 422.
	p = harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000)), 201, "succeeded")
	id = p["id"].(string)
	sim = s.Sim.Stats()
	out = parallel(10, func(int) harness.Resp { return s.Call("POST", "/v1/payments/"+id+"/refunds", sk, nil) })
	for _, r := range out {
		switch r.Status {
		case 201:
			if harness.Int(r.Body, "amount") != 1000 {
				t.Errorf("default refund: %s", r.Raw)
			}
		case 422:
			harness.Refused(t, r, 422, "invalid_request_error", harness.AnyParam, harness.AnyParam)
		default:
			t.Errorf("default refund answered %d: %s", r.Status, r.Raw)
		}
	}
	if n := statuses(out)[201]; n != 1 || harness.StatsDelta(sim, s.Sim.Stats()).Refunds != 1 {
		t.Errorf("simultaneous full refunds: %d succeeded, processor %+v", n, harness.StatsDelta(sim, s.Sim.Stats()))
	}
	if g := s.GetPayment(t, sk, id); harness.Int(g, "amount_refunded") != 1000 {
		t.Errorf("after simultaneous full refunds: %v", g)
	}
}

// TestPaymentCaptureVsCancel: captures and cancels of one authorization at
// once — exactly one request wins, the payment ends in the winner's state
// and the processor did exactly that one thing.
func TestPaymentCaptureVsCancel(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentCaptureVsCancel)
}

func testPaymentCaptureVsCancel(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	for round := range 6 {
		a := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "capture", false)), 201, "requires_capture")
		id := a["id"].(string)
		sim := s.Sim.Stats()
		out := parallel(10, func(i int) harness.Resp {
			if (i+round)%2 == 0 {
				return s.Call("POST", "/v1/payments/"+id+"/capture", sk, nil)
			}
			return s.Call("POST", "/v1/payments/"+id+"/cancel", sk, nil)
		})
		var winners []string
		for i, r := range out {
			op := map[bool]string{true: "capture", false: "cancel"}[(i+round)%2 == 0]
			switch r.Status {
			case 200:
				winners = append(winners, op+"→"+r.Str("status"))
			case 409:
				harness.Refused(t, r, 409, harness.AnyParam, "operation_in_progress", harness.AnyParam)
			case 422:
				harness.Refused(t, r, 422, "invalid_request_error", "invalid_state", harness.AnyParam)
			default:
				t.Errorf("round %d: %s answered %d: %s", round, op, r.Status, r.Raw)
			}
		}
		g := s.GetPayment(t, sk, id)
		d := harness.StatsDelta(sim, s.Sim.Stats())
		switch {
		case len(winners) != 1:
			t.Errorf("round %d: winners %v, want exactly one", round, winners)
		case winners[0] == "capture→succeeded":
			if g["status"] != "succeeded" || harness.Int(g, "amount_captured") != 1000 || d.Captures != 1 || d.Voids != 0 {
				t.Errorf("round %d: capture won, payment %v, processor %+v", round, g["status"], d)
			}
		case winners[0] == "cancel→canceled":
			if g["status"] != "canceled" || harness.Int(g, "amount_captured") != 0 || d.Captures != 0 || d.Voids != 1 {
				t.Errorf("round %d: cancel won, payment %v, processor %+v", round, g["status"], d)
			}
		default:
			t.Errorf("round %d: winner %v", round, winners)
		}
	}
}

// TestPaymentKeyReusedAfterRetention: API.md keeps Idempotency-Keys "at
// least 24 hours"; the server sweeps them after its retention. A key used
// again once swept starts a new request: a payment for another amount must
// be charged and answered as itself, never answered with the old payment.
// (The sweep is simulated by deleting the key's row, which is exactly what
// Keeper.Sweep does.)
func TestPaymentKeyReusedAfterRetention(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	old := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "order_id", "A-1"), "Idempotency-Key", "order-42"), 201, "succeeded")

	if _, err := s.OpenDB(t).Exec(`DELETE FROM idempotency_keys`); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim.Stats()
	r := s.CreatePayment(sk, harness.TokenPayment(tok, 2000, "order_id", "B-7"), "Idempotency-Key", "order-42")
	if r.Status != 201 || r.Str("id") == old["id"] || harness.Int(r.Body, "amount") != 2000 || r.Str("order_id") != "B-7" {
		t.Errorf("a new request under a swept key was answered with another payment (%s, amount %d, order %q); want a new payment of 2000 for B-7: %s",
			r.Str("id"), harness.Int(r.Body, "amount"), r.Str("order_id"), harness.Short(r.Raw))
	}
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Authorizations != 1 {
		t.Errorf("the new request was not charged: processor %+v", d)
	}
	if ids := s.PaymentIDs(t, sk); len(ids) != 2 {
		t.Errorf("want 2 payments, got %v", ids)
	}
}

// TestPaymentConcurrentSaveCard: the same card saved by simultaneous
// payments for one customer ends with one token, which every payment names.
func TestPaymentConcurrentSaveCard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentConcurrentSaveCard)
}

func testPaymentConcurrentSaveCard(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	cid := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "race-saver"}).Want(t, 201).Str("id")
	out := parallel(10, func(i int) harness.Resp {
		return s.CreatePayment(sk, harness.CardPayment("5555555555554444", 100+i, "save_card", true, "customer", cid))
	})
	toks := map[any]int{}
	for _, r := range out {
		if r.Status != 201 {
			t.Errorf("save_card payment: %d %s", r.Status, harness.Short(r.Raw))
			continue
		}
		toks[harness.PaymentShape(t, r.Body)["token"]]++
	}
	l := s.Call("GET", "/v1/tokens?customer="+cid, sk, nil).Want(t, 200)
	if d := l.Body["data"].([]any); len(toks) != 1 || len(d) != 1 || toks[harness.Dig(d[0], "id")] != 10 {
		t.Errorf("one card saved 10 times at once for one customer: payments name %v, customer lists %s", toks, harness.Short(l.Raw))
	}
}

// TestPaymentCaptureResumesAfterCrash: a capture (or cancel) whose server
// died after the acquirer acted but before the payment was updated leaves
// the payment claimed, in requires_capture. Once the claim's lease has
// lapsed, a retry must settle it from what the acquirer did — succeeded with
// the captured amount (canceled) — without a second capture, and the
// payment must then be refundable. Money the acquirer captured must never be
// stuck behind a payment that says requires_capture.
func TestPaymentCaptureResumesAfterCrash(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentCaptureResumesAfterCrash)
}

func testPaymentCaptureResumesAfterCrash(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	db := s.OpenDB(t)
	// crashBefore rewinds a payment to how a crash between the acquirer's
	// answer and the release would have left it: still requires_capture,
	// claimed for op by a holder whose lease has lapsed, no response stored
	// for the request's Idempotency-Key.
	crashBefore := func(id, op string) {
		t.Helper()
		var procJSON string
		if err := db.QueryRow(s.Rebind(`SELECT processor FROM payments WHERE id = ?`), id).Scan(&procJSON); err != nil {
			t.Fatal(err)
		}
		var proc map[string]any
		if err := json.Unmarshal([]byte(procJSON), &proc); err != nil {
			t.Fatalf("processor column: %v: %s", err, procJSON)
		}
		delete(proc, "capture_id")
		pj, _ := json.Marshal(proc)
		if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'requires_capture', amount_captured = 0, amount_capturable = amount,
			pending_op = ?, pending_until = 1, processor = ? WHERE id = ?`), op, string(pj), id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`DELETE FROM idempotency_keys`); err != nil {
			t.Fatal(err)
		}
	}

	// Cancel: voiding again is harmless, so the retry recovers.
	c := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 700, "capture", false)), 201, "requires_capture")["id"].(string)
	harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+c+"/cancel", sk, nil, "Idempotency-Key", "cancel-crash"), 200, "canceled")
	crashBefore(c, "cancel")
	if r := s.Call("POST", "/v1/payments/"+c+"/cancel", sk, nil, "Idempotency-Key", "cancel-crash"); r.Status != 200 || r.Str("status") != "canceled" {
		t.Errorf("cancel retried after a crash: %d %s", r.Status, harness.Short(r.Raw))
	}

	// Capture.
	id := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "capture", false)), 201, "requires_capture")["id"].(string)
	harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+id+"/capture", sk, nil, "Idempotency-Key", "cap-crash"), 200, "succeeded")
	crashBefore(id, "capture")
	sim := s.Sim.Stats()
	r := s.Call("POST", "/v1/payments/"+id+"/capture", sk, nil, "Idempotency-Key", "cap-crash")
	if r.Status != 200 || r.Str("status") != "succeeded" || harness.Int(r.Body, "amount_captured") != 1000 {
		t.Errorf("capture retried after a crash (the acquirer had captured 1000): %d %s", r.Status, harness.Short(r.Raw))
	}
	if d := harness.StatsDelta(sim, s.Sim.Stats()); d.Captures != 0 {
		t.Errorf("the retry captured again: %+v", d)
	}
	g := s.GetPayment(t, sk, id)
	if g["status"] != "succeeded" || harness.Int(g, "amount_captured") != 1000 {
		t.Errorf("the acquirer captured 1000 but the payment says %v (captured %d)", g["status"], harness.Int(g, "amount_captured"))
	}
	if rf := s.Call("POST", "/v1/payments/"+id+"/refunds", sk, nil); rf.Status != 201 || harness.Int(rf.Body, "amount") != 1000 {
		t.Errorf("the captured money cannot be refunded: %d %s", rf.Status, harness.Short(rf.Raw))
	}
}

// TestPaymentClientGoneAfterCapture: the client of POST /v1/payments (with
// an Idempotency-Key) disconnects after the acquirer has captured but before
// the server recorded it, and retries with the same key and body, as every
// client does after a timeout. The retry must find that payment — one
// authorization and one capture at the acquirer, one payment — never charge
// the card a second time.
func TestPaymentClientGoneAfterCapture(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentClientGoneAfterCapture)
}

func testPaymentClientGoneAfterCapture(t *testing.T, opts ...harness.Option) {
	// The acquirer captures even for a request its client abandoned, and
	// once armed holds its answer until the test lets it go: the answer
	// arriving after the shopper's browser or the merchant's HTTP client
	// timed out.
	gp := harness.NewAcquirer()
	gp.IgnoreCancel.Store(true)
	inner := gp.Simulator
	s := harness.Start(t, append(opts, harness.WithProcessor(gp))...)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	body, _ := json.Marshal(harness.TokenPayment(tok, 1000, "order_id", "timeout-1"))
	sim := inner.Stats()

	gate := gp.GateCapture()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/payments", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+sk)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "timeout-key")
	gone := make(chan error, 1)
	go func() {
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			res.Body.Close()
		}
		gone <- err
	}()
	select {
	case <-gate.Entered:
	case err := <-gone:
		t.Fatalf("the first attempt ended before the acquirer captured: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the first attempt never reached Capture")
	}
	cancel() // the client gives up
	<-gone
	close(gate.Release)

	// The retry: same key, same body (it waits for the abandoned attempt to end).
	r := s.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "timeout-key")
	d := harness.StatsDelta(sim, inner.Stats())
	ids := s.PaymentIDs(t, sk)
	if d.Authorizations != 1 || d.Captures != 1 || len(ids) != 1 {
		var statuses []string
		for _, id := range ids {
			statuses = append(statuses, id+"="+s.GetPayment(t, sk, id)["status"].(string))
		}
		t.Errorf("a retry after the client timed out charged the card again: the acquirer made %d authorizations and %d captures, payments %v; the retry got %d %s",
			d.Authorizations, d.Captures, statuses, r.Status, harness.Short(r.Raw))
	}
	if r.Status != 201 || r.Str("status") != "succeeded" || harness.Int(r.Body, "amount_captured") != 1000 {
		t.Errorf("the retry must answer the captured payment: %d %s", r.Status, harness.Short(r.Raw))
	}
}

// TestPaymentsOnOneTokenCommitOnce: the writer's batches: duplicate customer
// references (failing inside the write) mixed with payments; every payment
// commits exactly once.
func TestPaymentsOnOneTokenCommitOnce(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		before := s.Sim.Stats()
		const n = 40
		var wg sync.WaitGroup
		var custOK, custConflict, payOK atomic.Int64
		ids := make([]string, n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				r := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "rc-dup"})
				switch r.Status {
				case 201, 200:
					custOK.Add(1)
				case 409:
					custConflict.Add(1)
				default:
					t.Errorf("customer: %d %s", r.Status, r.Raw)
				}
			}()
			go func() {
				defer wg.Done()
				r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 100 + i, "token": tok, "order_id": "rc-batch"},
					"Idempotency-Key", fmt.Sprintf("rc-batch-%d", i))
				if r.Status != 201 {
					t.Errorf("payment: %d %s", r.Status, r.Raw)
					return
				}
				payOK.Add(1)
				ids[i] = r.Str("id")
			}()
		}
		wg.Wait()
		if custOK.Load() != 1 {
			t.Fatalf("customers created %d, conflicts %d", custOK.Load(), custConflict.Load())
		}
		after := s.Sim.Stats()
		if after.Captures-before.Captures != n {
			t.Fatalf("captures %d, want %d", after.Captures-before.Captures, n)
		}
		l := s.Call("GET", "/v1/payments?order_id=rc-batch&limit=100", sk, nil).Want(t, 200)
		if got := len(l.Body["data"].([]any)); got != n {
			t.Fatalf("listed %d payments, want %d", got, n)
		}
		for i, id := range ids {
			p := s.Call("GET", "/v1/payments/"+id, sk, nil).Want(t, 200)
			if p.Str("status") != "succeeded" || p.Num("amount_captured") != int64(100+i) {
				t.Fatalf("payment %d: %s", i, p.Raw)
			}
		}
		c := s.Call("GET", "/v1/customers?reference=rc-dup", sk, nil).Want(t, 200)
		if got := len(c.Body["data"].([]any)); got != 1 {
			t.Fatalf("customers with the reference: %d", got)
		}
	})
}

// TestMixedOpsBooksMatchAcquirer: concurrent capture, cancel and refund on
// one payment: the books agree with the acquirer and no amount exceeds
// another.
func TestMixedOpsBooksMatchAcquirer(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
		for round := range 5 {
			pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok, "capture": false}).Want(t, 201).Str("id")
			var wg sync.WaitGroup
			for i := range 24 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k := fmt.Sprintf("rc-mix-%d-%d", round, i)
					var r harness.Resp
					switch i % 3 {
					case 0:
						r = s.Call("POST", "/v1/payments/"+pid+"/capture", sk, map[string]any{"amount": 600 + i}, "Idempotency-Key", k)
					case 1:
						r = s.Call("POST", "/v1/payments/"+pid+"/cancel", sk, nil, "Idempotency-Key", k)
					default:
						r = s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 150}, "Idempotency-Key", k)
					}
					if r.Status >= 500 {
						t.Errorf("5xx: %d %s", r.Status, r.Raw)
					}
				}()
			}
			wg.Wait()
			p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
			a, err := s.Sim.Lookup(context.Background(), s.Dev.ID, pid)
			if err != nil {
				t.Fatal(err)
			}
			capd, refd, capble := p.Num("amount_captured"), p.Num("amount_refunded"), p.Num("amount_capturable")
			bad := refd > capd || capd > 1000 || a.Captured != capd || a.Refunded != refd ||
				(p.Str("status") == "canceled") != a.Voided || (p.Str("status") != "requires_capture" && capble != 0)
			if bad {
				t.Fatalf("round %d: books %s; acquirer %+v", round, p.Raw, a)
			}
		}
	})
}
