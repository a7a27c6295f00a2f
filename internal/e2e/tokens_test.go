package e2e

import (
	"fmt"
	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"testing"
)

// TestTokenLifecycle is the walk: tokenize → get (masked) → list by
// customer → disable → validate (invalid: disabled) → enable → validate →
// delete → get is 404.
func TestTokenLifecycle(t *testing.T) { backends(t, testTokenLifecycle) }

func testTokenLifecycle(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	cus := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example", "name": "Abu", "email": "abu@example.com"}).want(t, 201)
	cid := cus.str("id")

	tok := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242"), "customer": cid}).want(t, 201)
	id := tok.str("id")
	if tok.str("status") != "active" || tok.str("object") != "token" || len(id) < 4+26 || id[:4] != "tok_" {
		t.Fatalf("token: %s", tok.Raw)
	}
	if tok.str("card", "mask") != "424242******4242" || tok.str("card", "last4") != "4242" || tok.str("card", "brand") != "visa" {
		t.Fatalf("card view: %s", tok.Raw)
	}
	if tok.str("verification", "status") != "verified" || tok.str("verification", "cvc_check") != "pass" {
		t.Fatalf("verification: %s", tok.Raw)
	}
	if st := s.Sim.Stats(); st.Verifications != 1 || st.Voids != 1 {
		t.Fatalf("tokenization must authorize 100 and void it: %+v", st)
	}

	got := s.call("GET", "/v1/tokens/"+id, sk, nil).want(t, 200)
	if got.str("card", "mask") != "424242******4242" || got.str("customer") != cid {
		t.Fatalf("get: %s", got.Raw)
	}

	list := s.call("GET", "/v1/tokens?customer="+cid, sk, nil).want(t, 200)
	data, _ := list.Body["data"].([]any)
	if len(data) != 1 || dig(data[0], "id") != id || list.Body["has_more"] != false || list.str("object") != "list" {
		t.Fatalf("list by customer: %s", list.Raw)
	}

	if r := s.call("POST", "/v1/tokens/"+id+"/disable", sk, nil).want(t, 200); r.str("status") != "disabled" {
		t.Fatalf("disable: %s", r.Raw)
	}
	v := s.call("POST", "/v1/tokens/"+id+"/validate", sk, nil).want(t, 200)
	if v.Body["valid"] != false || v.str("reason") != "disabled" {
		t.Fatalf("validate disabled: %s", v.Raw)
	}
	if r := s.call("POST", "/v1/tokens/"+id+"/enable", sk, nil).want(t, 200); r.str("status") != "active" {
		t.Fatalf("enable: %s", r.Raw)
	}
	v = s.call("POST", "/v1/tokens/"+id+"/validate", sk, map[string]any{"cvc": "123"}).want(t, 200)
	if v.Body["valid"] != true || v.Body["reason"] != nil || v.str("cvc_check") != "pass" {
		t.Fatalf("validate active: %s", v.Raw)
	}
	audit := s.call("GET", "/v1/tokens/"+id+"/audit", sk, nil).want(t, 200)
	if recs, _ := audit.Body["data"].([]any); len(recs) != 1 || dig(recs[0], "action") != "detokenize" || dig(recs[0], "request_id") == "" {
		t.Fatalf("every detokenization must be audited: %s", audit.Raw)
	}

	s.call("DELETE", "/v1/tokens/"+id, sk, nil).want(t, 200)
	s.call("GET", "/v1/tokens/"+id, sk, nil).want(t, 404)
	s.call("DELETE", "/v1/tokens/"+id, sk, nil).want(t, 404)
	if ct := cardCiphertext(t, s, id); ct != nil {
		t.Fatalf("deleted token still holds %d bytes of ciphertext", len(ct))
	}
}

func TestSameCardForCustomerReturnsExistingToken(t *testing.T) {
	backends(t, testSameCardForCustomerReturnsExistingToken)
}

