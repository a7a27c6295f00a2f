package e2e

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// A payment whose first attempt died after charging (its response never
// recorded) is resumed by a retry with the same Idempotency-Key: the acquirer
// sees one authorization and one capture, and the client gets the success.
func TestPaymentResumesAfterCrash(t *testing.T) { backends(t, testPaymentResumesAfterCrash) }

func testPaymentResumesAfterCrash(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	body := map[string]any{"amount": 1500, "token": tok}
	first := s.call("POST", "/v1/payments", sk, body, "Idempotency-Key", "crashy").want(t, 201)
	pid := first.str("id")

	// Make the database look as if the server died after the processor
	// answered but before it recorded anything: payment still processing,
	// the key's claim still "started", its lease run out.
	db := openDB(t, s)
	if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'processing', amount_captured = 0 WHERE id = ?`), pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = 0`); err != nil {
		t.Fatal(err)
	}
	before := s.Sim.Stats()
	again := s.call("POST", "/v1/payments", sk, body, "Idempotency-Key", "crashy").want(t, 201)
	if again.str("id") != pid || again.str("status") != "succeeded" || dig(again.Body, "amount_captured") != float64(1500) {
		t.Fatalf("resume: %s", again.Raw)
	}
	after := s.Sim.Stats()
	if after.Authorizations != before.Authorizations || after.Captures != before.Captures {
		t.Fatalf("the resume charged again: %+v → %+v", before, after)
	}
	if n := s.Sim.AuthorizationsFor(s.Dev.ID, pid); n != 1 {
		t.Fatalf("want 1 authorization for %s, got %d", pid, n)
	}
}

// A payment left processing by a crash, with nobody retrying, is settled at
// the next start: the acquirer is asked, a live authorization is reversed,
// and the payment is failed with that explanation.
func TestReconcileInterruptedPayments(t *testing.T) { backends(t, testReconcileInterruptedPayments) }

func testReconcileInterruptedPayments(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	held := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "token": tok, "capture": false}).want(t, 201).str("id")
	never := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "token": tok, "capture": false}).want(t, 201).str("id")
	db := openDB(t, s)
	// "held": authorized at the acquirer, never finished here.
	if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'processing', updated = 0 WHERE id = ?`), held); err != nil {
		t.Fatal(err)
	}
	// "never": the acquirer never heard of it (a fresh id it has no record of).
	ghost := "pay_" + strings.Repeat("a", 26)
	if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'processing', updated = 0, id = ? WHERE id = ?`), ghost, never); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim
	s2 := start(t, withDataDir(s.DataDir), withDatabaseURL(s.cfg.DatabaseURL), withSim(sim)) // reconcile runs at start
	s.stop()
	waitFor(t, func() bool {
		return s2.call("GET", "/v1/payments/"+held, sk, nil).str("status") == "failed" &&
			s2.call("GET", "/v1/payments/"+ghost, sk, nil).str("status") == "failed"
	})
	h := s2.call("GET", "/v1/payments/"+held, sk, nil).want(t, 200)
	if !strings.Contains(h.str("failure", "message"), "reversed") {
		t.Fatalf("held payment: %s", h.Raw)
	}
	if a, err := sim.Lookup(context.Background(), s.Dev.ID, held); err != nil || !a.Voided {
		t.Fatalf("the interrupted authorization must be voided at the acquirer: %+v %v", a, err)
	}
	g := s2.call("GET", "/v1/payments/"+ghost, sk, nil).want(t, 200)
	if !strings.Contains(g.str("failure", "message"), "before the card was charged") {
		t.Fatalf("ghost payment: %s", g.Raw)
	}
	if !bytes.Contains([]byte(s2.Logs.String()), []byte("reconciled an interrupted payment")) {
		t.Fatal("reconciliation must be logged")
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 10 s")
}

// A capture whose server died after the acquirer captured (claim left held,
// our record still requires_capture) is settled at the next start from what
// the acquirer did, with nobody retrying.
func TestReconcileLapsedCapture(t *testing.T) { backends(t, testReconcileLapsedCapture) }

