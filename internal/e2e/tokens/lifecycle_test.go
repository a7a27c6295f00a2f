package tokens

import (
	"fmt"
	"testing"

	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestTokenLifecycle is the walk: tokenize → get (masked) → list by
// customer → disable → validate (invalid: disabled) → enable → validate →
// delete → get is 404.
func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testTokenLifecycle)
}

func testTokenLifecycle(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example", "name": "Abu", "email": "abu@example.com"}).Want(t, 201)
	cid := cus.Str("id")

	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "customer": cid}).Want(t, 201)
	id := tok.Str("id")
	if tok.Str("status") != "active" || tok.Str("object") != "token" || len(id) < 4+26 || id[:4] != "tok_" {
		t.Fatalf("token: %s", tok.Raw)
	}
	if tok.Str("card", "mask") != "424242******4242" || tok.Str("card", "last4") != "4242" || tok.Str("card", "brand") != "visa" {
		t.Fatalf("card view: %s", tok.Raw)
	}
	if tok.Str("verification", "status") != "verified" || tok.Str("verification", "cvc_check") != "pass" {
		t.Fatalf("verification: %s", tok.Raw)
	}
	if st := s.Sim.Stats(); st.Verifications != 1 || st.Voids != 1 {
		t.Fatalf("tokenization must authorize 100 and void it: %+v", st)
	}

	got := s.Call("GET", "/v1/tokens/"+id, sk, nil).Want(t, 200)
	if got.Str("card", "mask") != "424242******4242" || got.Str("customer") != cid {
		t.Fatalf("get: %s", got.Raw)
	}

	list := s.Call("GET", "/v1/tokens?customer="+cid, sk, nil).Want(t, 200)
	data, _ := list.Body["data"].([]any)
	if len(data) != 1 || harness.Dig(data[0], "id") != id || list.Body["has_more"] != false || list.Str("object") != "list" {
		t.Fatalf("list by customer: %s", list.Raw)
	}

	if r := s.Call("POST", "/v1/tokens/"+id+"/disable", sk, nil).Want(t, 200); r.Str("status") != "disabled" {
		t.Fatalf("disable: %s", r.Raw)
	}
	v := s.Call("POST", "/v1/tokens/"+id+"/validate", sk, nil).Want(t, 200)
	if v.Body["valid"] != false || v.Str("reason") != "disabled" {
		t.Fatalf("validate disabled: %s", v.Raw)
	}
	if r := s.Call("POST", "/v1/tokens/"+id+"/enable", sk, nil).Want(t, 200); r.Str("status") != "active" {
		t.Fatalf("enable: %s", r.Raw)
	}
	v = s.Call("POST", "/v1/tokens/"+id+"/validate", sk, map[string]any{"cvc": "123"}).Want(t, 200)
	if v.Body["valid"] != true || v.Body["reason"] != nil || v.Str("cvc_check") != "pass" {
		t.Fatalf("validate active: %s", v.Raw)
	}
	audit := s.Call("GET", "/v1/tokens/"+id+"/audit", sk, nil).Want(t, 200)
	if recs, _ := audit.Body["data"].([]any); len(recs) != 1 || harness.Dig(recs[0], "action") != "detokenize" || harness.Dig(recs[0], "request_id") == "" {
		t.Fatalf("every detokenization must be audited: %s", audit.Raw)
	}

	s.Call("DELETE", "/v1/tokens/"+id, sk, nil).Want(t, 200)
	s.Call("GET", "/v1/tokens/"+id, sk, nil).Want(t, 404)
	s.Call("DELETE", "/v1/tokens/"+id, sk, nil).Want(t, 404)
	if ct := s.CardCiphertext(t, id); ct != nil {
		t.Fatalf("deleted token still holds %d bytes of ciphertext", len(ct))
	}
}

func TestSameCardForCustomerReturnsExistingToken(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testSameCardForCustomerReturnsExistingToken)
}