func testSameCardForCustomerReturnsExistingToken(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	cid := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "u1"}).want(t, 201).str("id")
	first := tokenize(t, s, sk, map[string]any{"card": card("5555555555554444"), "customer": cid}).want(t, 201)
	c := card("5555 5555 5555 4444")
	c["exp_year"] = c["exp_year"].(int) + 2
	c["exp_month"] = 3
	again := tokenize(t, s, sk, map[string]any{"card": c, "customer": cid}).want(t, 200)
	if again.str("id") != first.str("id") {
		t.Fatalf("a second token was minted for the same card: %s vs %s", again.str("id"), first.str("id"))
	}
	if dig(again.Body, "card", "exp_month") != float64(3) || dig(again.Body, "card", "exp_year") != float64(c["exp_year"].(int)) {
		t.Fatalf("expiry not updated: %s", again.Raw)
	}
	// Another customer, or no customer, gets its own token.
	cid2 := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "u2"}).want(t, 201).str("id")
	other := tokenize(t, s, sk, map[string]any{"card": card("5555555555554444"), "customer": cid2}).want(t, 201)
	if other.str("id") == first.str("id") || other.str("card", "fingerprint") != first.str("card", "fingerprint") {
		t.Fatalf("fingerprints must match across customers of one merchant, tokens must not: %s", other.Raw)
	}
	// Another merchant sees a different fingerprint for the same card.
	m2 := s.newMerchant("Other shop")
	x := tokenize(t, s, m2.SecretKey, map[string]any{"card": card("5555555555554444")}).want(t, 201)
	if x.str("card", "fingerprint") == first.str("card", "fingerprint") {
		t.Fatal("fingerprints must be scoped per merchant")
	}
}

// Concurrent saves of one card for one customer end with one token.
func TestConcurrentSameCardOneToken(t *testing.T) { backends(t, testConcurrentSameCardOneToken) }

func testConcurrentSameCardOneToken(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	cid := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "race"}).want(t, 201).str("id")
	ids := make(chan string, 20)
	for range 20 {
		go func() {
			r := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242"), "customer": cid})
			if r.Status != 200 && r.Status != 201 {
				ids <- "status " + fmt.Sprint(r.Status) + string(r.Raw)
				return
			}
			ids <- r.str("id")
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

func TestCustomers(t *testing.T) { backends(t, testCustomers) }

func testCustomers(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	c := s.call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example", "name": "Abu", "email": "abu@example.com",
		"phone": "+60123456789", "metadata": map[string]string{"tier": "gold"}}).want(t, 201)
	cid := c.str("id")
	if c.str("object") != "customer" || c.str("reference") != "user_example" || dig(c.Body, "metadata", "tier") != "gold" || c.str("created") == "" {
		t.Fatalf("customer: %s", c.Raw)
	}
	t1 := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242"), "customer": cid}).want(t, 201).str("id")
	t2 := tokenize(t, s, sk, map[string]any{"card": card("378282246310005"), "customer": cid}).want(t, 201).str("id")

	got := s.call("GET", "/v1/customers/"+cid, sk, nil).want(t, 200)
	if toks, _ := got.Body["tokens"].([]any); len(toks) != 2 {
		t.Fatalf("customer must include its tokens: %s", got.Raw)
	}
	found := s.call("GET", "/v1/customers?reference=user_example", sk, nil).want(t, 200)
	if data, _ := found.Body["data"].([]any); len(data) != 1 || dig(data[0], "id") != cid {
		t.Fatalf("find by reference: %s", found.Raw)
	}
	if data, _ := s.call("GET", "/v1/customers?reference=nobody", sk, nil).want(t, 200).Body["data"].([]any); len(data) != 0 {
		t.Fatal("unknown reference must find nothing")
	}
	s.call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example"}).want(t, 409)

	// Another merchant may use the same reference, and cannot see this customer.
	m2 := s.newMerchant("Other")
	s.call("POST", "/v1/customers", m2.SecretKey, map[string]any{"reference": "user_example"}).want(t, 201)
	s.call("GET", "/v1/customers/"+cid, m2.SecretKey, nil).want(t, 404)
	s.call("DELETE", "/v1/customers/"+cid, m2.SecretKey, nil).want(t, 404)

	s.call("DELETE", "/v1/customers/"+cid, sk, nil).want(t, 200)
	s.call("GET", "/v1/customers/"+cid, sk, nil).want(t, 404)
	for _, tid := range []string{t1, t2} {
		s.call("GET", "/v1/tokens/"+tid, sk, nil).want(t, 404)
		if ct := cardCiphertext(t, s, tid); ct != nil {
			t.Fatalf("deleting a customer must erase its cards; %s still has ciphertext", tid)
		}
	}
	// The reference is free again.
	s.call("POST", "/v1/customers", sk, map[string]any{"reference": "user_example"}).want(t, 201)
}

func TestBatchTokenize(t *testing.T) { backends(t, testBatchTokenize) }

