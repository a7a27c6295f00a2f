package harness

// The Ottu dialect (/ottu) as merchants speak it: Api-Key calls, checkouts,
// Django REST framework's error shapes, and webhooks (caught with a
// Recorder) whose signature is recomputed here as PROVIDERS.md words it.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// OttuCall sends a request under /ottu with `Authorization: Api-Key sk`
// (none when sk is "").
func OttuCall(t testing.TB, s *Server, method, path, sk string, body any, hdr ...string) Resp {
	t.Helper()
	if sk != "" {
		hdr = append(hdr, "Authorization", "Api-Key "+sk)
	}
	return s.Call(method, "/ottu"+path, "", body, hdr...)
}

// OttuCheckout creates a checkout and expects 201.
func OttuCheckout(t testing.TB, s *Server, sk string, body any) Resp {
	t.Helper()
	return OttuCall(t, s, "POST", "/b/checkout/v1/pymt-txn/", sk, body).Want(t, 201)
}

// OttuArray decodes an answer that must be a bare JSON array of objects.
func OttuArray(t testing.TB, r Resp) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal(r.Raw, &v); err != nil || !bytes.HasPrefix(bytes.TrimSpace(r.Raw), []byte("[")) {
		t.Fatalf("not a bare JSON array (%d): %s", r.Status, r.Raw)
	}
	return v
}

// OttuSign recomputes Ottu's signature of a notification as PROVIDERS.md
// words it, without the dialect's code: hex HMAC-SHA256 of the listed
// non-empty string fields (and customer_address_*), sorted, key+value.
func OttuSign(secret string, body map[string]any) string {
	listed := strings.Fields(`amount currency_code customer_first_name customer_last_name customer_email customer_phone
		gateway_name gateway_account order_no reference_number result state`)
	var keys []string
	for k, v := range body {
		s, _ := v.(string)
		if s == "" {
			continue
		}
		for _, l := range listed {
			if k == l {
				keys = append(keys, k)
			}
		}
		if strings.HasPrefix(k, "customer_address_") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var msg strings.Builder
	for _, k := range keys {
		msg.WriteString(k + body[k].(string))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg.String()))
	return hex.EncodeToString(mac.Sum(nil))
}

// OttuVerify checks a notification's signature field against OttuSign.
func OttuVerify(t testing.TB, secret string, body map[string]any) {
	t.Helper()
	if got, want := fmt.Sprint(body["signature"]), OttuSign(secret, body); got != want {
		t.Errorf("signature %q, recomputed %q: %v", got, want, body)
	}
}

// OttuFieldError checks DRF's validation shape: 400 {"<field>":["…"]}.
func OttuFieldError(t testing.TB, what string, r Resp, field string) {
	t.Helper()
	l, _ := r.Body[field].([]any)
	if r.Status != 400 || len(l) == 0 {
		t.Errorf("%s: want 400 {%q:[…]}, got %d %s", what, field, r.Status, r.Raw)
	}
}

// OttuDetail checks DRF's non-field shape: status and {"detail":"…"} alone.
func OttuDetail(t testing.TB, what string, r Resp, status int) {
	t.Helper()
	if r.Status != status || r.Str("detail") == "" || len(r.Body) != 1 {
		t.Errorf("%s: want %d {\"detail\":…}, got %d %s", what, status, r.Status, r.Raw)
	}
}

// OttuHooks waits for n webhooks at rv and decodes them, each a JSON POST
// whose signature is verified (OttuVerify).
func OttuHooks(t testing.TB, rv *Recorder, secret string, n int) []map[string]any {
	t.Helper()
	hooks, bodies := rv.Await(t, n)
	for i, h := range hooks {
		if h.Method != "POST" || !strings.HasPrefix(h.Header.Get("Content-Type"), "application/json") {
			t.Errorf("webhook %d: %s %s", i, h.Method, h.Header.Get("Content-Type"))
		}
		OttuVerify(t, secret, bodies[i])
	}
	return bodies
}

// OttuPayNative pays a checkout as its hosted page would: a card encrypted
// to the session's key, confirmed (save_card as save); it expects 200.
func OttuPayNative(t testing.TB, s *Server, sk, sid, pan, cvc string, save bool) Resp {
	t.Helper()
	sess := s.Call("GET", "/v1/sessions/"+sid, sk, nil).Want(t, 200)
	return s.Call("POST", "/v1/sessions/"+sid+"/confirm", sk, map[string]any{"encrypted_card": EncryptFor(t, sess, pan, cvc),
		"save_card": save}).Want(t, 200)
}

// OttuLink creates the seed's (004) payment link for customer_id
// user_example as the development merchant, ending on rs, its webhooks
// going to rv; it expects 201.
func OttuLink(t testing.TB, s *Server, order, amount string, rs *ReturnSite, rv *Recorder) Resp {
	t.Helper()
	return OttuCheckout(t, s, s.Dev.SecretKey, map[string]any{"type": "payment_request", "pg_codes": []string{"ottu_pg_kwd_tkn"},
		"amount": amount, "customer_id": "user_example", "order_no": order, "currency_code": "KWD", "redirect_url": rs.URL,
		"webhook_url": rv.URL, "customer_first_name": "example-customer"})
}
