package keys

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestRestrictedKeys: a restricted key does what its scopes say and gets a
// 403 naming the scope for anything else, key management included; it is
// shown once, listed only by its last four with its last use, refused by
// the dialects, and refused at once when revoked.
func TestRestrictedKeys(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Kunci")
		other := s.NewMerchant("Kedai Lain")
		created := s.Call("POST", "/v1/api_keys", c.SecretKey, map[string]any{"name": "reporting",
			"scopes": []string{"tokens:write", "payments:read"}}).Want(t, 201)
		rk, id := created.Str("key"), created.Str("id")
		if !strings.HasPrefix(rk, "rk_") || !strings.HasPrefix(id, "key_") || created.Str("redacted") != "rk_…"+rk[len(rk)-4:] ||
			created.Str("type") != "restricted" || created.Str("name") != "reporting" {
			t.Fatalf("POST /v1/api_keys: %s", created.Raw)
		}
		if got := harness.Dig(created.Body, "scopes").([]any); len(got) != 2 || got[0] != "payments:read" || got[1] != "tokens:write" {
			t.Errorf("scopes %v, want payments:read and tokens:write", got)
		}

		// In scope.
		s.NewToken(t, rk, "4242424242424242")
		s.Call("GET", "/v1/payments", rk, nil).Want(t, 200)
		// Out of scope: 403 naming the scope, before anything happens.
		auths := s.Sim.Stats().Authorizations
		for _, call := range []struct{ method, path, scope string }{
			{"POST", "/v1/payments", "payments:write"},
			{"GET", "/v1/tokens", "tokens:read"},
			{"GET", "/v1/merchant", "merchant:read"},
			{"POST", "/v1/webhook_endpoints", "webhooks:write"},
			{"POST", "/v1/api_keys", "keys:write"},
			{"GET", "/v1/api_keys", "keys:read"},
			{"POST", "/v1/merchant/keys/roll", "keys:write"},
			{"POST", "/v1/device_keys", "keys:write"},
		} {
			r := s.Call(call.method, call.path, rk, harness.CardPayment("4242424242424242", 500))
			typ, code, _ := r.ErrInfo()
			if r.Status != 403 || typ != "permission_error" || code != "insufficient_scope" || !strings.Contains(r.Str("error", "message"), call.scope) {
				t.Errorf("%s %s with the restricted key: %d %s", call.method, call.path, r.Status, r.Raw)
			}
		}
		if s.Sim.Stats().Authorizations != auths {
			t.Error("a call refused for its scope reached the acquirer")
		}
		// The session stream checks its scope too (sessions:read).
		sess := s.NewSession(t, c.SecretKey, map[string]any{"amount": 500})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, res, err := s.SessionStream(ctx, sess.Str("id"), "", rk); err == nil || res == nil || res.StatusCode != 403 {
			if conn != nil {
				conn.CloseNow()
			}
			t.Errorf("the stream with a key without sessions:read: %v %v", res, err)
		}
		reader := s.Call("POST", "/v1/api_keys", c.SecretKey, map[string]any{"name": "watcher", "scopes": []string{"sessions:read"}}).Want(t, 201)
		conn, _, err := s.SessionStream(ctx, sess.Str("id"), "", reader.Str("key"))
		if err != nil {
			t.Fatalf("the stream with sessions:read: %v", err)
		}
		if _, first, err := conn.Read(ctx); err != nil || !strings.Contains(string(first), sess.Str("id")) {
			t.Errorf("the stream's first frame: %s %v", first, err)
		}
		conn.CloseNow()
		s.Call("DELETE", "/v1/api_keys/"+reader.Str("id"), c.SecretKey, nil).Want(t, 200)

		// The dialects take the merchant's whole secret key only.
		if r := harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/", rk, nil); r.Status != 401 {
			t.Errorf("the Ottu dialect took a restricted key: %d %s", r.Status, r.Raw)
		}

		// Listed without the key; its last use appears.
		var listed map[string]any
		harness.WaitUntil(t, 10*time.Second, "the restricted key's last_used", func() bool {
			l := s.Call("GET", "/v1/api_keys", c.SecretKey, nil).Want(t, 200)
			if strings.Contains(string(l.Raw), rk) {
				t.Fatalf("GET /v1/api_keys shows the key: %s", l.Raw)
			}
			data := l.Body["data"].([]any)
			if len(data) != 2 { // newest first: the revoked watcher, then this one
				t.Fatalf("GET /v1/api_keys: %s", l.Raw)
			}
			listed = data[1].(map[string]any)
			return listed["last_used"] != nil
		})
		if listed["id"] != id || listed["redacted"] != created.Str("redacted") || listed["key"] != nil {
			t.Errorf("listed key: %v", listed)
		}
		if used, err := time.Parse(time.RFC3339, listed["last_used"].(string)); err != nil || time.Since(used) > time.Minute || time.Until(used) > time.Second {
			t.Errorf("last_used %v, want about now", listed["last_used"])
		}
		// Another merchant neither sees nor revokes it.
		if l := s.Call("GET", "/v1/api_keys", other.SecretKey, nil).Want(t, 200); len(l.Body["data"].([]any)) != 0 {
			t.Errorf("another merchant lists the key: %s", l.Raw)
		}
		s.Call("DELETE", "/v1/api_keys/"+id, other.SecretKey, nil).Want(t, 404)
		s.Call("GET", "/v1/payments", rk, nil).Want(t, 200)

		// Revoked: refused at once.
		d := s.Call("DELETE", "/v1/api_keys/"+id, c.SecretKey, nil).Want(t, 200)
		if d.Str("revoked") == "" {
			t.Errorf("DELETE answer: %s", d.Raw)
		}
		r := s.Call("GET", "/v1/payments", rk, nil).Want(t, 401)
		if typ, code, _ := r.ErrInfo(); typ != "authentication_error" || code != "api_key_invalid" {
			t.Errorf("revoked key: %s", r.Raw)
		}
		noKeysLogged(t, s, rk, c.SecretKey, other.SecretKey)
	})
}

