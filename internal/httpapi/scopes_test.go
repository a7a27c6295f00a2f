package httpapi

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// TestRouteScopes: every /v1 route names the scope a key needs, one that
// exists; routes outside /v1 take no key and name none; the routes that
// manage credentials need a keys: scope, which no restricted key can hold.
func TestRouteScopes(t *testing.T) {
	for _, rt := range (&API{}).table() {
		_, path, _ := strings.Cut(rt.pattern, " ")
		if !strings.HasPrefix(path, "/v1/") {
			if rt.scope != noScope {
				t.Errorf("%s: a route outside /v1 names scope %q", rt.pattern, rt.scope)
			}
			continue
		}
		if !slices.Contains(payment.Scopes, rt.scope) && !slices.Contains(payment.KeyScopes, rt.scope) {
			t.Errorf("%s: scope %q is not one of payment.Scopes or payment.KeyScopes", rt.pattern, rt.scope)
		}
		manages := strings.HasPrefix(path, "/v1/api_keys") || strings.HasPrefix(path, "/v1/merchant/keys") ||
			strings.HasPrefix(path, "/v1/device_keys")
		if manages != strings.HasPrefix(rt.scope, "keys:") {
			t.Errorf("%s: scope %q; key management routes, and only they, need a keys: scope", rt.pattern, rt.scope)
		}
	}
}

// TestScopeEnforced: a restricted key with every scope but a route's own is
// refused there with a 403 naming that scope, before the handler runs; a
// key holding the scope reaches the handler (which answers 400 for the
// empty body or, calling the fake service, 500).
// A rolled secret key is refused the keys: routes and allowed the rest.
func TestScopeEnforced(t *testing.T) {
	m := &store.Merchant{ID: "mer_test"}
	auth := func(string) (*store.Merchant, error) { return m, nil }
	for _, rt := range (&API{}).table() {
		if rt.access != secretKey && rt.access != sessionClient {
			continue
		}
		method, path := concrete(rt.pattern)
		others := slices.DeleteFunc(slices.Clone(payment.Scopes), func(s string) bool { return s == rt.scope })
		cases := []struct {
			g    payment.Grant
			want int
		}{
			{payment.Grant{KeyHash: "k", Restricted: true, Scopes: others}, 403},
			{payment.Grant{KeyHash: "k", Restricted: true, Scopes: []string{rt.scope}}, 500},
			{payment.Grant{KeyHash: "k", Retiring: true}, 500},
		}
		if strings.HasPrefix(rt.scope, "keys:") {
			cases[1].want, cases[2].want = 403, 403
		}
		for _, c := range cases {
			g := c.g
			h := New(Config{Service: fakeService{auth: auth, grant: &g}})
			r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
			r.Header.Set("Authorization", "Bearer rk_test")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Code; got != c.want && !(c.want == 500 && got == 400) {
				t.Errorf("%s with %+v = %d, want %d", rt.pattern, g, w.Code, c.want)
				continue
			}
			if c.want == 403 {
				typ, code := errorOf(t, w)
				if typ != "permission_error" || code != "insufficient_scope" || !strings.Contains(w.Body.String(), rt.scope) {
					t.Errorf("%s refused with %s", rt.pattern, w.Body)
				}
			}
		}
	}
}

// TestRateLimited: past a key's burst the API answers 429 rate_limit_error
// with Retry-After, before the handler runs; another key is not held back.
func TestRateLimited(t *testing.T) {
	m := &store.Merchant{ID: "mer_test"}
	h := New(Config{Service: fakeService{auth: func(string) (*store.Merchant, error) { return m, nil }}, RateLimit: 1})
	call := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/payments/pay_x", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 2 { // the burst: twice the rate
		if w := call("sk_a"); w.Code != 500 {
			t.Fatalf("request %d within the burst = %d", i+1, w.Code)
		}
	}
	w := call("sk_a")
	if typ, _ := errorOf(t, w); w.Code != 429 || typ != "rate_limit_error" || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("past the burst = %d %s, Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if w := call("sk_b"); w.Code != 500 {
		t.Fatalf("another key = %d, want it served", w.Code)
	}
}
