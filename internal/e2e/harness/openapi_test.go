package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/api"
)

// TestOpenAPIServed: GET /openapi.yaml answers the embedded document,
// without a key, as YAML.
func TestOpenAPIServed(t *testing.T) {
	s := Start(t)
	res, err := Client.Get(s.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, api.Spec) || !bytes.HasPrefix(body, []byte("openapi: 3.0.3\n")) {
		t.Fatalf("GET /openapi.yaml is not api/openapi.yaml (%d bytes)", len(body))
	}
}

// TestCheckResponseCatches: real answers pass, and the check refuses the
// same answers with a field the spec does not list (at the top and inside
// a nested object), a required field missing, a status outside an enum,
// a null where none is allowed, and a status code the operation does not
// list.
func TestCheckResponseCatches(t *testing.T) {
	s := Start(t)
	sk := s.Dev.SecretKey
	merchant := s.Call("GET", "/v1/merchant", sk, nil).Want(t, 200)
	token := s.Call("POST", "/v1/tokens", sk, map[string]any{
		"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}).Want(t, 201)
	getMerchant := s.Request("GET", "/v1/merchant", sk, nil)
	getToken := s.Request("GET", "/v1/tokens/"+token.Str("id"), sk, nil)
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		body   map[string]any
		change func(m map[string]any)
		want   string // in the error; "" for none
	}{
		{"merchant as served", getMerchant, 200, merchant.Body, func(map[string]any) {}, ""},
		{"token as served", getToken, 200, token.Body, func(map[string]any) {}, ""},
		{"unknown top field", getMerchant, 200, merchant.Body, func(m map[string]any) { m["surprise"] = 1 }, `"surprise"`},
		{"unknown nested field", getToken, 200, token.Body, func(m map[string]any) { m["card"].(map[string]any)["cvc"] = "x" }, `"cvc"`},
		{"required field missing", getToken, 200, token.Body, func(m map[string]any) { delete(m, "verification") }, `"verification"`},
		{"status outside enum", getToken, 200, token.Body, func(m map[string]any) { m["status"] = "bogus" }, "/status"},
		{"null not allowed", getToken, 200, token.Body, func(m map[string]any) { m["card"] = nil }, "/card"},
		{"status code not listed", getToken, 201, token.Body, func(map[string]any) {}, "status is not supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := copyJSON(t, c.body)
			c.change(m)
			err := CheckResponse(c.req, c.status, http.Header{"Content-Type": {"application/json"}}, MustJSON(t, m))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("a real answer fails: %v", err)
			case c.want != "" && err == nil:
				t.Fatal("not caught")
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error does not name %s: %v", c.want, err)
			case c.want != "" && !strings.Contains(err.Error(), "openapi: get"):
				t.Fatalf("error does not name the operation: %v", err)
			}
		})
	}
}

// TestDoChecksSpec: Do reports, as a test error naming the operation, an
// answer from a /v1 route that is not as the spec says (here a fake
// server's merchant with a field too many), and only while SpecCheck is on.
func TestDoChecksSpec(t *testing.T) {
	real := Start(t)
	m := copyJSON(t, real.Call("GET", "/v1/merchant", real.Dev.SecretKey, nil).Want(t, 200).Body)
	m["new_setting"] = true
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m)
	}))
	defer fake.Close()
	for _, on := range []bool{true, false} {
		rec := &recordTB{TB: t}
		s := &Server{T: rec, URL: fake.URL, SpecCheck: on}
		s.Call("GET", "/v1/merchant", "sk_test", nil).Want(t, 200)
		errs := rec.errors()
		if on && (len(errs) != 1 || !strings.Contains(errs[0], "getMerchant") || !strings.Contains(errs[0], "new_setting")) {
			t.Errorf("SpecCheck on: errors %q, want one naming getMerchant and new_setting", errs)
		}
		if !on && len(errs) != 0 {
			t.Errorf("SpecCheck off: errors %q", errs)
		}
	}
}

// recordTB keeps the errors a test would report instead of failing it.
type recordTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordTB) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func copyJSON(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(MustJSON(t, m), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