// TestRestrictedKeyBadInput: a restricted key's name and scopes are
// checked, naming the field; a key scope cannot be granted.
func TestRestrictedKeyBadInput(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	c := s.NewMerchant("Kedai Kunci")
	for _, bad := range []struct {
		body  any
		param string
	}{
		{map[string]any{"name": "x", "scopes": []string{"keys:write"}}, "scopes"},
		{map[string]any{"name": "x", "scopes": []string{"payments:fly"}}, "scopes"},
		{map[string]any{"name": "x", "scopes": []string{}}, "scopes"},
		{map[string]any{"name": "x"}, "scopes"},
		{map[string]any{"name": "x", "scopes": []string{"payments:read", "payments:read"}}, "scopes"},
		{map[string]any{"name": "x", "scopes": "payments:read"}, "scopes"},
		{map[string]any{"name": strings.Repeat("n", 101), "scopes": []string{"payments:read"}}, "name"},
		{map[string]any{"name": "card 4242 4242 4242 4242", "scopes": []string{"payments:read"}}, "name"},
		{map[string]any{"name": "x", "scopes": []string{"payments:read"}, "expires": 1}, "expires"},
	} {
		harness.Refused(t, s.Call("POST", "/v1/api_keys", c.SecretKey, bad.body), 400, "invalid_request_error", harness.AnyParam, bad.param)
	}
	if l := s.Call("GET", "/v1/api_keys", c.SecretKey, nil).Want(t, 200); len(l.Body["data"].([]any)) != 0 {
		t.Errorf("a refused key was made: %s", l.Raw)
	}
	harness.Refused(t, s.Call("GET", "/v1/api_keys?limit=0", c.SecretKey, nil), 400, "invalid_request_error", harness.AnyParam, "limit")
	s.Call("DELETE", "/v1/api_keys/key_nosuchkey", c.SecretKey, nil).Want(t, 404)
}

// TestLastUsed: the secret and publishable keys' last uses show in GET
// /v1/merchant/keys (never the keys), recorded within seconds.
func TestLastUsed(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Kunci")
		sess := s.NewSession(t, c.SecretKey, map[string]any{"mode": "api", "amount": 700})
		if !pkWorks(t, s, sess.Str("id"), sess.Str("client_secret"), c.PublishableKey) {
			t.Fatal("the publishable key does not work")
		}
		var data []any
		harness.WaitUntil(t, 10*time.Second, "last_used of the secret and publishable keys", func() bool {
			r := s.Call("GET", "/v1/merchant/keys", c.SecretKey, nil).Want(t, 200)
			for _, k := range []string{c.SecretKey, c.PublishableKey} {
				if strings.Contains(string(r.Raw), k) {
					t.Fatalf("GET /v1/merchant/keys shows a key: %s", r.Raw)
				}
			}
			data = r.Body["data"].([]any)
			for _, it := range data {
				if it.(map[string]any)["last_used"] == nil {
					return false
				}
			}
			return len(data) == 2
		})
		sk, pk := data[0].(map[string]any), data[1].(map[string]any)
		if sk["type"] != "secret" || sk["redacted"] != "sk_…"+c.SecretKey[len(c.SecretKey)-4:] ||
			pk["type"] != "publishable" || pk["redacted"] != "pk_…"+c.PublishableKey[len(c.PublishableKey)-4:] {
			t.Errorf("GET /v1/merchant/keys: %v", data)
		}
	})
}
