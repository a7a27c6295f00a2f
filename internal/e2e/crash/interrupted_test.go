package crash

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// A payment whose first attempt died after charging (its response never
// recorded) is resumed by a retry with the same Idempotency-Key: the acquirer
// sees one authorization and one capture, and the client gets the success.
func TestPaymentResumesAfterCrash(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentResumesAfterCrash)
}

func testPaymentResumesAfterCrash(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	body := map[string]any{"amount": 1500, "token": tok}
	first := s.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "crashy").Want(t, 201)
	pid := first.Str("id")

	// Make the database look as if the server died after the processor
	// answered but before it recorded anything: payment still processing,
	// the key's claim still "started", its lease run out.
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'processing', amount_captured = 0 WHERE id = ?`), pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE idempotency_keys SET state = 'started', status_code = 0, response = NULL, locked_until = 0`); err != nil {
		t.Fatal(err)
	}
	before := s.Sim.Stats()
	again := s.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "crashy").Want(t, 201)
	if again.Str("id") != pid || again.Str("status") != "succeeded" || harness.Dig(again.Body, "amount_captured") != float64(1500) {
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
func TestReconcileInterruptedPayments(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testReconcileInterruptedPayments)
}

func testReconcileInterruptedPayments(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	held := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "token": tok, "capture": false}).Want(t, 201).Str("id")
	never := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "token": tok, "capture": false}).Want(t, 201).Str("id")
	db := s.OpenDB(t)
	// "held": authorized at the acquirer, never finished here.
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'processing', updated = 0 WHERE id = ?`), held); err != nil {
		t.Fatal(err)
	}
	// "never": the acquirer never heard of it (a fresh id it has no record of).
	ghost := "pay_" + strings.Repeat("a", 26)
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'processing', updated = 0, id = ? WHERE id = ?`), ghost, never); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim
	s2 := harness.Start(t, harness.WithDataDir(s.DataDir), harness.WithDatabaseURL(s.Cfg.DatabaseURL), harness.WithSim(sim)) // reconcile runs at start
	s.Stop()
	harness.WaitUntil(t, 10*time.Second, "the interrupted payments to be failed", func() bool {
		return s2.Call("GET", "/v1/payments/"+held, sk, nil).Str("status") == "failed" &&
			s2.Call("GET", "/v1/payments/"+ghost, sk, nil).Str("status") == "failed"
	})
	h := s2.Call("GET", "/v1/payments/"+held, sk, nil).Want(t, 200)
	if !strings.Contains(h.Str("failure", "message"), "reversed") {
		t.Fatalf("held payment: %s", h.Raw)
	}
	if a, err := sim.Lookup(context.Background(), s.Dev.ID, held); err != nil || !a.Voided {
		t.Fatalf("the interrupted authorization must be voided at the acquirer: %+v %v", a, err)
	}
	g := s2.Call("GET", "/v1/payments/"+ghost, sk, nil).Want(t, 200)
	if !strings.Contains(g.Str("failure", "message"), "before the card was charged") {
		t.Fatalf("ghost payment: %s", g.Raw)
	}
	if !bytes.Contains([]byte(s2.Logs.String()), []byte("reconciled an interrupted payment")) {
		t.Fatal("reconciliation must be logged")
	}
}

// A capture whose server died after the acquirer captured (claim left held,
// our record still requires_capture) is settled at the next start from what
// the acquirer did, with nobody retrying.
func TestReconcileLapsedCapture(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testReconcileLapsedCapture)
}