func testReconcileLapsedCapture(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	pid := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1200, "token": tok, "capture": false}).want(t, 201).str("id")
	s.call("POST", "/v1/payments/"+pid+"/capture", sk, nil).want(t, 200)
	db := openDB(t, s)
	if _, err := db.Exec(rebind(s, `UPDATE payments SET status = 'requires_capture', amount_captured = 0, amount_capturable = 1200,
		pending_op = 'capture', pending_until = 1 WHERE id = ?`), pid); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim
	s.stop()
	s2 := start(t, withDataDir(s.DataDir), withDatabaseURL(s.cfg.DatabaseURL), withSim(sim))
	waitFor(t, func() bool { return s2.call("GET", "/v1/payments/"+pid, sk, nil).str("status") == "succeeded" })
	p := s2.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200)
	if dig(p.Body, "amount_captured") != float64(1200) || dig(p.Body, "amount_capturable") != float64(0) {
		t.Fatalf("settled capture: %s", p.Raw)
	}
	s2.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201) // the money is refundable again
}

// Refunds a crash left pending are settled at the next start from what the
// acquirer refunded: one that reached the acquirer succeeds, one that did not
// fails and frees its amount to be refunded again.
func TestReconcilePendingRefunds(t *testing.T) { backends(t, testReconcilePendingRefunds) }

func testReconcilePendingRefunds(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	pid := s.call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).want(t, 201).str("id")
	reached := s.call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 300}).want(t, 201).str("id")
	db := openDB(t, s)
	// "reached": the acquirer refunded it, our record still says pending.
	if _, err := db.Exec(rebind(s, `UPDATE refunds SET status = 'pending', updated = 0 WHERE id = ?`), reached); err != nil {
		t.Fatal(err)
	}
	// "lost": recorded and reserved after it, never sent to the acquirer.
	lost := "re_" + strings.Repeat("b", 26)
	if _, err := db.Exec(rebind(s, `INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, reason, processor_ref, created, updated)
		SELECT ?, merchant_id, payment_id, 200, 'MYR', 'pending', '', '', created + 1, 0 FROM refunds WHERE id = ?`), lost, reached); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(rebind(s, `UPDATE payments SET amount_refunded = 500 WHERE id = ?`), pid); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim
	s.stop()
	s2 := start(t, withDataDir(s.DataDir), withDatabaseURL(s.cfg.DatabaseURL), withSim(sim))
	waitFor(t, func() bool {
		for _, r := range s2.call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Body["data"].([]any) {
			if dig(r, "status") == "pending" {
				return false
			}
		}
		return true
	})
	for _, r := range s2.call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Body["data"].([]any) {
		want := map[string]string{reached: "succeeded", lost: "failed"}[dig(r, "id").(string)]
		if dig(r, "status") != want {
			t.Fatalf("refund %v: status %v, want %s", dig(r, "id"), dig(r, "status"), want)
		}
	}
	p := s2.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200)
	if dig(p.Body, "amount_refunded") != float64(300) {
		t.Fatalf("the lost refund's reservation must be released: %s", p.Raw)
	}
	s2.call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 700}).want(t, 201) // the rest can be refunded
}

// flakyProc makes the acquirer complete a sale but lose its answer once, as a
// network timeout does.
type flakyProc struct {
	*simulator.Simulator
	lose atomic.Bool
}

func (f *flakyProc) Sale(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, processor.Capture, error) {
	a, c, err := f.Simulator.Sale(ctx, r)
	if err == nil && f.lose.CompareAndSwap(true, false) {
		return processor.Authorization{}, processor.Capture{}, errors.New("acquirer: read timeout")
	}
	return a, c, err
}

// A sale whose answer was lost must not be recorded as failed (the card was
// charged): it stays processing, a retry with the same key finds the charge,
// and the client ends with one payment, one capture.
func TestPaymentOutcomeUnknownStaysProcessing(t *testing.T) {
	backends(t, testPaymentOutcomeUnknownStaysProcessing)
}

func testPaymentOutcomeUnknownStaysProcessing(t *testing.T, opts ...option) {
	fp := &flakyProc{Simulator: simulator.New()}
	s := start(t, append(opts, withProcessorImpl(fp))...)
	sk := s.Dev.SecretKey
	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	body := map[string]any{"amount": 2500, "token": tok}
	fp.lose.Store(true)
	first := s.call("POST", "/v1/payments", sk, body, "Idempotency-Key", "lost-answer").want(t, 502)
	if first.str("error", "payment", "status") != "processing" {
		t.Fatalf("an unknown outcome must stay processing: %s", first.Raw)
	}
	again := s.call("POST", "/v1/payments", sk, body, "Idempotency-Key", "lost-answer").want(t, 201)
	if again.str("status") != "succeeded" || again.str("id") != first.str("error", "payment", "id") {
		t.Fatalf("retry: %s", again.Raw)
	}
	if st := fp.Stats(); st.Captures != 1 {
		t.Fatalf("one capture expected: %+v", st)
	}
}