func testSameCardForCustomerReturnsExistingToken(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	cid := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "u1"}).Want(t, 201).Str("id")
	first := s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444"), "customer": cid}).Want(t, 201)
	c := harness.Card("5555 5555 5555 4444")
	c["exp_year"] = c["exp_year"].(int) + 2
	c["exp_month"] = 3
	again := s.Tokenize(t, sk, map[string]any{"card": c, "customer": cid}).Want(t, 200)
	if again.Str("id") != first.Str("id") {
		t.Fatalf("a second token was minted for the same card: %s vs %s", again.Str("id"), first.Str("id"))
	}
	if harness.Dig(again.Body, "card", "exp_month") != float64(3) || harness.Dig(again.Body, "card", "exp_year") != float64(c["exp_year"].(int)) {
		t.Fatalf("expiry not updated: %s", again.Raw)
	}
	// Another customer, or no customer, gets its own token.
	cid2 := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "u2"}).Want(t, 201).Str("id")
	other := s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444"), "customer": cid2}).Want(t, 201)
	if other.Str("id") == first.Str("id") || other.Str("card", "fingerprint") != first.Str("card", "fingerprint") {
		t.Fatalf("fingerprints must match across customers of one merchant, tokens must not: %s", other.Raw)
	}
	// Another merchant sees a different fingerprint for the same card.
	m2 := s.NewMerchant("Other shop")
	x := s.Tokenize(t, m2.SecretKey, map[string]any{"card": harness.Card("5555555555554444")}).Want(t, 201)
	if x.Str("card", "fingerprint") == first.Str("card", "fingerprint") {
		t.Fatal("fingerprints must be scoped per merchant")
	}
}

// Concurrent saves of one card for one customer end with one token.
func TestConcurrentSameCardOneToken(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testConcurrentSameCardOneToken)
}

func testConcurrentSameCardOneToken(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	cid := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "race"}).Want(t, 201).Str("id")
	ids := make(chan string, 20)
	for range 20 {
		go func() {
			r := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "customer": cid})
			if r.Status != 200 && r.Status != 201 {
				ids <- "status " + fmt.Sprint(r.Status) + string(r.Raw)
				return
			}
			ids <- r.Str("id")
		}()
	}
	seen := map[string]bool{}
	for range 20 {
		seen[<-ids] = true
	}
	if len(seen) != 1 {
		t.Fatalf("want one token, got %v", seen)
	}
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testCustomers)
}

func testCustomers(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	c := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example", "name": "Abu", "email": "abu@example.com",
		"phone": "+60123456789", "metadata": map[string]string{"tier": "gold"}}).Want(t, 201)
	cid := c.Str("id")
	if c.Str("object") != "customer" || c.Str("reference") != "user_example" || harness.Dig(c.Body, "metadata", "tier") != "gold" || c.Str("created") == "" {
		t.Fatalf("customer: %s", c.Raw)
	}
	t1 := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "customer": cid}).Want(t, 201).Str("id")
	t2 := s.Tokenize(t, sk, map[string]any{"card": harness.Card("378282246310005"), "customer": cid}).Want(t, 201).Str("id")

	got := s.Call("GET", "/v1/customers/"+cid, sk, nil).Want(t, 200)
	if toks, _ := got.Body["tokens"].([]any); len(toks) != 2 {
		t.Fatalf("customer must include its tokens: %s", got.Raw)
	}
	found := s.Call("GET", "/v1/customers?reference=user_example", sk, nil).Want(t, 200)
	if data, _ := found.Body["data"].([]any); len(data) != 1 || harness.Dig(data[0], "id") != cid {
		t.Fatalf("find by reference: %s", found.Raw)
	}
	if data, _ := s.Call("GET", "/v1/customers?reference=nobody", sk, nil).Want(t, 200).Body["data"].([]any); len(data) != 0 {
		t.Fatal("unknown reference must find nothing")
	}
	s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example"}).Want(t, 409)

	// Another merchant may use the same reference, and cannot see this customer.
	m2 := s.NewMerchant("Other")
	s.Call("POST", "/v1/customers", m2.SecretKey, map[string]any{"reference": "user_example"}).Want(t, 201)
	s.Call("GET", "/v1/customers/"+cid, m2.SecretKey, nil).Want(t, 404)
	s.Call("DELETE", "/v1/customers/"+cid, m2.SecretKey, nil).Want(t, 404)

	s.Call("DELETE", "/v1/customers/"+cid, sk, nil).Want(t, 200)
	s.Call("GET", "/v1/customers/"+cid, sk, nil).Want(t, 404)
	for _, tid := range []string{t1, t2} {
		s.Call("GET", "/v1/tokens/"+tid, sk, nil).Want(t, 404)
		if ct := s.CardCiphertext(t, tid); ct != nil {
			t.Fatalf("deleting a customer must erase its cards; %s still has ciphertext", tid)
		}
	}
	// The reference is free again.
	s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example"}).Want(t, 201)
}

func TestBatchTokenize(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testBatchTokenize)
}

