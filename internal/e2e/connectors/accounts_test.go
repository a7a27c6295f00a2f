package connectors

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// A processor account is created, listed, read and deleted; what it was
// given as credentials never comes back, and another merchant cannot see it.
func TestProcessorAccountsLifecycle(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		r := s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "name": "Sim backup",
			"currencies": []string{"usd", "EUR"}, "priority": 5}).Want(t, 201)
		id := r.Str("id")
		if !strings.HasPrefix(id, "pa_") || r.Str("object") != "processor_account" || r.Str("type") != "simulator" ||
			r.Str("mode") != "test" || r.Num("priority") != 5 {
			t.Fatalf("created: %s", r.Raw)
		}
		if cur := harness.Dig(r.Body, "currencies").([]any); len(cur) != 2 || cur[0] != "USD" || cur[1] != "EUR" {
			t.Fatalf("currencies: %s", r.Raw)
		}
		if _, ok := r.Body["credentials"]; ok {
			t.Fatalf("an account shows its credentials: %s", r.Raw)
		}
		l := s.Call("GET", "/v1/processor_accounts", sk, nil).Want(t, 200)
		if data := l.Body["data"].([]any); len(data) != 1 || harness.Str(data[0], "id") != id {
			t.Fatalf("list: %s", l.Raw)
		}
		s.Call("GET", "/v1/processor_accounts/"+id, sk, nil).Want(t, 200)
		other := s.NewMerchant("Other shop")
		s.Call("GET", "/v1/processor_accounts/"+id, other.SecretKey, nil).Want(t, 404)
		s.Call("DELETE", "/v1/processor_accounts/"+id, other.SecretKey, nil).Want(t, 404)
		s.Call("DELETE", "/v1/processor_accounts/"+id, sk, nil).Want(t, 200)
		s.Call("GET", "/v1/processor_accounts/"+id, sk, nil).Want(t, 404)
		s.Call("DELETE", "/v1/processor_accounts/"+id, sk, nil).Want(t, 404)
		if data := s.Call("GET", "/v1/processor_accounts", sk, nil).Want(t, 200).Body["data"].([]any); len(data) != 0 {
			t.Fatalf("a deleted account is listed")
		}
	})
}

// Every bad field of an account is a 400 naming it.
func TestProcessorAccountBadInput(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	for _, c := range []struct {
		body  map[string]any
		param string
	}{
		{map[string]any{"name": "x"}, "type"},
		{map[string]any{"type": "paypal"}, "type"},
		{map[string]any{"type": "simulator", "mode": "prod"}, "mode"},
		{map[string]any{"type": "simulator", "currencies": []string{"usd", "dollars"}}, "currencies[1]"},
		{map[string]any{"type": "simulator", "priority": -1}, "priority"},
		{map[string]any{"type": "simulator", "base_url": "http://127.0.0.1:9"}, "base_url"},
		{map[string]any{"type": "simulator", "credentials": map[string]string{"secret_key": "x"}}, "credentials.secret_key"},
		{map[string]any{"type": "simulator", "name": strings.Repeat("n", 101)}, "name"},
	} {
		r := s.Call("POST", "/v1/processor_accounts", sk, c.body)
		if _, _, param := r.ErrInfo(); r.Status != 400 || param != c.param {
			t.Errorf("%v: %d %s, want 400 naming %s", c.body, r.Status, r.Raw, c.param)
		}
	}
	if data := s.Call("GET", "/v1/processor_accounts", sk, nil).Want(t, 200).Body["data"].([]any); len(data) != 0 {
		t.Fatalf("a refused account was stored")
	}
}

// Without accounts a payment goes to the server's own acquirer; with one, to
// the account that takes its currency, which the payment names; a currency
// no account takes, or an account the merchant does not have, is refused
// before anything is recorded.
func TestPaymentsRoutedByCurrency(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		p := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "USD", "card": harness.Card("4242424242424242")}).Want(t, 201)
		if harness.Dig(p.Body, "processor", "account") != nil || p.Str("processor", "type") != "simulator" ||
			p.Str("processor", "reference") == "" {
			t.Fatalf("a payment without accounts: %s", p.Raw)
		}
		pa := s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator", "currencies": []string{"USD"}}).Want(t, 201).Str("id")
		p = s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "USD", "capture": false,
			"card": harness.Card("4242424242424242")}).Want(t, 201)
		if p.Str("processor", "account") != pa || p.Str("processor", "type") != "simulator" {
			t.Fatalf("routed payment: %s", p.Raw)
		}
		// Captured through the account it was authorized at.
		c := s.Call("POST", "/v1/payments/"+p.Str("id")+"/capture", sk, nil).Want(t, 200)
		if c.Str("status") != "succeeded" || c.Str("processor", "account") != pa {
			t.Fatalf("capture: %s", c.Raw)
		}
		before := len(s.PaymentIDs(t, sk))
		r := s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "EUR", "card": harness.Card("4242424242424242")})
		if _, _, param := r.ErrInfo(); r.Status != 400 || param != "currency" {
			t.Fatalf("a currency no account takes: %d %s", r.Status, r.Raw)
		}
		r = s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "USD", "processor_account": "pa_unknown",
			"card": harness.Card("4242424242424242")})
		if _, _, param := r.ErrInfo(); r.Status != 400 || param != "processor_account" {
			t.Fatalf("an unknown account: %d %s", r.Status, r.Raw)
		}
		other := s.NewMerchant("Other shop")
		r = s.Call("POST", "/v1/payments", other.SecretKey, map[string]any{"amount": 1000, "currency": "USD", "processor_account": pa,
			"card": harness.Card("4242424242424242")})
		if _, _, param := r.ErrInfo(); r.Status != 400 || param != "processor_account" {
			t.Fatalf("another merchant's account: %d %s", r.Status, r.Raw)
		}
		if after := len(s.PaymentIDs(t, sk)); after != before {
			t.Fatalf("refused payments were recorded: %d → %d", before, after)
		}
		// A token is verified through the route too, in the merchant's
		// default currency, which the USD account does not take.
		r = s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "processor_account": pa})
		if _, _, param := r.ErrInfo(); r.Status != 400 || param != "processor_account" {
			t.Fatalf("a verification at an account that does not take the currency: %d %s", r.Status, r.Raw)
		}
		every := s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "simulator"}).Want(t, 201).Str("id")
		tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "processor_account": every}).Want(t, 201)
		if tok.Str("verification", "status") != "verified" {
			t.Fatalf("token: %s", tok.Raw)
		}
	})
}
