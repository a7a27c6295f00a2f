package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// fakeService answers the authentication calls; any other call reaches the
// nil embedded interface and panics, which observe turns into a 500, so a
// test sees whether a handler ran.
type fakeService struct {
	Service
	auth  func(key string) (*store.Merchant, error)
	grant *payment.Grant // what AuthenticateKey grants; nil: a secret key's all
}

func (f fakeService) Authenticate(_ context.Context, key string) (*store.Merchant, error) {
	return f.auth(key)
}

func (f fakeService) AuthenticateKey(_ context.Context, key string) (*store.Merchant, payment.Grant, error) {
	m, err := f.auth(key)
	if f.grant != nil {
		return m, *f.grant, err
	}
	return m, payment.Grant{KeyHash: key}, err
}

func (f fakeService) SessionClientAuth(context.Context, string, string, string) (*store.Merchant, error) {
	return nil, store.ErrNotFound
}

func newTestAPI(auth func(string) (*store.Merchant, error)) http.Handler {
	return New(Config{Service: fakeService{auth: auth}})
}

func noKey(string) (*store.Merchant, error) { return nil, store.ErrNotFound }

// TestRouteTable: the native routes are guarded as API.md documents:
// every /v1 route needs the secret key (or a restricted key with the
// route's scope: TestRouteScopes), except confirm (the publishable
// key with the client secret may) and the stream (which checks its own
// credentials); every POST under /v1 honours Idempotency-Key, and nothing
// else does; no pattern is listed twice.
func TestRouteTable(t *testing.T) {
	a := &API{}
	seen := map[string]bool{}
	for _, rt := range a.table() {
		if seen[rt.pattern] {
			t.Errorf("%s listed twice", rt.pattern)
		}
		seen[rt.pattern] = true
		method, path, _ := strings.Cut(rt.pattern, " ")
		if !strings.HasPrefix(path, "/v1/") {
			if rt.access != open || rt.idempotent {
				t.Errorf("%s: a route outside /v1 is open and not idempotent", rt.pattern)
			}
			continue
		}
		want := secretKey
		switch rt.pattern {
		case "POST /v1/sessions/{id}/confirm":
			want = sessionClient
		case "GET /v1/sessions/{id}/stream":
			want = open
		}
		if rt.access != want {
			t.Errorf("%s: access %d, want %d", rt.pattern, rt.access, want)
		}
		if rt.idempotent != (method == "POST") {
			t.Errorf("%s: idempotent = %v", rt.pattern, rt.idempotent)
		}
	}
	if !seen["/"] {
		t.Error("no answer for unknown routes")
	}
}

// concrete turns a pattern into a path that matches it.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return method, strings.NewReplacer("{id}", "x_1").Replace(path)
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) (typ, code string) {
	t.Helper()
	var b struct {
		Error struct{ Type, Code string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("not JSON: %q", w.Body)
	}
	return b.Error.Type, b.Error.Code
}

// TestSecretKeyEnforced sends every guarded route no key, a publishable
// key and an unknown secret key: each is a 401 before the handler runs.
func TestSecretKeyEnforced(t *testing.T) {
	h := newTestAPI(noKey)
	for _, rt := range (&API{}).table() {
		if rt.access == open {
			continue
		}
		method, path := concrete(rt.pattern)
		for auth, code := range map[string]string{
			"":                "api_key_missing",
			"Basic sk_x":      "api_key_missing",
			"Bearer sk_wrong": "api_key_invalid",
		} {
			r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if typ, got := errorOf(t, w); w.Code != 401 || typ != "authentication_error" || got != code {
				t.Errorf("%s with %q = %d %s, want 401 %s", rt.pattern, auth, w.Code, got, code)
			}
		}
		r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
		r.Header.Set("Authorization", "Bearer pk_test")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := "secret_key_required"
		if rt.access == sessionClient {
			want = "client_secret_invalid"
		}
		if _, got := errorOf(t, w); w.Code != 401 || got != want {
			t.Errorf("%s with a publishable key = %d %s, want 401 %s", rt.pattern, w.Code, got, want)
		}
	}
}

// TestRequestID: a client's X-Request-Id is echoed when it is a plain
// token without a card-number's worth of digits; otherwise the server's own.
func TestRequestID(t *testing.T) {
	h := newTestAPI(noKey)
	for sent, echoed := range map[string]bool{
		"":                      false,
		"abc-123_x.y:z":         true,
		"order 1":               false,
		"4242-4242-4242-4242":   false,
		"id:424242424242":       false,
		"id:42424242424":        true,
		strings.Repeat("a", 65): false,
		"<script>":              false,
		strings.Repeat("b", 64): true,
	} {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.Header.Set("X-Request-Id", sent)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get("Request-Id")
		if echoed && got != sent || !echoed && (got == sent || !strings.HasPrefix(got, "req_")) {
			t.Errorf("X-Request-Id %q → Request-Id %q (echo %v)", sent, got, echoed)
		}
	}
}

// TestPanicAndUnknownRoute: a handler's panic is a 500 in the API's error
// shape with the request id; an unknown path a 404 naming the route.
func TestPanicAndUnknownRoute(t *testing.T) {
	h := newTestAPI(func(string) (*store.Merchant, error) { panic("boom") })
	r := httptest.NewRequest("GET", "/v1/payments", nil)
	r.Header.Set("Authorization", "Bearer sk_x")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if typ, _ := errorOf(t, w); w.Code != 500 || typ != "api_error" || w.Header().Get("Request-Id") == "" {
		t.Errorf("panic = %d %q", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v2/nothing", nil))
	if _, code := errorOf(t, w); w.Code != 404 || code != "route_missing" {
		t.Errorf("unknown route = %d %q", w.Code, w.Body)
	}
}
