package senangpay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// authCalls are senangPay's server-to-server calls, each sent with Basic
// auth user:pass ("" user: no Authorization header) and a body and hash
// that are right for merchant c, so that only the credentials decide.
func authCalls(t *testing.T, s *harness.Server, c harness.Creds) map[string]func(user, pass string) harness.Resp {
	t.Helper()
	payTok := s.NewToken(t, c.SecretKey, "4242424242424242")
	toggleTok := s.NewToken(t, c.SecretKey, "5555555555554444")
	exp := time.Now().AddDate(3, 0, 0).Format("0106")
	n := 0
	return map[string]func(user, pass string) harness.Resp{
		"pay_cc": func(user, pass string) harness.Resp {
			n++
			f := map[string]string{"name": "Abu Bin Ali", "email": "abu@example.my", "phone": "60123456789", "detail": "Kunci",
				"order_id": fmt.Sprintf("auth-%d", n), "amount": "100", "token": payTok}
			f["hash"] = harness.SenangPaySign(c.HMACSecret, c.ID, f["name"], f["email"], f["phone"], f["detail"], f["order_id"], f["amount"])
			return harness.SenangPayPost(t, s, "pay_cc", user, pass, "form", f)
		},
		"update_token_status": func(user, pass string) harness.Resp {
			return harness.SenangPayPost(t, s, "update_token_status", user, pass, "form", map[string]string{"token": toggleTok})
		},
		"validate_token": func(user, pass string) harness.Resp {
			return harness.SenangPayPost(t, s, "validate_token", user, pass, "json", map[string]string{"token": payTok})
		},
		"get_payment_token": func(user, pass string) harness.Resp {
			return harness.SenangPayPost(t, s, "get_payment_token", user, pass, "multipart", map[string]string{"name": "Abu Bin Ali",
				"email": "abu@example.my", "phone": "0109876543", "cc_number": "4242424242424242", "cc_exp": exp, "cc_cvv": "123"})
		},
		"query_order_status": func(user, pass string) harness.Resp {
			return harness.SenangPayQuery(t, s, user, pass, c.ID, "auth-1", harness.SenangPaySign(c.HMACSecret, c.ID, c.HMACSecret, "auth-1"))
		},
	}
}

// authOrder runs pay_cc first: query_order_status asks for its order.
var authOrder = []string{"pay_cc", "update_token_status", "validate_token", "get_payment_token", "query_order_status"}

