package keys

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestRollSecretKey: a secret key rolled with expires_in 0 is refused at
// once and the new one works; rolled with an overlap, both work (in the
// dialects too) until the old one's time is up — except that the old one
// may no longer manage keys — and the old one is listed with its expiry
// until then; revoking it ends the overlap early.
func TestRollSecretKey(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Kunci")
		keys := []string{c.SecretKey}

		sk := roll(t, s, c.SecretKey, "secret", 0)
		keys = append(keys, sk)
		if works(t, s, c.SecretKey) {
			t.Fatal("the secret key rolled with expires_in 0 still works")
		}
		if !works(t, s, sk) {
			t.Fatal("the new secret key does not work")
		}

		// An overlap (the default, a day): both keys work.
		old := sk
		sk = roll(t, s, old, "secret", nil)
		keys = append(keys, sk)
		if !works(t, s, old) || !works(t, s, sk) {
			t.Fatal("during the overlap both keys must work")
		}
		// …in a dialect too (Ottu's Api-Key): a 400 for the missing query, not a 401.
		if r := harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/", old, nil); r.Status == 401 {
			t.Errorf("the old key during its overlap is refused by the Ottu dialect: %s", r.Raw)
		}
		// The old key cannot manage keys: a leaked key must not mint a new one.
		r := s.Call("POST", "/v1/merchant/keys/roll", old, map[string]any{"type": "secret", "expires_in": 0}).Want(t, 403)
		if typ, code, _ := r.ErrInfo(); typ != "permission_error" || code != "insufficient_scope" {
			t.Errorf("rolling with a rolled key: %s", r.Raw)
		}
		s.Call("POST", "/v1/api_keys", old, map[string]any{"name": "x", "scopes": []string{"payments:read"}}).Want(t, 403)
		// It is listed, with its expiry a day ahead, never in full.
		list := s.Call("GET", "/v1/merchant/keys", sk, nil).Want(t, 200)
		var retiringID string
		for _, it := range list.Body["data"].([]any) {
			k := it.(map[string]any)
			if k["type"] == "secret" && k["expires"] != nil {
				exp, err := time.Parse(time.RFC3339, k["expires"].(string))
				if err != nil || time.Until(exp) < 23*time.Hour || time.Until(exp) > 25*time.Hour {
					t.Errorf("the rolled key expires %v, want in a day", k["expires"])
				}
				if k["redacted"] != "sk_…"+old[len(old)-4:] {
					t.Errorf("rolled key shown as %v", k["redacted"])
				}
				retiringID, _ = k["id"].(string)
			}
		}
		if retiringID == "" {
			t.Fatalf("GET /v1/merchant/keys does not list the rolled key: %s", list.Raw)
		}
		s.Call("DELETE", "/v1/api_keys/"+retiringID, sk, nil).Want(t, 200)
		if works(t, s, old) {
			t.Error("a rolled key revoked before its expiry still works")
		}

		// A short overlap ends on its own.
		old = sk
		sk = roll(t, s, old, "secret", 1)
		keys = append(keys, sk)
		refusedSoon(t, "the key rolled with expires_in 1", func() bool { return works(t, s, old) })
		if !works(t, s, sk) {
			t.Fatal("the new secret key stopped working")
		}

		// The command line rolls too, while the server runs: the old key is
		// refused within the few seconds the server keeps a key.
		cfg := s.Cfg
		cfg.Stdout, cfg.Stderr = io.Discard, s.Logs
		rolled, err := app.RollMerchantKey(context.Background(), cfg, c.ID, "secret", 0)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, rolled.SecretKey)
		refusedSoon(t, "the key the command line rolled", func() bool { return works(t, s, sk) })
		if !works(t, s, rolled.SecretKey) {
			t.Fatal("the key the command line made does not work")
		}
		noKeysLogged(t, s, keys...)
	})
}

