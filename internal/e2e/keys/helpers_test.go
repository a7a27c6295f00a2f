package keys

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// roll asks for a new key of typ with the given overlap (nil: the default)
// and returns it.
func roll(t *testing.T, s *harness.Server, sk, typ string, expiresIn any) string {
	t.Helper()
	body := map[string]any{"type": typ}
	if expiresIn != nil {
		body["expires_in"] = expiresIn
	}
	r := s.Call("POST", "/v1/merchant/keys/roll", sk, body).Want(t, 200)
	field := map[string]string{"secret": "secret_key", "publishable": "publishable_key", "hmac": "hmac_secret"}[typ]
	key := r.Str(field)
	if key == "" || r.Str("type") != typ || r.Str("previous_expires") == "" {
		t.Fatalf("roll %s: %s", typ, r.Raw)
	}
	return key
}

// works reports whether a secret or restricted key is accepted (GET
// /v1/payments: 200), failing the test on anything but 200 or 401.
func works(t *testing.T, s *harness.Server, key string) bool {
	t.Helper()
	r := s.Call("GET", "/v1/payments?limit=1", key, nil)
	if r.Status != 200 && r.Status != 401 {
		t.Fatalf("GET /v1/payments: %d %s", r.Status, r.Raw)
	}
	return r.Status == 200
}

// refusedSoon waits for a key to stop working: a rolled key's overlap that
// ends, or another process's change seen within the server's few seconds of
// caching.
func refusedSoon(t *testing.T, what string, ok func() bool) {
	t.Helper()
	harness.WaitUntil(t, 10*time.Second, what+" refused", func() bool { return !ok() })
}

// pkWorks reports whether the publishable key passes a session
// confirmation's authentication: the body carries the client secret but no
// card, so an accepted key gets the handler's 400, a refused one 401.
func pkWorks(t *testing.T, s *harness.Server, sid, clientSecret, pk string) bool {
	t.Helper()
	r := s.Call("POST", "/v1/sessions/"+sid+"/confirm", pk, map[string]any{"client_secret": clientSecret})
	if r.Status != 400 && r.Status != 401 {
		t.Fatalf("confirm with a publishable key: %d %s", r.Status, r.Raw)
	}
	return r.Status == 400
}

// spPayCC charges token with senangPay's pay_cc, password and hash under
// secret; it returns the answer.
func spPayCC(t *testing.T, s *harness.Server, merchantID, secret, token, order string) harness.Resp {
	t.Helper()
	f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789", "detail": "Kunci",
		"order_id": order, "amount": "100", "token": token}
	f["hash"] = harness.SenangPaySign(secret, merchantID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
	return harness.SenangPayPost(t, s, "pay_cc", merchantID, secret, "form", f)
}

// noKeysLogged fails the test if any key appears in the server's log.
func noKeysLogged(t *testing.T, s *harness.Server, keys ...string) {
	t.Helper()
	logs := s.Logs.String()
	for _, k := range keys {
		if k != "" && strings.Contains(logs, k) {
			t.Errorf("a key (%s…) is in the server's log", k[:min(6, len(k))])
		}
	}
}