func testBatchTokenize(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	r := s.call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": []any{
		card("4242424242424242"), card("4242424242424241"), card("4000000000009995"), card("5555555555554444"),
	}}).want(t, 200)
	data, _ := r.Body["data"].([]any)
	if len(data) != 4 {
		t.Fatalf("want 4 results in order: %s", r.Raw)
	}
	if dig(data[0], "token", "card", "last4") != "4242" || dig(data[3], "token", "card", "last4") != "4444" {
		t.Fatalf("results out of order: %s", r.Raw)
	}
	if dig(data[1], "error", "code") != "incorrect_number" || dig(data[1], "error", "param") != "cards[1].number" {
		t.Fatalf("bad card must be reported in place: %s", r.Raw)
	}
	if dig(data[2], "error", "decline_code") != "insufficient_funds" || dig(data[2], "error", "type") != "card_error" {
		t.Fatalf("declined card must be reported in place: %s", r.Raw)
	}
	if n := len(s.call("GET", "/v1/tokens", sk, nil).want(t, 200).Body["data"].([]any)); n != 2 {
		t.Fatalf("want 2 tokens stored, got %d", n)
	}
	many := make([]any, 100)
	for i := range many {
		many[i] = card(cardpkg.CompleteLuhn(fmt.Sprintf("424242%09d", i)))
	}
	r = s.call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": many}).want(t, 200)
	for i, d := range r.Body["data"].([]any) {
		if dig(d, "token", "id") == nil {
			t.Fatalf("item %d failed: %v", i, d)
		}
	}
	s.call("POST", "/v1/tokens/batch", sk, map[string]any{"cards": append(many, card("4242424242424242"))}).want(t, 400)
}

func TestListPagination(t *testing.T) { backends(t, testListPagination) }

func testListPagination(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	want := map[string]bool{}
	for i := range 7 {
		want[tokenize(t, s, sk, map[string]any{"card": card(cardpkg.CompleteLuhn(fmt.Sprintf("555555%09d", i)))}).want(t, 201).str("id")] = true
	}
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		q := "/v1/tokens?limit=3"
		if after != "" {
			q += "&starting_after=" + after
		}
		r := s.call("GET", q, sk, nil).want(t, 200)
		data := r.Body["data"].([]any)
		for _, d := range data {
			id := dig(d, "id").(string)
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
func TestRestartKeepsData(t *testing.T) { backends(t, testRestartKeepsData) }

func testRestartKeepsData(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	id := tokenize(t, s, sk, map[string]any{"card": card("4242424242424242")}).want(t, 201).str("id")
	s.call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true, "default_currency": "KWD"}).want(t, 200)
	s2 := s.restart()
	if s2.Dev.ID != "" {
		t.Fatal("a restart must not create another development merchant")
	}
	if r := s2.call("GET", "/v1/tokens/"+id, sk, nil).want(t, 200); r.str("card", "mask") != "424242******4242" {
		t.Fatalf("after restart: %s", r.Raw)
	}
	s2.call("POST", "/v1/tokens/"+id+"/validate", sk, nil).want(t, 200)
	m := s2.call("GET", "/v1/merchant", sk, nil).want(t, 200)
	if m.Body["require_cvc_for_saved_cards"] != true || m.str("default_currency") != "KWD" {
		t.Fatalf("settings lost: %s", m.Raw)
	}
}

func TestMerchantSettings(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	m := s.call("GET", "/v1/merchant", sk, nil).want(t, 200)
	if m.str("id") != s.Dev.ID || m.str("default_currency") != "MYR" || m.Body["require_cvc_for_saved_cards"] != false {
		t.Fatalf("merchant: %s", m.Raw)
	}
	for k := range m.Body {
		if k == "secret_key" || k == "hmac_secret" {
			t.Fatalf("merchant view leaks %s", k)
		}
	}
	u := s.call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_return_url": "https://shop.example/return",
		"tokenization_callback_url": "https://shop.example/cb", "frame_ancestors": []string{"https://shop.example"}}).want(t, 200)
	if u.str("tokenization_return_url") != "https://shop.example/return" || u.str("default_currency") != "MYR" {
		t.Fatalf("patch must change only the given fields: %s", u.Raw)
	}
	for _, bad := range []map[string]any{
		{"default_currency": "XYZ"}, {"default_currency": "myr"}, {"tokenization_return_url": "javascript:alert(1)"},
		{"frame_ancestors": []string{"https://a.example; script-src *"}}, {"colour": "red"},
	} {
		r := s.call("PATCH", "/v1/merchant", sk, bad).want(t, 400)
		if _, _, p := r.errInfo(); p == "" {
			t.Fatalf("error must name the field: %s", r.Raw)
		}
	}
}
