package connectors

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/authorizenet/anetfake"
)

// anetAccount runs a local Authorize.net (the fake checks every request
// against the documented shape) and makes it the merchant's account.
func anetAccount(t *testing.T, s *harness.Server, sk string) (*anetfake.Fake, string) {
	t.Helper()
	fake := anetfake.New("5KP3u95bQpv", "346HZ32z3fP4hTG2")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	r := s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "authorize_net", "name": "Authorize.net (fake)",
		"base_url": srv.URL, "credentials": map[string]string{"api_login_id": "5KP3u95bQpv", "transaction_key": "346HZ32z3fP4hTG2"}}).Want(t, 201)
	if strings.Contains(string(r.Raw), "346HZ32z3fP4hTG2") {
		t.Fatalf("the account answer shows its transaction key: %s", r.Raw)
	}
	return fake, r.Str("id")
}

// noRejections fails if the fake refused anything Coffer sent.
func noRejections(t *testing.T, fake *anetfake.Fake) {
	t.Helper()
	if r := fake.Rejections(); len(r) > 0 {
		t.Fatalf("Authorize.net refused what Coffer sent: %v", r)
	}
}

// Authorize, capture and (once settled) refund through an Authorize.net
// account: one transaction at the gateway, and the payment names it.
func TestAuthorizeNetAuthorizeCaptureRefund(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		fake, pa := anetAccount(t, s, sk)
		p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 4200, "currency": "USD", "capture": false,
			"card": harness.Card("4111111111111111")}).Want(t, 201)
		if p.Str("status") != "requires_capture" || p.Str("processor", "account") != pa || p.Str("processor", "type") != "authorize_net" {
			t.Fatalf("authorization: %s", p.Raw)
		}
		c := s.Call("POST", "/v1/payments/"+p.Str("id")+"/capture", sk, nil).Want(t, 200)
		if c.Str("status") != "succeeded" || c.Num("amount_captured") != 4200 {
			t.Fatalf("capture: %s", c.Raw)
		}
		fake.Settle()
		r := s.Call("POST", "/v1/payments/"+p.Str("id")+"/refunds", sk, map[string]any{"amount": 1200}).Want(t, 201)
		if r.Str("status") != "succeeded" {
			t.Fatalf("refund: %s", r.Raw)
		}
		charges := 0
		for _, tx := range fake.Transactions() {
			if tx.Type != "refundTransaction" {
				charges++
			}
		}
		if charges != 1 {
			t.Fatalf("%d charge transactions at the gateway, want 1: %+v", charges, fake.Transactions())
		}
		noRejections(t, fake)
	})
}

// SensePass's pay with tokenSource "Authorize.net" charges the customer
// payment profile through the merchant's Authorize.net account; Coffer
// never sees the card.
func TestSensePassPaysAnAuthorizeNetProfile(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	fake, pa := anetAccount(t, s, sk)
	fake.AddProfile("12345", "55555", "4007000000027", "2034-12")
	r := harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": "", "apiKey": sk,
		"tokenSource": "Authorize.net", "tokenData": map[string]any{"profile_id": "12345", "payment_id": "55555"}})
	if r.Status != 201 || r.Body["success"] != true || r.Str("confirmation", "approvedBy") != "Authorize.Net" {
		t.Fatalf("pay with an Authorize.net profile: %d %s", r.Status, r.Raw)
	}
	p := s.Call("GET", "/v1/payments/"+r.Str("transactionNumber"), sk, nil).Want(t, 200)
	if p.Str("status") != "succeeded" || p.Str("processor", "account") != pa || p.Num("amount_captured") != 200 {
		t.Fatalf("the payment: %s", p.Raw)
	}
	txs := fake.Transactions()
	if len(txs) != 1 || txs[0].CustomerProfileID != "12345" || txs[0].PaymentProfileID != "55555" || txs[0].Amount != 200 {
		t.Fatalf("gateway transactions: %+v", txs)
	}
	noRejections(t, fake)
	// An unknown profile is the gateway's refusal, not a charge elsewhere.
	before := s.Sim.Stats()
	r = harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": "", "apiKey": sk,
		"tokenSource": "Authorize.net", "tokenData": map[string]any{"profile_id": "99999", "payment_id": "1"}})
	if r.Status < 400 || r.Body["success"] == true {
		t.Fatalf("an unknown profile: %d %s", r.Status, r.Raw)
	}
	if d := harness.StatsDelta(before, s.Sim.Stats()); d.Authorizations != 0 || d.Captures != 0 {
		t.Fatalf("an Authorize.net profile was charged at the simulator: %+v", d)
	}
}

// The gateway charged but its answer was lost (a 500 after acting): Coffer
// asks it, learns it did, and takes its answer under the same reference —
// the payment succeeds with one charge, and no other account is tried.
func TestAuthorizeNetLostAnswerChargedOnce(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	fake, pa := anetAccount(t, s, sk)
	s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "priority": 5}).Want(t, 201)
	fake.FailAfter("createTransactionRequest", 1)
	before := s.Sim.Stats()
	p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1500, "currency": "USD", "card": harness.Card("4111111111111111")}).Want(t, 201)
	if p.Str("status") != "succeeded" || p.Str("processor", "account") != pa {
		t.Fatalf("payment: %s", p.Raw)
	}
	if n := len(fake.Transactions()); n != 1 {
		t.Fatalf("%d transactions at the gateway, want 1", n)
	}
	if d := harness.StatsDelta(before, s.Sim.Stats()); d.Authorizations != 0 || d.Captures != 0 {
		t.Fatalf("the payment was also made at the next account: %+v", d)
	}
	noRejections(t, fake)
}

// A server that died between the gateway's authorization and its own record
// leaves the payment processing; at the next start Reconcile asks the
// account's own acquirer (not the simulator), which reverses the hold.
func TestReconcileAsksThePaymentsAcquirer(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		fake, _ := anetAccount(t, s, sk)
		id := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 2600, "currency": "USD", "capture": false,
			"card": harness.Card("4111111111111111")}).Want(t, 201).Str("id")
		if _, err := s.OpenDB(t).Exec(s.Rebind(`UPDATE payments SET status = 'processing', updated = 0 WHERE id = ?`), id); err != nil {
			t.Fatal(err)
		}
		sim := s.Sim
		before := sim.Stats()
		s2 := harness.Start(t, harness.WithDataDir(s.DataDir), harness.WithDatabaseURL(s.Cfg.DatabaseURL), harness.WithSim(sim)) // reconcile runs at start
		s.Stop()
		harness.WaitUntil(t, 10*time.Second, "the interrupted payment to be reversed", func() bool {
			return s2.Call("GET", "/v1/payments/"+id, sk, nil).Str("status") == "failed"
		})
		if p := s2.Call("GET", "/v1/payments/"+id, sk, nil).Want(t, 200); !strings.Contains(p.Str("failure", "message"), "reversed") {
			t.Fatalf("reconciled payment: %s", p.Raw)
		}
		voided := false
		for _, tx := range fake.Transactions() {
			voided = voided || tx.Status == "voided"
		}
		if !voided {
			t.Fatalf("the gateway's authorization was not voided: %+v", fake.Transactions())
		}
		if d := harness.StatsDelta(before, sim.Stats()); d.Authorizations+d.Voids+d.Captures+d.Refunds != 0 {
			t.Fatalf("reconciliation went to the simulator: %+v", d)
		}
		noRejections(t, fake)
	})
}