// TestSenangPayAuth: every senangPay server-to-server call needs the
// merchant's hmac_secret as the Basic password. The merchant id is public
// (it is in every get-token URL) and token ids reach card holders'
// browsers, so the documented empty password is taken only when the
// merchant turned on senangpay_legacy_auth, and only from an address in its
// senangpay_legacy_auth_cidrs. A refusal is the same for an unknown
// merchant as for a wrong password.
func TestSenangPayAuth(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Kunci")
		other := s.NewMerchant("Kedai Lain")
		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		calls := authCalls(t, s, c)
		each := func(t *testing.T, what, user, pass string, status int) []harness.Resp {
			t.Helper()
			var out []harness.Resp
			for _, name := range authOrder {
				r := calls[name](user, pass)
				if r.Status != status {
					t.Errorf("%s, %s: %d %s; want %d", name, what, r.Status, r.Raw, status)
				}
				if status == 401 && (r.Body["status"] != float64(0) || r.Header.Get("WWW-Authenticate") == "") {
					t.Errorf("%s, %s: want senangPay's error shape and a Basic challenge: %v %s", name, what, r.Header, r.Raw)
				}
				out = append(out, r)
			}
			return out
		}

		ok := each(t, "the hmac_secret as password", c.ID, c.HMACSecret, 200)
		if ok[0].Body["status"] != float64(1) || ok[3].Body["status"] != float64(1) || len(ok[4].Body["data"].([]any)) != 1 {
			t.Fatalf("with the secret: pay_cc %s, get_payment_token %s, query %s", ok[0].Raw, ok[3].Raw, ok[4].Raw)
		}
		each(t, "an empty password", c.ID, "", 401)
		wrong := each(t, "a wrong password", c.ID, c.HMACSecret+"0", 401)
		each(t, "another merchant's secret", c.ID, other.HMACSecret, 401)
		unknown := each(t, "an unknown merchant", "mer_nosuchmerchant0000", c.HMACSecret, 401)
		for i := range unknown {
			if string(unknown[i].Raw) != string(wrong[i].Raw) ||
				unknown[i].Header.Get("WWW-Authenticate") != wrong[i].Header.Get("WWW-Authenticate") {
				t.Errorf("%s: an unknown merchant is told apart from a wrong password: %s / %s", authOrder[i], unknown[i].Raw, wrong[i].Raw)
			}
		}
		harness.SenangPayFail(t, calls["query_order_status"]("", ""), 401)                     // no Authorization at all
		harness.SenangPayFail(t, calls["query_order_status"](other.ID, other.HMACSecret), 401) // credentials of another merchant than merchant_id
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "pay_cc", "", "", "form", map[string]string{}), 401)

		// The legacy setting: validated when it is set (400 naming the
		// field, nothing saved).
		for _, bad := range []map[string]any{
			{"senangpay_legacy_auth": true},
			{"senangpay_legacy_auth": true, "senangpay_legacy_auth_cidrs": []string{}},
			{"senangpay_legacy_auth_cidrs": []string{"127.0.0.1"}},
			{"senangpay_legacy_auth_cidrs": []string{"example.com/24"}},
			{"senangpay_legacy_auth_cidrs": []string{"10.0.0.0/33"}},
			{"senangpay_legacy_auth_cidrs": []string{"0.0.0.0/0"}},
			{"senangpay_legacy_auth_cidrs": []string{"::/0"}},
			{"senangpay_legacy_auth": true, "senangpay_legacy_auth_cidrs": []string{"127.0.0.1/32", "nope"}},
		} {
			r := s.Call("PATCH", "/v1/merchant", c.SecretKey, bad).Want(t, 400)
			if _, _, param := r.ErrInfo(); param != "senangpay_legacy_auth_cidrs" {
				t.Errorf("PATCH %v: param %q: %s", bad, param, r.Raw)
			}
		}
		if m := s.Call("GET", "/v1/merchant", c.SecretKey, nil).Want(t, 200); m.Body["senangpay_legacy_auth"] != false ||
			fmt.Sprint(m.Body["senangpay_legacy_auth_cidrs"]) != "[]" {
			t.Fatalf("a refused PATCH changed the settings: %s", m.Raw)
		}
		m := s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"senangpay_legacy_auth_cidrs": []string{"198.51.100.7/24", "2001:db8::1/48"}}).Want(t, 200)
		if fmt.Sprint(m.Body["senangpay_legacy_auth_cidrs"]) != "[198.51.100.0/24 2001:db8::/48]" || m.Body["senangpay_legacy_auth"] != false {
			t.Errorf("CIDRs are kept in canonical form: %s", m.Raw)
		}

		// Legacy on, the caller (127.0.0.1) outside every block: refused.
		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"senangpay_legacy_auth": true,
			"senangpay_legacy_auth_cidrs": []string{"10.0.0.0/8", "::1/128"}}).Want(t, 200)
		each(t, "legacy on, outside the CIDRs", c.ID, "", 401)
		harness.SenangPayFail(t, calls["query_order_status"]("", ""), 401)

		// Legacy on, the caller inside: senangPay's own form works, and only
		// it — a wrong password is still wrong, an unknown merchant unknown.
		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"senangpay_legacy_auth_cidrs": []string{"10.0.0.0/8", "127.0.0.1/32"}}).Want(t, 200)
		each(t, "legacy on, inside the CIDRs", c.ID, "", 200)
		if r := calls["query_order_status"]("", "").Want(t, 200); r.Body["status"] != float64(1) {
			t.Errorf("query without Authorization under legacy: %s", r.Raw)
		}
		each(t, "legacy on, a wrong password", c.ID, "nope", 401)
		each(t, "legacy on, an unknown merchant", "mer_nosuchmerchant0000", "", 401)
		harness.SenangPayFail(t, harness.SenangPayPost(t, s, "validate_token", other.ID, "", "form", map[string]string{"token": "tok_x"}), 401) // its own setting is off
		each(t, "legacy on, the secret", c.ID, c.HMACSecret, 200)

		// Legacy off again: the empty password is refused at once.
		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"senangpay_legacy_auth": false}).Want(t, 200)
		each(t, "legacy off again", c.ID, "", 401)

		if strings.Contains(s.Logs.String(), c.HMACSecret) {
			t.Error("the hmac_secret sent as a password reached the logs")
		}
	})
}

// TestSenangPayCVCBruteForce: with raw card data on, get_payment_token
// answers whether a CVC is right, and validate_token whether a token is
// good. With only the public merchant id (and, for validate_token, a token
// id from a return URL), every try is 401 before any card is read: no
// verification reaches the acquirer and no token is made.
func TestSenangPayCVCBruteForce(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		c := s.NewMerchant("Kedai Sasaran")
		s.Call("PATCH", "/v1/merchant", c.SecretKey, map[string]any{"accept_raw_card_data": true}).Want(t, 200)
		tok := s.NewToken(t, c.SecretKey, "4242424242424242")
		before := s.Sim.Stats()
		exp := time.Now().AddDate(3, 0, 0).Format("0106")
		for i := range 40 {
			cvc := fmt.Sprintf("%03d", i)
			for _, pass := range []string{"", "guess" + cvc} {
				r := harness.SenangPayPost(t, s, "get_payment_token", c.ID, pass, "form", map[string]string{"name": "X", "email": "x@example.my",
					"phone": "0109876543", "cc_number": "4000000000000127", "cc_exp": exp, "cc_cvv": cvc})
				harness.SenangPayFail(t, r, 401)
				harness.SenangPayFail(t, harness.SenangPayPost(t, s, "validate_token", c.ID, pass, "form", map[string]string{"token": tok, "cc_cvv": cvc}), 401)
			}
		}
		if after := s.Sim.Stats(); after != before {
			t.Errorf("the acquirer was reached: %+v → %+v", before, after)
		}
		if l := s.Call("GET", "/v1/tokens?limit=100", c.SecretKey, nil).Want(t, 200); len(l.Body["data"].([]any)) != 1 {
			t.Errorf("tokens were made: %s", l.Raw)
		}
	})
}
