package e2e

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"
)

func TestIdempotentReplay(t *testing.T) { backends(t, testIdempotentReplay) }

func testIdempotentReplay(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	body := map[string]any{"card": card("4242424242424242")}
	a := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "k-1").want(t, 201)
	b := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "k-1").want(t, 201)
	if !bytes.Equal(a.Raw, b.Raw) || b.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay must be byte-identical:\n%s\n%s", a.Raw, b.Raw)
	}
	if st := s.Sim.Stats(); st.Verifications != 1 {
		t.Fatalf("a replay must not reach the processor again: %+v", st)
	}
	other := map[string]any{"card": card("5555555555554444")}
	r := s.call("POST", "/v1/tokens", sk, other, "Idempotency-Key", "k-1").want(t, 409)
	if typ, _, _ := r.errInfo(); typ != "idempotency_error" {
		t.Fatalf("reuse with another body: %s", r.Raw)
	}
	// Keys are per merchant: another merchant's identical key is unrelated.
	m2 := s.newMerchant("m2")
	s.call("POST", "/v1/tokens", m2.SecretKey, other, "Idempotency-Key", "k-1").want(t, 201)
	// Errors are replayed too (they are answers, not server faults).
	d := map[string]any{"card": card("4000000000000002")}
	e1 := s.call("POST", "/v1/tokens", sk, d, "Idempotency-Key", "k-2").want(t, 402)
	e2 := s.call("POST", "/v1/tokens", sk, d, "Idempotency-Key", "k-2").want(t, 402)
	if !bytes.Equal(e1.Raw, e2.Raw) {
		t.Fatal("a declined response must replay identically")
	}
}

// 50 concurrent requests with one key: one verification at the processor,
// one token, and every caller gets the same response.
func TestIdempotencyConcurrent(t *testing.T) { backends(t, testIdempotencyConcurrent) }

func testIdempotencyConcurrent(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	body := map[string]any{"card": card("4242424242424242")}
	var wg sync.WaitGroup
	out := make([]resp, 50)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "same-key")
		}()
	}
	wg.Wait()
	for i, r := range out {
		if r.Status != 201 || !bytes.Equal(r.Raw, out[0].Raw) {
			t.Fatalf("response %d differs: %d %s vs %s", i, r.Status, r.Raw, out[0].Raw)
		}
	}
	if st := s.Sim.Stats(); st.Verifications != 1 || st.Authorizations != 1 {
		t.Fatalf("the processor was called more than once: %+v", st)
	}
	if n := len(s.call("GET", "/v1/tokens", sk, nil).want(t, 200).Body["data"].([]any)); n != 1 {
		t.Fatalf("want 1 token, got %d", n)
	}
}

func TestIdempotencyAcrossRestart(t *testing.T) { backends(t, testIdempotencyAcrossRestart) }

func testIdempotencyAcrossRestart(t *testing.T, opts ...option) {
	s := start(t, opts...)
	sk := s.Dev.SecretKey
	body := map[string]any{"card": card("4242424242424242")}
	a := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "restart-key").want(t, 201)
	s2 := s.restart()
	b := s2.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", "restart-key").want(t, 201)
	if !bytes.Equal(a.Raw, b.Raw) {
		t.Fatalf("after a restart the stored response must replay:\n%s\n%s", a.Raw, b.Raw)
	}
	if st := s2.Sim.Stats(); st.Verifications != 0 {
		t.Fatalf("the replay reached the processor: %+v", st)
	}
}

// The stored request digest is keyed per merchant: a plain hash of a body
// that holds a PAN could be brute-forced from a stolen database.
func TestIdempotencyDigestIsKeyed(t *testing.T) { backends(t, testIdempotencyDigestIsKeyed) }

func testIdempotencyDigestIsKeyed(t *testing.T, opts ...option) {
	s := start(t, opts...)
	m2 := s.newMerchant("m2")
	body := `{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123"}}`
	s.call("POST", "/v1/tokens", s.Dev.SecretKey, body, "Idempotency-Key", "dk").want(t, 201)
	s.call("POST", "/v1/tokens", m2.SecretKey, body, "Idempotency-Key", "dk").want(t, 201)
	db := openDB(t, s)
	var clear int
	db.QueryRow(`SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = 'dk'`).Scan(&clear) // no placeholders: same on both backends
	if clear != 0 {
		t.Fatal("idempotency keys must be stored as keyed digests, not in clear")
	}
	rows, err := db.Query(`SELECT request_hash FROM idempotency_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	plain := sha256.Sum256([]byte("POST /v1/tokens?\n" + body))
	var digests [][]byte
	for rows.Next() {
		var d []byte
		rows.Scan(&d)
		if bytes.Equal(d, plain[:]) {
			t.Fatal("request digest is an unkeyed hash of the body")
		}
		digests = append(digests, d)
	}
	if len(digests) != 2 || bytes.Equal(digests[0], digests[1]) {
		t.Fatalf("want two different per-merchant digests, got %d", len(digests))
	}
}
