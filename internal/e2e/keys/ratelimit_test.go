package keys

import (
	"strconv"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestRateLimit: with --rate-limit 1 a key gets a burst of 2, then 429
// rate_limit_error with Retry-After (whole seconds, at least 1), and is
// served again once it waits; another merchant's key, and the same
// merchant's restricted key, have their own buckets. Without the flag
// nothing is limited.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithConfig(func(c *app.Config) { c.RateLimit = 1 }))
	c, other := s.NewMerchant("Kedai Kunci"), s.NewMerchant("Kedai Lain")
	var limited harness.Resp
	for i := range 10 { // ten quick calls cannot all fit a burst of 2 at one a second
		r := s.Call("GET", "/v1/merchant", c.SecretKey, nil)
		if r.Status == 429 {
			limited = r
			break
		}
		if r.Status != 200 || i >= 5 {
			t.Fatalf("call %d: %d %s (no 429 yet)", i+1, r.Status, r.Raw)
		}
	}
	if typ, code, _ := limited.ErrInfo(); typ != "rate_limit_error" || code == "" {
		t.Fatalf("429 body: %s", limited.Raw)
	}
	if ra, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", limited.Header.Get("Retry-After"))
	}
	s.Call("GET", "/v1/merchant", other.SecretKey, nil).Want(t, 200)
	rk := s.Call("POST", "/v1/api_keys", other.SecretKey, map[string]any{"name": "r", "scopes": []string{"payments:read"}}).Want(t, 201).Str("key")
	s.Call("GET", "/v1/payments", rk, nil).Want(t, 200)
	harness.WaitUntil(t, 5*time.Second, "the limited key served again", func() bool {
		r := s.Call("GET", "/v1/merchant", c.SecretKey, nil)
		if r.Status != 200 && r.Status != 429 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		return r.Status == 200
	})

	free := harness.Start(t)
	m := free.NewMerchant("Kedai Bebas")
	for range 20 {
		free.Call("GET", "/v1/merchant", m.SecretKey, nil).Want(t, 200)
	}
}
