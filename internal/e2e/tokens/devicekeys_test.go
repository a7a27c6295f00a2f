package tokens

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// Device keys: created with the secret key, shown once, listed without
// their value, revoked for good; another merchant cannot see or revoke them.
func TestDeviceKeys(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		other := s.NewMerchant("Other shop")

		created := s.Call("POST", "/v1/device_keys", s.Dev.SecretKey, map[string]any{"name": "till 1"}).Want(t, 201)
		key, kid := created.Str("key"), created.Str("id")
		if !strings.HasPrefix(key, "dk_live_") || len(key) < 40 || created.Str("last4") != key[len(key)-4:] ||
			created.Str("object") != "device_key" || created.Str("name") != "till 1" || harness.Dig(created.Body, "revoked") != nil {
			t.Fatalf("created: %s", created.Raw)
		}
		s.Call("POST", "/v1/device_keys", s.Dev.SecretKey, nil).Want(t, 201) // the name is optional

		list := s.Call("GET", "/v1/device_keys", s.Dev.SecretKey, nil).Want(t, 200)
		if strings.Contains(string(list.Raw), key) {
			t.Fatal("the list shows a key's value")
		}
		if data, _ := list.Body["data"].([]any); len(data) != 2 {
			t.Fatalf("list: %s", list.Raw)
		}
		if strings.Contains(string(s.Call("GET", "/v1/device_keys", other.SecretKey, nil).Want(t, 200).Raw), kid) {
			t.Fatal("another merchant lists the key")
		}
		s.Call("DELETE", "/v1/device_keys/"+kid, other.SecretKey, nil).Want(t, 404)

		// A device key is not a secret key: the native API refuses it.
		s.Call("GET", "/v1/merchant", key, nil).Want(t, 401)

		revoked := s.Call("DELETE", "/v1/device_keys/"+kid, s.Dev.SecretKey, nil).Want(t, 200)
		if harness.Dig(revoked.Body, "revoked") == nil || revoked.Str("key") != "" {
			t.Fatalf("revoked: %s", revoked.Raw)
		}
		again := s.Call("DELETE", "/v1/device_keys/"+kid, s.Dev.SecretKey, nil).Want(t, 200)
		if again.Str("revoked") != revoked.Str("revoked") {
			t.Errorf("revoking twice moved the revocation time: %s then %s", revoked.Str("revoked"), again.Str("revoked"))
		}
		s.Call("DELETE", "/v1/device_keys/dk_nosuch", s.Dev.SecretKey, nil).Want(t, 404)
		if typ, _, param := s.Call("POST", "/v1/device_keys", s.Dev.SecretKey, map[string]any{"name": "4242 4242 4242 4242"}).Want(t, 400).ErrInfo(); typ == "" || param != "name" {
			t.Errorf("a card number as a device name: error type %q param %q", typ, param)
		}
		if strings.Contains(s.Logs.String(), key) {
			t.Error("a device key reached the logs")
		}
	})
}

// accept_raw_card_data is off by default and set like any other setting.
func TestAcceptRawCardDataSetting(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	m := s.Call("GET", "/v1/merchant", s.Dev.SecretKey, nil).Want(t, 200)
	if v, ok := m.Body["accept_raw_card_data"].(bool); !ok || v {
		t.Fatalf("default: %s", m.Raw)
	}
	m = s.Call("PATCH", "/v1/merchant", s.Dev.SecretKey, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
	if v, _ := m.Body["accept_raw_card_data"].(bool); !v {
		t.Fatalf("after patch: %s", m.Raw)
	}
}