func testBatchTokenize(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	r := s.Call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": []any{
		harness.Card("4242424242424242"), harness.Card("4242424242424241"), harness.Card("4000000000009995"), harness.Card("5555555555554444"),
	}}).Want(t, 200)
	data, _ := r.Body["data"].([]any)
	if len(data) != 4 {
		t.Fatalf("want 4 results in order: %s", r.Raw)
	}
	if harness.Dig(data[0], "token", "card", "last4") != "4242" || harness.Dig(data[3], "token", "card", "last4") != "4444" {
		t.Fatalf("results out of order: %s", r.Raw)
	}
	if harness.Dig(data[1], "error", "code") != "incorrect_number" || harness.Dig(data[1], "error", "param") != "cards[1].number" {
		t.Fatalf("bad card must be reported in place: %s", r.Raw)
	}
	if harness.Dig(data[2], "error", "decline_code") != "insufficient_funds" || harness.Dig(data[2], "error", "type") != "card_error" {
		t.Fatalf("declined card must be reported in place: %s", r.Raw)
	}
	if n := len(s.Call("GET", "/v1/tokens", sk, nil).Want(t, 200).Body["data"].([]any)); n != 2 {
		t.Fatalf("want 2 tokens stored, got %d", n)
	}
	many := make([]any, 100)
	for i := range many {
		many[i] = harness.Card(cardpkg.CompleteLuhn(fmt.Sprintf("424242%09d", i)))
	}
	r = s.Call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": many}).Want(t, 200)
	for i, d := range r.Body["data"].([]any) {
		if harness.Dig(d, "token", "id") == nil {
			t.Fatalf("item %d failed: %v", i, d)
		}
	}
	s.Call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": append(many, harness.Card("4242424242424242"))}).Want(t, 400)
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testListPagination)
}

func testListPagination(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	want := map[string]bool{}
	for i := range 7 {
		want[s.Tokenize(t, sk, map[string]any{"card": harness.Card(cardpkg.CompleteLuhn(fmt.Sprintf("555555%09d", i)))}).Want(t, 201).Str("id")] = true
	}
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		q := "/v1/tokens?limit=3"
		if after != "" {
			q += "&starting_after=" + after
		}
		r := s.Call("GET", q, sk, nil).Want(t, 200)
		data := r.Body["data"].([]any)
		for _, d := range data {
			id := harness.Dig(d, "id").(string)
			if seen[id] {
				t.Fatalf("token %s listed twice", id)
			}
			seen[id] = true
			after = id
		}
		if r.Body["has_more"] != true {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("pagination saw %d of %d tokens", len(seen), len(want))
	}
}

// Everything acknowledged survives a restart; a restart does not mint another development merchant.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testRestartKeepsData)
}

func testRestartKeepsData(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	id := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201).Str("id")
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true, "default_currency": "KWD"}).Want(t, 200)
	s2 := s.Restart()
	if s2.Dev.ID != "" {
		t.Fatal("a restart must not create another development merchant")
	}
	if r := s2.Call("GET", "/v1/tokens/"+id, sk, nil).Want(t, 200); r.Str("card", "mask") != "424242******4242" {
		t.Fatalf("after restart: %s", r.Raw)
	}
	s2.Call("POST", "/v1/tokens/"+id+"/validate", sk, nil).Want(t, 200)
	m := s2.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
	if m.Body["require_cvc_for_saved_cards"] != true || m.Str("default_currency") != "KWD" {
		t.Fatalf("settings lost: %s", m.Raw)
	}
}

func TestMerchantSettings(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	m := s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
	if m.Str("id") != s.Dev.ID || m.Str("default_currency") != "MYR" || m.Body["require_cvc_for_saved_cards"] != false {
		t.Fatalf("merchant: %s", m.Raw)
	}
	for k := range m.Body {
		if k == "secret_key" || k == "hmac_secret" {
			t.Fatalf("merchant view leaks %s", k)
		}
	}
	u := s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_return_url": "https://shop.example/return",
		"tokenization_callback_url": "https://shop.example/cb", "frame_ancestors": []string{"https://shop.example"}}).Want(t, 200)
	if u.Str("tokenization_return_url") != "https://shop.example/return" || u.Str("default_currency") != "MYR" {
		t.Fatalf("patch must change only the given fields: %s", u.Raw)
	}
	for _, bad := range []map[string]any{
		{"default_currency": "XYZ"}, {"default_currency": "myr"}, {"tokenization_return_url": "javascript:alert(1)"},
		{"frame_ancestors": []string{"https://a.example; script-src *"}}, {"colour": "red"},
	} {
		r := s.Call("PATCH", "/v1/merchant", sk, bad).Want(t, 400)
		if _, _, p := r.ErrInfo(); p == "" {
			t.Fatalf("error must name the field: %s", r.Raw)
		}
	}
}
