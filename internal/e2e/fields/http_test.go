package fields

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// get fetches path from the server with no key, and optional headers.
func get(t *testing.T, s *harness.Server, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestCofferScriptHeaders: /v1/coffer.js is public JavaScript any page may
// load, cached and revalidated by a content-hash ETag.
func TestCofferScriptHeaders(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	res := get(t, s, "/v1/coffer.js")
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/coffer.js: %d", res.StatusCode)
	}
	h := res.Header
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	etag := h.Get("ETag")
	if len(etag) < 10 || !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag %q, want a quoted content hash", etag)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q, want a long cache", cc)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", h.Get("X-Content-Type-Options"))
	}
	if again := get(t, s, "/v1/coffer.js", "If-None-Match", etag); again.StatusCode != 304 {
		t.Errorf("If-None-Match with the ETag: %d, want 304", again.StatusCode)
	}
}

// TestFieldFrameAccess: a field frame is served only for a publishable
// key (the current one, or one a roll retired that still works), to an
// origin among the merchant's frame_ancestors, and its CSP lets only those
// origins frame it; everything else is a clear 4xx.
func TestFieldFrameAccess(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testFieldFrameAccess)
}

func testFieldFrameAccess(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk, pk := s.Dev.SecretKey, s.Dev.PublishableKey
	shop := "http://127.0.0.1:1"
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{shop}}).Want(t, 200)
	const channel = "abcdefABCDEF0123456789"
	q := func(kv ...string) string {
		v := url.Values{"pk": {pk}, "origin": {shop}, "channel": {channel}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	}

	for _, f := range []string{"number", "expiry", "cvc", "name"} {
		res := get(t, s, "/v1/fields/"+f+"?"+q())
		if res.StatusCode != 200 {
			t.Fatalf("field %s: %d", f, res.StatusCode)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors "+shop) || !strings.Contains(csp, "script-src 'nonce-") ||
			!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("field %s CSP %q", f, csp)
		}
		if res.Header.Get("X-Frame-Options") != "" {
			t.Errorf("field %s: X-Frame-Options %q would refuse the merchant's frame", f, res.Header.Get("X-Frame-Options"))
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("field %s: Cache-Control %q", f, cc)
		}
	}
	for _, c := range []struct {
		what, path string
		status     int
	}{
		{"an unknown field", "/v1/fields/pin?" + q(), 404},
		{"no key", "/v1/fields/number?" + q("pk", ""), 404},
		{"an unknown publishable key", "/v1/fields/number?" + q("pk", "pk_notakey0000000000"), 404},
		{"the secret key", "/v1/fields/number?" + q("pk", sk), 404},
		{"an origin not in frame_ancestors", "/v1/fields/number?" + q("origin", "http://127.0.0.1:2"), 403},
		{"an origin with a path", "/v1/fields/number?" + q("origin", shop+"/x"), 403},
		{"no origin", "/v1/fields/number?" + q("origin", ""), 403},
		{"a short channel", "/v1/fields/number?" + q("channel", "abc"), 400},
		{"a CSS injection in a style", "/v1/fields/number?" + q("color", "red;}body{display:none"), 400},
		{"a bad font size", "/v1/fields/number?" + q("font_size", "100vw"), 400},
	} {
		res := get(t, s, c.path)
		if res.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.what, res.StatusCode, c.status)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: the refusal's CSP %q lets it be framed", c.what, csp)
		}
	}
	// After a roll both the new key and the retired one (until it
	// expires) mount the fields.
	rolled := s.Call("POST", "/v1/merchant/keys/roll", sk, map[string]any{"type": "publishable", "expires_in": 3600}).Want(t, 200)
	newPK := rolled.Str("publishable_key")
	if newPK == "" || newPK == pk {
		t.Fatalf("roll: %s", rolled.Raw)
	}
	for _, k := range []string{newPK, pk} {
		if res := get(t, s, "/v1/fields/cvc?"+q("pk", k)); res.StatusCode != 200 {
			t.Errorf("after a roll, pk …%s: %d, want 200", k[len(k)-4:], res.StatusCode)
		}
	}
	// A merchant that allows no framing serves no field.
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"frame_ancestors": []string{}}).Want(t, 200)
	if res := get(t, s, "/v1/fields/number?"+q()); res.StatusCode != 403 {
		t.Errorf("with no frame_ancestors: %d, want 403", res.StatusCode)
	}
}