// TestRollPublishableKey: a publishable key rolled with expires_in 0 no
// longer confirms a session, the new one does; with an overlap both do
// until it ends.
func TestRollPublishableKey(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Kunci")
		sess := s.NewSession(t, c.SecretKey, map[string]any{"mode": "api", "amount": 700})
		sid, cs := sess.Str("id"), sess.Str("client_secret")
		if !pkWorks(t, s, sid, cs, c.PublishableKey) {
			t.Fatal("the publishable key does not work before any roll")
		}
		pk := roll(t, s, c.SecretKey, "publishable", 0)
		if pkWorks(t, s, sid, cs, c.PublishableKey) {
			t.Fatal("the publishable key rolled with expires_in 0 still works")
		}
		if !pkWorks(t, s, sid, cs, pk) {
			t.Fatal("the new publishable key does not work")
		}
		if got := s.Call("GET", "/v1/merchant", c.SecretKey, nil).Want(t, 200).Str("publishable_key"); got != pk {
			t.Errorf("GET /v1/merchant shows publishable_key %q, want the new one", got)
		}

		old := pk
		pk = roll(t, s, c.SecretKey, "publishable", 3600)
		if !pkWorks(t, s, sid, cs, old) || !pkWorks(t, s, sid, cs, pk) {
			t.Fatal("during the overlap both publishable keys must work")
		}
		other := s.NewMerchant("Kedai Lain")
		if pkWorks(t, s, sid, cs, other.PublishableKey) {
			t.Fatal("another merchant's publishable key confirms this merchant's session")
		}
		old = pk
		pk = roll(t, s, c.SecretKey, "publishable", 1)
		refusedSoon(t, "the publishable key rolled with expires_in 1", func() bool { return pkWorks(t, s, sid, cs, old) })
		if !pkWorks(t, s, sid, cs, pk) {
			t.Fatal("the new publishable key stopped working")
		}
	})
}

// TestRollHMACSecret: the dialects' HMAC secret, seen through senangPay's
// pay_cc (Basic password and request hash): rolled with expires_in 0 the
// old secret is refused at once; with an overlap, a call signed with the
// old one is accepted until it ends, while Coffer's own answer is signed
// with the new one from the start.
func TestRollHMACSecret(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Kunci")
		tok := s.NewToken(t, c.SecretKey, "4242424242424242")
		keys := []string{c.HMACSecret}
		spPayCC(t, s, c.ID, c.HMACSecret, tok, "hmac-0").Want(t, 200)

		h := roll(t, s, c.SecretKey, "hmac", 0)
		keys = append(keys, h)
		harness.SenangPayFail(t, spPayCC(t, s, c.ID, c.HMACSecret, tok, "hmac-1"), 401)
		spPayCC(t, s, c.ID, h, tok, "hmac-2").Want(t, 200)

		old := h
		h = roll(t, s, c.SecretKey, "hmac", 3600)
		keys = append(keys, h)
		r := spPayCC(t, s, c.ID, old, tok, "hmac-3").Want(t, 200)
		if r.Body["status"] != float64(1) {
			t.Fatalf("pay_cc signed with the old secret during its overlap: %s", r.Raw)
		}
		// The answer's hash is under the new secret only.
		parts := []string{c.ID, "1", "hmac-3", r.Str("transaction_id"), strconv.FormatInt(r.Num("amount_paid"), 10), r.Str("msg")}
		if got := r.Str("hash"); got != harness.SenangPaySign(h, parts...) || got == harness.SenangPaySign(old, parts...) {
			t.Errorf("the answer during the overlap is not signed with the new secret: %s", r.Raw)
		}
		// A hash under the old secret with the new password, and the other
		// way round: each check takes either secret during the overlap.
		f := map[string]string{"name": "A", "email": "a@example.my", "phone": "60123456789", "detail": "K", "order_id": "hmac-4",
			"amount": "100", "token": tok}
		f["hash"] = harness.SenangPaySign(old, c.ID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
		harness.SenangPayPost(t, s, "pay_cc", c.ID, h, "form", f).Want(t, 200)
		// A wrong secret is still refused.
		harness.SenangPayFail(t, spPayCC(t, s, c.ID, "not-the-secret", tok, "hmac-5"), 401)

		old = h
		h = roll(t, s, c.SecretKey, "hmac", 1)
		keys = append(keys, h)
		refusedSoon(t, "the HMAC secret rolled with expires_in 1", func() bool {
			return spPayCC(t, s, c.ID, old, tok, "hmac-6").Status == 200
		})
		spPayCC(t, s, c.ID, h, tok, "hmac-7").Want(t, 200)
		noKeysLogged(t, s, keys...)
	})
}

// TestRollBadInput: a roll names the field it cannot take.
func TestRollBadInput(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	c := s.NewMerchant("Kedai Kunci")
	for _, bad := range []struct {
		body  any
		param string
	}{
		{map[string]any{"type": "private"}, "type"},
		{map[string]any{}, "type"},
		{map[string]any{"type": "secret", "expires_in": -1}, "expires_in"},
		{map[string]any{"type": "secret", "expires_in": 604801}, "expires_in"},
		{map[string]any{"type": "secret", "expires_in": "60"}, "expires_in"},
		{map[string]any{"type": "secret", "expires_in": 1.5}, "expires_in"},
		{map[string]any{"type": "secret", "overlap": 60}, "overlap"},
	} {
		r := s.Call("POST", "/v1/merchant/keys/roll", c.SecretKey, bad.body)
		harness.Refused(t, r, 400, "invalid_request_error", harness.AnyParam, bad.param)
	}
	if !works(t, s, c.SecretKey) {
		t.Error("a refused roll changed the key")
	}
}
