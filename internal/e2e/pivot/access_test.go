package pivot

// Access tokens: how a Pivot client authenticates, and what a token does
// not open.

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestPivotAccessToken: credentials → a 900 s bearer token; wrong ones,
// a missing, forged, expired or other merchant's token answer 401 in
// Pivot's envelope.
func TestPivotAccessToken(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	harness.PivotFail(t, "a valid token, an unknown customer", s.Call("GET", "/pivot/v1/customers/cus_nope000000000", tok, nil), 404, "4040", "Customer not found")
	other := s.NewMerchant("Other shop")
	for _, c := range []struct {
		what, id, sk string
	}{
		{"wrong secret", s.Dev.ID, other.SecretKey},
		{"wrong id", other.ID, s.Dev.SecretKey},
		{"unknown secret", s.Dev.ID, "sk_nope"},
		{"no secret", s.Dev.ID, ""},
		{"publishable key", s.Dev.ID, s.Dev.PublishableKey},
	} {
		r := s.Call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "client_credentials"},
			"X-MERCHANT-ID", c.id, "X-MERCHANT-SECRET", c.sk)
		harness.PivotFail(t, c.what, r, 401, "4010", "X-MERCHANT")
	}
	r := s.Call("POST", "/pivot/v1/access-token", "", map[string]any{"grantType": "password"},
		"X-MERCHANT-ID", s.Dev.ID, "X-MERCHANT-SECRET", s.Dev.SecretKey)
	harness.PivotFail(t, "grantType password", r, 400, "4000", "grantType")

	path := "/pivot/v2/payments/ps_nothing00000000"
	harness.PivotFail(t, "no token", s.Call("GET", path, "", nil), 401, "4011", "Bearer")
	parts := strings.Split(tok, ".")
	if len(parts) != 4 {
		t.Fatalf("token layout: %s", tok)
	}
	forged := parts[0] + "." + parts[1] + "." + parts[2] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	harness.PivotFail(t, "forged MAC", s.Call("GET", path, forged, nil), 401, "4011", "invalid or has expired")
	later := fmt.Sprint(time.Now().Add(10 * time.Minute).Unix())
	harness.PivotFail(t, "changed expiry", s.Call("GET", path, parts[0]+"."+parts[1]+"."+later+"."+parts[3], nil), 401, "4011", "")
	expired := fmt.Sprint(time.Now().Add(-time.Minute).Unix())
	harness.PivotFail(t, "expired", s.Call("GET", path, parts[0]+"."+parts[1]+"."+expired+"."+parts[3], nil), 401, "4011", "")
	harness.PivotFail(t, "another merchant's id", s.Call("GET", path, parts[0]+"."+other.ID+"."+parts[2]+"."+parts[3], nil), 401, "4011", "")
	harness.PivotFail(t, "a secret key as token", s.Call("GET", path, s.Dev.SecretKey, nil), 401, "4011", "")
	// The token works; another merchant's token does not see this one's sessions.
	v := harness.PivotAPISession(t, s, tok, nil)
	harness.PivotOK(t, "GET", s.Call("GET", "/pivot/v2/payments/"+harness.Str(v, "id"), tok, nil))
	otherTok := harness.PivotToken(t, s, other.ID, other.SecretKey)
	harness.PivotFail(t, "another merchant's session", s.Call("GET", "/pivot/v2/payments/"+harness.Str(v, "id"), otherTok, nil), 404, "4040", "not found")
	if strings.Contains(s.Logs.String(), tok) || strings.Contains(s.Logs.String(), s.Dev.SecretKey) {
		t.Error("a token or secret key reached the logs")
	}
}