func testReconcileLapsedCapture(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1200, "token": tok, "capture": false}).Want(t, 201).Str("id")
	s.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil).Want(t, 200)
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET status = 'requires_capture', amount_captured = 0, amount_capturable = 1200,
		pending_op = 'capture', pending_until = 1 WHERE id = ?`), pid); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim
	s.Stop()
	s2 := harness.Start(t, harness.WithDataDir(s.DataDir), harness.WithDatabaseURL(s.Cfg.DatabaseURL), harness.WithSim(sim))
	harness.WaitUntil(t, 10*time.Second, "the lapsed capture to be settled", func() bool { return s2.Call("GET", "/v1/payments/"+pid, sk, nil).Str("status") == "succeeded" })
	p := s2.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
	if harness.Dig(p.Body, "amount_captured") != float64(1200) || harness.Dig(p.Body, "amount_capturable") != float64(0) {
		t.Fatalf("settled capture: %s", p.Raw)
	}
	s2.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201) // the money is refundable again
}

// Refunds a crash left pending are settled at the next start from what the
// acquirer refunded: one that reached the acquirer succeeds, one that did not
// fails and frees its amount to be refunded again.
func TestReconcilePendingRefunds(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testReconcilePendingRefunds)
}

func testReconcilePendingRefunds(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	pid := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "token": tok}).Want(t, 201).Str("id")
	reached := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 300}).Want(t, 201).Str("id")
	db := s.OpenDB(t)
	// "reached": the acquirer refunded it, our record still says pending.
	if _, err := db.Exec(s.Rebind(`UPDATE refunds SET status = 'pending', updated = 0 WHERE id = ?`), reached); err != nil {
		t.Fatal(err)
	}
	// "lost": recorded and reserved after it, never sent to the acquirer.
	lost := "re_" + strings.Repeat("b", 26)
	if _, err := db.Exec(s.Rebind(`INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, reason, processor_ref, created, updated)
		SELECT ?, merchant_id, payment_id, 200, 'MYR', 'pending', '', '', created + 1, 0 FROM refunds WHERE id = ?`), lost, reached); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET amount_refunded = 500 WHERE id = ?`), pid); err != nil {
		t.Fatal(err)
	}
	sim := s.Sim
	s.Stop()
	s2 := harness.Start(t, harness.WithDataDir(s.DataDir), harness.WithDatabaseURL(s.Cfg.DatabaseURL), harness.WithSim(sim))
	harness.WaitUntil(t, 10*time.Second, "the pending refunds to be settled", func() bool {
		for _, r := range s2.Call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Body["data"].([]any) {
			if harness.Dig(r, "status") == "pending" {
				return false
			}
		}
		return true
	})
	for _, r := range s2.Call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Body["data"].([]any) {
		want := map[string]string{reached: "succeeded", lost: "failed"}[harness.Dig(r, "id").(string)]
		if harness.Dig(r, "status") != want {
			t.Fatalf("refund %v: status %v, want %s", harness.Dig(r, "id"), harness.Dig(r, "status"), want)
		}
	}
	p := s2.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
	if harness.Dig(p.Body, "amount_refunded") != float64(300) {
		t.Fatalf("the lost refund's reservation must be released: %s", p.Raw)
	}
	s2.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 700}).Want(t, 201) // the rest can be refunded
}

// A sale whose answer was lost must not be recorded as failed (the card was
// charged): it stays processing, a retry with the same key finds the charge,
// and the client ends with one payment, one capture.
func TestPaymentOutcomeUnknownStaysProcessing(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentOutcomeUnknownStaysProcessing)
}

func testPaymentOutcomeUnknownStaysProcessing(t *testing.T, opts ...harness.Option) {
	fp := harness.NewAcquirer()
	s := harness.Start(t, append(opts, harness.WithProcessor(fp))...)
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	body := map[string]any{"amount": 2500, "token": tok}
	fp.LoseSale.Store(true)
	first := s.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "lost-answer").Want(t, 502)
	if first.Str("error", "payment", "status") != "processing" {
		t.Fatalf("an unknown outcome must stay processing: %s", first.Raw)
	}
	again := s.Call("POST", "/v1/payments", sk, body, "Idempotency-Key", "lost-answer").Want(t, 201)
	if again.Str("status") != "succeeded" || again.Str("id") != first.Str("error", "payment", "id") {
		t.Fatalf("retry: %s", again.Raw)
	}
	if st := fp.Stats(); st.Captures != 1 {
		t.Fatalf("one capture expected: %+v", st)
	}
}
