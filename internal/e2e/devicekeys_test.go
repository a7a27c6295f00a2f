package e2e

import (
	"strings"
	"testing"
)

// Device keys: created with the secret key, shown once, listed without
// their value, revoked for good; another merchant cannot see or revoke them.
func TestDeviceKeys(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, opts...)
		other := s.newMerchant("Other shop")

		created := s.call("POST", "/v1/device_keys", s.Dev.SecretKey, map[string]any{"name": "till 1"}).want(t, 201)
		key, kid := created.str("key"), created.str("id")
		if !strings.HasPrefix(key, "dk_live_") || len(key) < 40 || created.str("last4") != key[len(key)-4:] ||
			created.str("object") != "device_key" || created.str("name") != "till 1" || dig(created.Body, "revoked") != nil {
			t.Fatalf("created: %s", created.Raw)
		}
		s.call("POST", "/v1/device_keys", s.Dev.SecretKey, nil).want(t, 201) // the name is optional

		list := s.call("GET", "/v1/device_keys", s.Dev.SecretKey, nil).want(t, 200)
		if strings.Contains(string(list.Raw), key) {
			t.Fatal("the list shows a key's value")
		}
		if data, _ := list.Body["data"].([]any); len(data) != 2 {
			t.Fatalf("list: %s", list.Raw)
		}
		if strings.Contains(string(s.call("GET", "/v1/device_keys", other.SecretKey, nil).want(t, 200).Raw), kid) {
			t.Fatal("another merchant lists the key")
		}
		s.call("DELETE", "/v1/device_keys/"+kid, other.SecretKey, nil).want(t, 404)

		// A device key is not a secret key: the native API refuses it.
		s.call("GET", "/v1/merchant", key, nil).want(t, 401)

		revoked := s.call("DELETE", "/v1/device_keys/"+kid, s.Dev.SecretKey, nil).want(t, 200)
		if dig(revoked.Body, "revoked") == nil || revoked.str("key") != "" {
			t.Fatalf("revoked: %s", revoked.Raw)
		}
		again := s.call("DELETE", "/v1/device_keys/"+kid, s.Dev.SecretKey, nil).want(t, 200)
		if again.str("revoked") != revoked.str("revoked") {
			t.Errorf("revoking twice moved the revocation time: %s then %s", revoked.str("revoked"), again.str("revoked"))
		}
		s.call("DELETE", "/v1/device_keys/dk_nosuch", s.Dev.SecretKey, nil).want(t, 404)
		if typ, _, param := s.call("POST", "/v1/device_keys", s.Dev.SecretKey, map[string]any{"name": "4242 4242 4242 4242"}).want(t, 400).errInfo(); typ == "" || param != "name" {
			t.Errorf("a card number as a device name: error type %q param %q", typ, param)
		}
		if strings.Contains(s.Logs.String(), key) {
			t.Error("a device key reached the logs")
		}
	})
}

// accept_raw_card_data is off by default and set like any other setting.
func TestAcceptRawCardDataSetting(t *testing.T) {
	s := start(t)
	m := s.call("GET", "/v1/merchant", s.Dev.SecretKey, nil).want(t, 200)
	if v, ok := m.Body["accept_raw_card_data"].(bool); !ok || v {
		t.Fatalf("default: %s", m.Raw)
	}
	m = s.call("PATCH", "/v1/merchant", s.Dev.SecretKey, map[string]any{"accept_raw_card_data": true}).want(t, 200)
	if v, _ := m.Body["accept_raw_card_data"].(bool); !v {
		t.Fatalf("after patch: %s", m.Raw)
	}
}
