package payments

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// cvcField is a JSON "cvc" key (a field, not a mention such as "param":"cvc").
var cvcField = regexp.MustCompile(`"cvc\\?"\s*:`)

// inState makes a payment of 1000 on tok in the named state and returns it.
// States: requires_capture, succeeded, partially_captured (600 of 1000),
// partially_refunded (300 of 1000), refunded, canceled, failed.
func inState(t testing.TB, s *harness.Server, key, tok, declineTok, state string) map[string]any {
	t.Helper()
	var p map[string]any
	switch state {
	case "requires_capture":
		p = harness.PaymentOK(t, s.CreatePayment(key, harness.TokenPayment(tok, 1000, "capture", false)), 201, "requires_capture")
	case "succeeded", "partially_refunded", "refunded":
		p = harness.PaymentOK(t, s.CreatePayment(key, harness.TokenPayment(tok, 1000)), 201, "succeeded")
		id := p["id"].(string)
		switch state {
		case "partially_refunded":
			s.Call("POST", "/v1/payments/"+id+"/refunds", key, map[string]any{"amount": 300}).Want(t, 201)
		case "refunded":
			s.Call("POST", "/v1/payments/"+id+"/refunds", key, map[string]any{}).Want(t, 201)
		}
		if state != "succeeded" {
			p = s.GetPayment(t, key, id)
		}
	case "partially_captured":
		p = harness.PaymentOK(t, s.CreatePayment(key, harness.TokenPayment(tok, 1000, "capture", false)), 201, "requires_capture")
		p = harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+p["id"].(string)+"/capture", key, map[string]any{"amount": 600}), 200, "succeeded")
	case "canceled":
		p = harness.PaymentOK(t, s.CreatePayment(key, harness.TokenPayment(tok, 1000, "capture", false)), 201, "requires_capture")
		p = harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+p["id"].(string)+"/cancel", key, nil), 200, "canceled")
	case "failed":
		p = s.PaymentDeclined(t, key, s.CreatePayment(key, harness.TokenPayment(declineTok, 1000)), "card_declined", "generic_decline")
	default:
		t.Fatalf("unknown state %s", state)
	}
	return p
}

// TestPaymentLifecycle is the core happy path on both backends: charge a
// token (automatic capture) with every stored field, read it back, refund it
// partially then fully; authorize-only then partial capture and refund;
// authorize then cancel; charge a card directly; default currency; and all
// of it unchanged after a restart. The processor is asked exactly once per
// step.
func TestPaymentLifecycle(t *testing.T) {
	t.Parallel()
	harness.Backends(t, testPaymentLifecycle)
}

func testPaymentLifecycle(t *testing.T, opts ...harness.Option) {
	s := harness.Start(t, opts...)
	sk := s.Dev.SecretKey
	cid := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "pay_walk"}).Want(t, 201).Str("id")
	tokR := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "customer": cid}).Want(t, 201)
	tok := tokR.Str("id")

	// 1. Charge with automatic capture and every optional field.
	st0 := s.Sim.Stats()
	r := s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "currency", "MYR", "cvc", "123", "capture", true, "order_id", "1234",
		"description", "Order for product id #4", "customer", cid, "metadata", map[string]string{"sku": "P-4", "channel": "web"}))
	p := harness.PaymentOK(t, r, 201, "succeeded")
	pid := p["id"].(string)
	want := map[string]any{"amount": 1000.0, "amount_capturable": 0.0, "amount_captured": 1000.0, "amount_refunded": 0.0,
		"refunded": false, "currency": "MYR", "capture_method": "automatic", "token": tok, "customer": cid, "order_id": "1234",
		"description": "Order for product id #4", "failure": nil}
	for k, v := range want {
		if !reflect.DeepEqual(p[k], v) {
			t.Errorf("%s = %v, want %v", k, p[k], v)
		}
	}
	if !reflect.DeepEqual(p["metadata"], map[string]any{"sku": "P-4", "channel": "web"}) {
		t.Errorf("metadata: %v", p["metadata"])
	}
	wantCard := map[string]any{"brand": "visa", "bin": tokR.Str("card", "bin"), "last4": "4242", "mask": "424242******4242",
		"exp_month": harness.Dig(tokR.Body, "card", "exp_month"), "exp_year": harness.Dig(tokR.Body, "card", "exp_year"),
		"fingerprint": tokR.Str("card", "fingerprint")}
	for k, v := range wantCard {
		if harness.Dig(p, "card", k) != v {
			t.Errorf("card.%s = %v, want %v", k, harness.Dig(p, "card", k), v)
		}
	}
	if harness.Dig(p, "processor", "cvc_result") != "pass" || harness.Dig(p, "processor", "avs_result") != "unavailable" {
		t.Errorf("processor results: %v", p["processor"])
	}
	if refunds := p["refunds"].([]any); len(refunds) != 0 {
		t.Errorf("refunds: %v", refunds)
	}
	if strings.Contains(string(r.Raw), "4242424242424242") {
		t.Error("the response holds the card number")
	}
	st1 := s.Sim.Stats()
	if st1.Authorizations != st0.Authorizations+1 || st1.Captures != st0.Captures+1 || st1.Voids != st0.Voids {
		t.Errorf("an automatic-capture charge is one authorization and one capture: %+v → %+v", st0, st1)
	}
	if n := s.Sim.AuthorizationsFor(s.Dev.ID, pid); n != 1 {
		t.Errorf("AuthorizationsFor(merchant, %s) = %d, want 1 (the payment id is the processor reference)", pid, n)
	}
	if g := s.GetPayment(t, sk, pid); !reflect.DeepEqual(g, p) {
		t.Errorf("GET differs from the creation response:\n%v\n%v", g, p)
	}

	// 2. Partial refund, then the rest by default.
	re1 := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 300, "reason": "requested_by_customer"}).Want(t, 201)
	rf1 := harness.RefundShape(t, re1.Body)
	if rf1["payment"] != pid || harness.Int(rf1, "amount") != 300 || rf1["currency"] != "MYR" || rf1["status"] != "succeeded" || rf1["reason"] != "requested_by_customer" {
		t.Errorf("refund: %s", re1.Raw)
	}
	p = s.GetPayment(t, sk, pid)
	if harness.Int(p, "amount_refunded") != 300 || p["refunded"] != false || p["status"] != "succeeded" || len(p["refunds"].([]any)) != 1 {
		t.Errorf("after a partial refund: %v", p)
	}
	re2 := s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
	rf2 := harness.RefundShape(t, re2.Body)
	if harness.Int(rf2, "amount") != 700 || rf2["reason"] != nil || rf2["id"] == rf1["id"] || rf2["status"] != "succeeded" {
		t.Errorf("default refund must be the 700 left: %s", re2.Raw)
	}
	p = s.GetPayment(t, sk, pid)
	if harness.Int(p, "amount_refunded") != 1000 || p["refunded"] != true || p["status"] != "succeeded" || harness.Int(p, "amount_captured") != 1000 {
		t.Errorf("after a full refund: %v", p)
	}
	lr := s.Call("GET", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 200)
	var listed []string
	for _, d := range lr.Body["data"].([]any) {
		listed = append(listed, harness.RefundShape(t, d)["id"].(string))
	}
	if lr.Str("object") != "list" || lr.Body["has_more"] != false || !harness.SameSet(listed, []string{rf1["id"].(string), rf2["id"].(string)}) {
		t.Errorf("refund list: %s", lr.Raw)
	}
	if st := s.Sim.Stats(); st.Refunds != st1.Refunds+2 {
		t.Errorf("two refunds, processor saw %d", st.Refunds-st1.Refunds)
	}

	// 3. Authorize only, capture part, refund the captured part by default.
	st2 := s.Sim.Stats()
	a := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "capture", false, "order_id", "auth-1")), 201, "requires_capture")
	aid := a["id"].(string)
	if a["capture_method"] != "manual" || harness.Int(a, "amount_capturable") != 1000 || harness.Int(a, "amount_captured") != 0 {
		t.Errorf("authorization: %v", a)
	}
	if st := s.Sim.Stats(); st.Authorizations != st2.Authorizations+1 || st.Captures != st2.Captures {
		t.Errorf("capture:false must authorize without capturing: %+v → %+v", st2, st)
	}
	c := harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+aid+"/capture", sk, map[string]any{"amount": 600}), 200, "succeeded")
	if harness.Int(c, "amount") != 1000 || harness.Int(c, "amount_captured") != 600 || harness.Int(c, "amount_capturable") != 0 || c["created"] != a["created"] {
		t.Errorf("partial capture: %v", c)
	}
	if st := s.Sim.Stats(); st.Captures != st2.Captures+1 {
		t.Errorf("capture did not reach the processor once: %+v", st)
	}
	ra := s.Call("POST", "/v1/payments/"+aid+"/refunds", sk, map[string]any{}).Want(t, 201)
	if harness.Int(ra.Body, "amount") != 600 {
		t.Errorf("default refund of a partial capture must be the 600 captured: %s", ra.Raw)
	}
	if g := s.GetPayment(t, sk, aid); g["refunded"] != true || harness.Int(g, "amount_refunded") != 600 {
		t.Errorf("after refunding the whole capture: %v", g)
	}

	// 4. Authorize, capture everything by default.
	b := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 2500, "capture", false)), 201, "requires_capture")
	b = harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+b["id"].(string)+"/capture", sk, nil), 200, "succeeded")
	if harness.Int(b, "amount_captured") != 2500 {
		t.Errorf("capture without an amount takes the whole authorization: %v", b)
	}

	// 5. Authorize, cancel (voids at the processor).
	st3 := s.Sim.Stats()
	v := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 700, "capture", false)), 201, "requires_capture")
	v = harness.PaymentOK(t, s.Call("POST", "/v1/payments/"+v["id"].(string)+"/cancel", sk, nil), 200, "canceled")
	if st := s.Sim.Stats(); st.Voids != st3.Voids+1 || st.Captures != st3.Captures {
		t.Errorf("cancel must void once and capture nothing: %+v → %+v", st3, st)
	}

	// 6. A card charged directly: no token, currency defaults to the merchant's (MYR).
	d := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("5555555555554444", 4321)), 201, "succeeded")
	if d["token"] != nil || d["currency"] != "MYR" || d["customer"] != nil || d["order_id"] != nil || d["description"] != nil ||
		harness.Dig(d, "card", "brand") != "mastercard" || harness.Dig(d, "card", "last4") != "4444" || len(d["metadata"].(map[string]any)) != 0 {
		t.Errorf("direct card payment: %v", d)
	}

	// 7. Everything survives a restart unchanged.
	before := map[string]map[string]any{}
	for _, id := range []string{pid, aid, b["id"].(string), v["id"].(string), d["id"].(string)} {
		before[id] = s.GetPayment(t, sk, id)
	}
	list := s.PaymentIDs(t, sk)
	s2 := s.Restart()
	for id, want := range before {
		if got := s2.GetPayment(t, sk, id); !reflect.DeepEqual(got, want) {
			t.Errorf("%s changed across a restart:\n%v\n%v", id, got, want)
		}
	}
	if got := s2.PaymentIDs(t, sk); !slices.Equal(got, list) {
		t.Errorf("list changed across a restart: %v → %v", list, got)
	}
}

// TestPaymentStateMachine tries capture, cancel and refund from every state
// a payment can be in. Legal moves succeed; every illegal one is a 422
// invalid_request_error (invalid_state) that changes nothing, in the
// database or at the processor.
func TestPaymentStateMachine(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	declTok := s.NewToken(t, sk, "4000000000000341")

	const ok = 0
	type move struct {
		op     string // capture | cancel | refund
		status int    // ok: the legal answer
		code   string
	}
	table := map[string][]move{
		"requires_capture":   {{"capture", ok, ""}, {"cancel", ok, ""}, {"refund", 422, "invalid_state"}},
		"succeeded":          {{"capture", 422, "invalid_state"}, {"cancel", 422, "invalid_state"}, {"refund", ok, ""}},
		"partially_captured": {{"capture", 422, "invalid_state"}, {"cancel", 422, "invalid_state"}, {"refund", ok, ""}},
		"partially_refunded": {{"capture", 422, "invalid_state"}, {"cancel", 422, "invalid_state"}, {"refund", ok, ""}},
		"refunded":           {{"capture", 422, "invalid_state"}, {"cancel", 422, "invalid_state"}, {"refund", 422, harness.AnyParam}},
		"canceled":           {{"capture", 422, "invalid_state"}, {"cancel", 422, "invalid_state"}, {"refund", 422, "invalid_state"}},
		"failed":             {{"capture", 422, "invalid_state"}, {"cancel", 422, "invalid_state"}, {"refund", 422, "invalid_state"}},
	}
	states := []string{"requires_capture", "succeeded", "partially_captured", "partially_refunded", "refunded", "canceled", "failed"}
	for _, state := range states {
		for _, m := range table[state] {
			t.Run(state+"/"+m.op, func(t *testing.T) {
				p := inState(t, s, sk, tok, declTok, state)
				id := p["id"].(string)
				before, sim := s.GetPayment(t, sk, id), s.Sim.Stats()
				var r harness.Resp
				switch m.op {
				case "capture":
					r = s.Call("POST", "/v1/payments/"+id+"/capture", sk, nil)
				case "cancel":
					r = s.Call("POST", "/v1/payments/"+id+"/cancel", sk, nil)
				case "refund":
					r = s.Call("POST", "/v1/payments/"+id+"/refunds", sk, nil)
				}
				if m.status == ok {
					switch m.op {
					case "capture":
						if q := harness.PaymentOK(t, r, 200, "succeeded"); harness.Int(q, "amount_captured") != 1000 {
							t.Errorf("capture: %s", r.Raw)
						}
					case "cancel":
						harness.PaymentOK(t, r, 200, "canceled")
					case "refund":
						r.Want(t, 201)
						left := harness.Int(before, "amount_captured") - harness.Int(before, "amount_refunded")
						if harness.Int(harness.RefundShape(t, r.Body), "amount") != left {
							t.Errorf("default refund must be the %d left: %s", left, r.Raw)
						}
						if g := s.GetPayment(t, sk, id); g["refunded"] != true {
							t.Errorf("after refunding the rest: %v", g)
						}
					}
					return
				}
				harness.Refused(t, r, m.status, "invalid_request_error", m.code, "")
				if r.Body["object"] == "payment" || r.Body["object"] == "refund" {
					t.Errorf("a refused move answered an object: %s", r.Raw)
				}
				if after := s.GetPayment(t, sk, id); !reflect.DeepEqual(after, before) {
					t.Errorf("a refused %s changed the payment:\n%v\n%v", m.op, before, after)
				}
				if after := s.Sim.Stats(); after != sim {
					t.Errorf("a refused %s reached the processor: %+v → %+v", m.op, sim, after)
				}
			})
		}
	}
}

// testCard is one row of API.md's test-card table as POST /v1/payments sees it.
type testCard struct {
	number, code, decline string // code "" = success
}

var declineCards = []testCard{
	{"4000000000000002", "card_declined", "generic_decline"},
	{"4000000000009995", "card_declined", "insufficient_funds"},
	{"4000000000009987", "card_declined", "lost_card"},
	{"4000000000000069", "expired_card", "expired_card"},
	{"4000000000000127", "incorrect_cvc", "incorrect_cvc"},
	{"4000000000000119", "processing_error", "processing_error"},
	{"4000000000000341", "card_declined", "generic_decline"},
}

// TestPaymentTestCards runs every row of the test-card table through
// POST /v1/payments, with the card in the request and, where the card can be
// tokenized (declining cards with verify:false), through a token: successes
// are 201 with the brand and processor results; declines are 402 card_error
// with the code and decline_code of the table, a recorded failed payment in
// error.payment that GET returns, one authorization and no capture.
func TestPaymentTestCards(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	success := []struct{ number, brand string }{
		{"4242424242424242", "visa"}, {"5555555555554444", "mastercard"}, {"378282246310005", "amex"},
		{"3566002020360505", "jcb"}, {"6011111111111117", "discover"}, {"4111111111111111", "visa"},
	}
	for _, via := range []string{"card", "token"} {
		t.Run(via+"/success", func(t *testing.T) {
			for _, c := range success {
				body := harness.CardPayment(c.number, 1500)
				if via == "token" {
					body = harness.TokenPayment(s.NewToken(t, sk, c.number), 1500)
				}
				st := s.Sim.Stats()
				r := s.CreatePayment(sk, body)
				if r.Status != 201 {
					t.Errorf("%s: %d %s", c.number, r.Status, r.Raw)
					continue
				}
				p := harness.PaymentOK(t, r, 201, "succeeded")
				bin, _ := harness.Dig(p, "card", "bin").(string)
				if harness.Dig(p, "card", "brand") != c.brand || harness.Dig(p, "card", "last4") != c.number[len(c.number)-4:] || (len(bin) != 6 && len(bin) != 8) || !strings.HasPrefix(c.number, bin) {
					t.Errorf("%s: card view %v", c.number, p["card"])
				}
				wantCVC := "pass"
				if via == "token" {
					wantCVC = "unchecked" // no cvc sent with the token
				}
				if harness.Dig(p, "processor", "cvc_result") != wantCVC {
					t.Errorf("%s via %s: processor.cvc_result %v, want %s", c.number, via, harness.Dig(p, "processor", "cvc_result"), wantCVC)
				}
				if strings.Contains(string(r.Raw), c.number) {
					t.Errorf("%s: response holds the card number", c.number)
				}
				if after := s.Sim.Stats(); after.Authorizations != st.Authorizations+1 || after.Captures != st.Captures+1 {
					t.Errorf("%s: %+v → %+v", c.number, st, after)
				}
			}
		})
		t.Run(via+"/AVS fails", func(t *testing.T) {
			body := harness.CardPayment("4000000000000010", 1500)
			if via == "token" {
				body = harness.TokenPayment(s.NewToken(t, sk, "4000000000000010"), 1500)
			}
			p := harness.PaymentOK(t, s.CreatePayment(sk, body), 201, "succeeded")
			if harness.Dig(p, "processor", "avs_result") != "fail" {
				t.Errorf("processor.avs_result: %v", p["processor"])
			}
		})
		t.Run(via+"/declines", func(t *testing.T) {
			for _, c := range declineCards {
				body := harness.CardPayment(c.number, 1500, "order_id", "decl-"+c.number[12:])
				if via == "token" {
					// 0341 tokenizes with verification; the others only unverified.
					tok := s.NewToken(t, sk, c.number, "verify", c.number == "4000000000000341")
					body = harness.TokenPayment(tok, 1500, "order_id", "decl-"+c.number[12:])
				}
				st := s.Sim.Stats()
				r := s.CreatePayment(sk, body)
				if r.Status != 402 {
					t.Errorf("%s via %s: status %d, want 402: %s", c.number, via, r.Status, r.Raw)
					continue
				}
				p := s.PaymentDeclined(t, sk, r, c.code, c.decline)
				if p["order_id"] != "decl-"+c.number[12:] || harness.Int(p, "amount") != 1500 || harness.Dig(p, "card", "last4") != c.number[12:] {
					t.Errorf("%s: the failed payment must keep what was asked: %v", c.number, p)
				}
				if via == "token" && p["token"] == nil {
					t.Errorf("%s: failed token payment without its token: %v", c.number, p)
				}
				if c.code == "incorrect_cvc" && via == "card" && harness.Dig(p, "processor", "cvc_result") != "fail" {
					t.Errorf("%s: the processor's cvc_result (fail) must be stored on a decline: %v", c.number, p["processor"])
				}
				if strings.Contains(string(r.Raw), c.number) {
					t.Errorf("%s: the decline echoes the card number", c.number)
				}
				if after := s.Sim.Stats(); after.Authorizations != st.Authorizations+1 || after.Captures != st.Captures || after.Voids != st.Voids {
					t.Errorf("%s: a decline is one authorization, nothing captured or voided: %+v → %+v", c.number, st, after)
				}
			}
		})
	}

	// Challenge cards wait for the card holder (the challenge itself is
	// threeds_test.go's); a token still waiting for its own challenge is
	// refused 402 without reaching the processor.
	t.Run("card/3-D Secure", func(t *testing.T) {
		for _, n := range []string{"4000002500003155", "4000008400001629"} {
			r := s.CreatePayment(sk, harness.CardPayment(n, 1500))
			harness.PaymentOK(t, r, 201, "requires_action")
			if r.Str("next_action", "type") != "redirect" || !strings.HasPrefix(r.Str("next_action", "url"), s.URL+"/3ds/3ds_") {
				t.Errorf("%s: requires_action without a redirect to the challenge page: %s", n, r.Raw)
			}
		}
	})
	t.Run("token/3-D Secure", func(t *testing.T) {
		tr := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4000002500003155")}).Want(t, 201)
		if tr.Str("status") != "requires_action" {
			t.Fatalf("token: %s", tr.Raw)
		}
		s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.TokenPayment(tr.Str("id"), 1500)), "card_declined", "token_inactive")
	})
}

// TestPaymentTokenProblems: a token that cannot be charged. Unknown and
// another merchant's tokens are 404 param token and record nothing; a
// disabled, deleted or expired token and the "verifies then declines" card
// are 402 with the contract's codes, each recording a failed payment; a
// disabled or deleted token never reaches the processor; enabling the token
// again makes it chargeable.
func TestPaymentTokenProblems(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	m2 := s.NewMerchant("Other shop")
	otherTok := s.NewToken(t, m2.SecretKey, "4242424242424242")
	tok := s.NewToken(t, sk, "4242424242424242")

	before, sim := s.PaymentIDs(t, sk), s.Sim.Stats()
	for _, id := range []string{"tok_zzzzzzzzzzzzzzzzzzzzzzzzzz", otherTok} {
		harness.Refused(t, s.CreatePayment(sk, harness.TokenPayment(id, 1000)), 404, "not_found", "resource_missing", "token")
	}
	// A card number pasted into token: refused (404 or 400) naming token, never echoed.
	if r := s.CreatePayment(sk, harness.TokenPayment("4242424242424242", 1000)); r.Status != 400 && r.Status != 404 || r.Str("error", "param") != "token" ||
		strings.Contains(string(r.Raw), "4242424242424242") {
		t.Errorf("a card number as token: %d %s", r.Status, r.Raw)
	}
	if got := s.PaymentIDs(t, sk); !slices.Equal(got, before) {
		t.Errorf("a 404 recorded a payment: %v → %v", before, got)
	}
	if got := s.PaymentIDs(t, m2.SecretKey); len(got) != 0 {
		t.Errorf("the other merchant got payments: %v", got)
	}
	if st := s.Sim.Stats(); st != sim {
		t.Errorf("an unknown token reached the processor: %+v → %+v", sim, st)
	}

	// Disabled → 402 token_disabled, nothing at the processor; enabled again → 201.
	s.Call("POST", "/v1/tokens/"+tok+"/disable", sk, nil).Want(t, 200)
	sim = s.Sim.Stats()
	p := s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "order_id", "dis")), "card_declined", "token_disabled")
	if p["token"] != tok || p["order_id"] != "dis" {
		t.Errorf("failed payment of a disabled token: %v", p)
	}
	if st := s.Sim.Stats(); st != sim {
		t.Errorf("a disabled token reached the processor: %+v → %+v", sim, st)
	}
	s.Call("POST", "/v1/tokens/"+tok+"/enable", sk, nil).Want(t, 200)
	harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000)), 201, "succeeded")

	// Deleted → 402 token_deleted, nothing at the processor.
	del := s.NewToken(t, sk, "5555555555554444")
	s.Call("DELETE", "/v1/tokens/"+del, sk, nil).Want(t, 200)
	sim = s.Sim.Stats()
	p = s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.TokenPayment(del, 1000)), "card_declined", "token_deleted")
	if p["token"] != del {
		t.Errorf("failed payment of a deleted token: %v", p)
	}
	if st := s.Sim.Stats(); st != sim {
		t.Errorf("a deleted token reached the processor: %+v → %+v", sim, st)
	}

	// Expired: the card's expiry passes while it is stored (made so by
	// moving the stored expiry into last year; the ciphertext is untouched).
	exp := s.NewToken(t, sk, "378282246310005")
	db := s.OpenDB(t)
	if _, err := db.Exec(s.Rebind(`UPDATE tokens SET exp_month = 1, exp_year = ? WHERE id = ?`), time.Now().Year()-1, exp); err != nil {
		t.Fatal(err)
	}
	s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.TokenPayment(exp, 1000)), "expired_card", "")

	// "Verifies and tokenizes, every later charge declined."
	v := s.NewToken(t, sk, "4000000000000341")
	for range 2 {
		s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.TokenPayment(v, 1000)), "card_declined", "generic_decline")
	}

	// Every 402 above is listed; the list is newest first.
	if got := s.PaymentIDs(t, sk); len(got) != len(before)+6 {
		t.Errorf("want %d payments (5 failed, 1 succeeded), got %d", len(before)+6, len(got))
	}
}

// TestPaymentRequireCVC: with require_cvc_for_saved_cards on, a token charge
// without a cvc is 400 param cvc and records nothing; a wrong cvc is 402
// incorrect_cvc (recorded, failed); the right one is 201. With the setting
// off a cvc is optional. No payment JSON, and no byte of the SQLite files
// after a graceful stop, holds a CVC or a CVC field.
func TestPaymentRequireCVC(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	visa := s.NewToken(t, sk, "4242424242424242") // tokenized with cvc 123
	amexC := harness.Card("378282246310005")
	amexC["cvc"] = "7391"
	amex := s.Tokenize(t, sk, map[string]any{"card": amexC}).Want(t, 201).Str("id")
	var raws [][]byte
	keep := func(r harness.Resp) harness.Resp { raws = append(raws, r.Raw); return r }

	// Setting off: no cvc needed.
	p := harness.PaymentOK(t, keep(s.CreatePayment(sk, harness.TokenPayment(visa, 1000))), 201, "succeeded")
	if harness.Dig(p, "processor", "cvc_result") != "unchecked" {
		t.Errorf("no cvc sent: processor.cvc_result %v", harness.Dig(p, "processor", "cvc_result"))
	}

	if m := s.Call("PATCH", "/v1/merchant", sk, map[string]any{"require_cvc_for_saved_cards": true}).Want(t, 200); m.Body["require_cvc_for_saved_cards"] != true {
		t.Fatalf("setting: %s", m.Raw)
	}
	before, sim := s.PaymentIDs(t, sk), s.Sim.Stats()
	for _, tok := range []string{visa, amex} {
		harness.Refused(t, keep(s.CreatePayment(sk, harness.TokenPayment(tok, 1000))), 400, "invalid_request_error", harness.AnyParam, "cvc")
		harness.Refused(t, keep(s.CreatePayment(sk, harness.TokenPayment(tok, 1000, "cvc", ""))), 400, "invalid_request_error", harness.AnyParam, "cvc")
	}
	if got := s.PaymentIDs(t, sk); !slices.Equal(got, before) {
		t.Errorf("a charge refused for a missing cvc recorded a payment")
	}
	if st := s.Sim.Stats(); st != sim {
		t.Errorf("a charge refused for a missing cvc reached the processor: %+v → %+v", sim, st)
	}

	// All zeros is the simulator's wrong CVC for every card.
	for _, c := range []struct{ tok, wrong, right string }{{visa, "000", "123"}, {amex, "0000", "7391"}} {
		f := s.PaymentDeclined(t, sk, keep(s.CreatePayment(sk, harness.TokenPayment(c.tok, 1000, "cvc", c.wrong))), "incorrect_cvc", "")
		if harness.Dig(f, "processor", "cvc_result") != "fail" && harness.Dig(f, "processor", "cvc_result") != nil {
			t.Errorf("wrong cvc: processor.cvc_result %v", harness.Dig(f, "processor", "cvc_result"))
		}
		ok := harness.PaymentOK(t, keep(s.CreatePayment(sk, harness.TokenPayment(c.tok, 1000, "cvc", c.right))), 201, "succeeded")
		if harness.Dig(ok, "processor", "cvc_result") != "pass" {
			t.Errorf("right cvc: processor.cvc_result %v", harness.Dig(ok, "processor", "cvc_result"))
		}
	}
	// A card in the request carries its own cvc: the setting is about saved cards.
	harness.PaymentOK(t, keep(s.CreatePayment(sk, harness.CardPayment("5555555555554444", 1000))), 201, "succeeded")
	// Reads of every payment too.
	for _, id := range s.PaymentIDs(t, sk) {
		keep(s.Call("GET", "/v1/payments/"+id, sk, nil))
	}
	keep(s.Call("GET", "/v1/payments", sk, nil))
	for _, raw := range raws {
		if cvcField.Match(raw) || harness.Isolated(raw, []byte("7391"), harness.IsDigit) >= 0 || harness.Isolated(raw, []byte("7392"), harness.IsDigit) >= 0 {
			t.Errorf("a response holds a cvc: %s", harness.Short(raw))
		}
	}

	// At rest: every file of the data folder after a graceful stop, and every
	// value and column of every table.
	s.Stop()
	files := harness.ReadTree(t, s.DataDir)
	for name, data := range files {
		for _, cvc := range []string{"123", "124", "7391", "7392"} {
			for _, pat := range []string{`"cvc":"%s"`, `"cvc": "%s"`, `"cvc":%s`, `cvc=%s`, `"cvc\":\"%s\"`} {
				if i := bytes.Index(data, fmt.Appendf(nil, pat, cvc)); i >= 0 {
					t.Errorf("%s holds a CVC: %q", name, harness.Around(data, i, len(pat)))
				}
			}
		}
		for _, cvc := range []string{"7391", "7392"} {
			if i := harness.Isolated(data, []byte(cvc), harness.IsDigit); i >= 0 {
				t.Errorf("%s holds the 4-digit CVC %s: %q", name, cvc, harness.Around(data, i, 4))
			}
		}
		if loc := cvcField.FindIndex(data); loc != nil {
			t.Errorf("%s holds a cvc field: %q", name, harness.Around(data, loc[0], 6))
		}
	}
	db := harness.OpenSQLiteReadOnly(t, s.DataDir)
	cvcCol := regexp.MustCompile(`(?i)(^|_)(cvc|cvv|cvc2|cvv2|csc|security_code)(_hash|_digest|_ct|_enc)?$`)
	for table, rows := range harness.DumpDB(t, db) {
		cols, err := db.Query(`SELECT name FROM pragma_table_info('` + table + `')`)
		if err != nil {
			t.Fatal(err)
		}
		for cols.Next() {
			var c string
			cols.Scan(&c)
			if cvcCol.MatchString(c) {
				t.Errorf("table %s has a CVC column %q", table, c)
			}
		}
		cols.Close()
		for _, row := range rows {
			for col, v := range row {
				for _, cvc := range []string{"7391", "7392"} {
					if harness.Isolated([]byte(v), []byte(cvc), harness.IsWordByte) >= 0 {
						t.Errorf("%s.%s holds the CVC %s", table, col, cvc)
					}
				}
				if cvcField.MatchString(v) {
					t.Errorf("%s.%s holds a cvc field: %s", table, col, harness.Short([]byte(v)))
				}
			}
		}
	}
}

// TestPaymentSaveCard: charging a card with save_card tokenizes it on
// success — for a customer the token is listed under the customer and can
// be charged at once; the same card saved again for that customer returns
// the customer's existing token; a declined card saves nothing.
func TestPaymentSaveCard(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	cid := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "saver"}).Want(t, 201).Str("id")

	p := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("4242424242424242", 1000, "save_card", true, "customer", cid)), 201, "succeeded")
	tok, _ := p["token"].(string)
	if !strings.HasPrefix(tok, "tok_") || p["customer"] != cid {
		t.Fatalf("save_card: payment.token must be the new token: %v", p)
	}
	tr := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200)
	if tr.Str("status") != "active" || tr.Str("customer") != cid || tr.Str("card", "last4") != "4242" ||
		tr.Str("card", "fingerprint") != harness.Dig(p, "card", "fingerprint") {
		t.Errorf("saved token: %s", tr.Raw)
	}
	l := s.Call("GET", "/v1/tokens?customer="+cid, sk, nil).Want(t, 200)
	if d := l.Body["data"].([]any); len(d) != 1 || harness.Dig(d[0], "id") != tok {
		t.Errorf("the saved token is not listed under the customer: %s", l.Raw)
	}
	if g := s.Call("GET", "/v1/customers/"+cid, sk, nil).Want(t, 200); len(g.Body["tokens"].([]any)) != 1 {
		t.Errorf("customer view: %s", g.Raw)
	}
	again := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 500)), 201, "succeeded")
	if again["token"] != tok {
		t.Errorf("charging the saved token: %v", again)
	}
	// The same card again for the same customer: API.md — "saving a card a
	// customer already has returns that customer's existing token".
	dup := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("4242424242424242", 700, "save_card", true, "customer", cid)), 201, "succeeded")
	if dup["token"] != tok {
		t.Errorf("the same card saved twice for one customer minted a second token: %v vs %s", dup["token"], tok)
	}
	// Without a customer: a token of its own.
	solo := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("5555555555554444", 700, "save_card", true)), 201, "succeeded")
	if st, _ := solo["token"].(string); !strings.HasPrefix(st, "tok_") || st == tok {
		t.Errorf("save_card without a customer: %v", solo)
	} else if r := s.Call("GET", "/v1/tokens/"+st, sk, nil).Want(t, 200); r.Body["customer"] != nil || r.Str("status") != "active" {
		t.Errorf("token saved without a customer: %s", r.Raw)
	}
	// save_card false (and absent) saves nothing.
	toks := s.TokenIDs(t, sk)
	for _, body := range []map[string]any{harness.CardPayment("378282246310005", 900, "save_card", false, "customer", cid), harness.CardPayment("378282246310005", 900)} {
		if q := harness.PaymentOK(t, s.CreatePayment(sk, body), 201, "succeeded"); q["token"] != nil {
			t.Errorf("no save_card, but a token: %v", q)
		}
	}
	// Declined cards save nothing.
	for _, c := range []string{"4000000000000002", "4000000000009995", "4000000000000341"} {
		f := s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.CardPayment(c, 1000, "save_card", true, "customer", cid)), "card_declined", "")
		if f["token"] != nil {
			t.Errorf("%s: a declined payment got a token: %v", c, f)
		}
	}
	if got := s.TokenIDs(t, sk); !harness.SameSet(got, toks) {
		t.Errorf("tokens changed: %v → %v", toks, got)
	}
}

// TestPaymentLookups: order_id, description, customer and metadata are
// stored and returned, and ?order_id= / ?customer= find exactly the
// merchant's own matching payments, newest first, failed ones included;
// filters paginate.
func TestPaymentLookups(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	m2 := s.NewMerchant("Other shop")
	cus1 := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "c1"}).Want(t, 201).Str("id")
	cus2 := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "c2"}).Want(t, 201).Str("id")
	tok1 := s.NewToken(t, sk, "4242424242424242", "customer", cus1)
	md := map[string]string{"cart": "c-77", "note": "ünïcödé ✓", "empty": ""}

	var order, byCus1 []string // newest first
	add := func(list *[]string, id string) { *list = append([]string{id}, *list...) }
	p1 := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok1, 1000, "order_id", "ORD-1", "customer", cus1, "description", "first try", "metadata", md)), 201, "succeeded")
	add(&order, p1["id"].(string))
	add(&byCus1, p1["id"].(string))
	f := s.PaymentDeclined(t, sk, s.CreatePayment(sk, harness.CardPayment("4000000000009995", 1000, "order_id", "ORD-1", "customer", cus1)), "card_declined", "insufficient_funds")
	add(&order, f["id"].(string))
	add(&byCus1, f["id"].(string))
	p3 := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("5555555555554444", 1000, "order_id", "ORD-1", "capture", false)), 201, "requires_capture")
	add(&order, p3["id"].(string))
	p4 := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("5555555555554444", 2000, "order_id", "ORD-2", "customer", cus2)), 201, "succeeded")
	harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("5555555555554444", 3000)), 201, "succeeded")
	// The other merchant uses the same order id.
	harness.PaymentOK(t, s.CreatePayment(m2.SecretKey, harness.CardPayment("4242424242424242", 1000, "order_id", "ORD-1")), 201, "succeeded")

	g := s.GetPayment(t, sk, p1["id"].(string))
	if g["order_id"] != "ORD-1" || g["customer"] != cus1 || g["description"] != "first try" ||
		!reflect.DeepEqual(g["metadata"], map[string]any{"cart": "c-77", "note": "ünïcödé ✓", "empty": ""}) {
		t.Errorf("stored fields: %v", g)
	}
	if f["order_id"] != "ORD-1" || f["customer"] != cus1 {
		t.Errorf("a failed payment keeps order_id and customer: %v", f)
	}

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?order_id=ORD-1", order},
		{"?order_id=ORD-2", []string{p4["id"].(string)}},
		{"?order_id=" + url.QueryEscape("ORD-1x"), nil},
		{"?order_id=nope", nil},
		{"?customer=" + cus1, byCus1},
		{"?customer=" + cus2, []string{p4["id"].(string)}},
		{"?order_id=ORD-1&customer=" + cus1, byCus1},
	} {
		ids, more, _ := s.ListPayments(t, sk, c.query)
		if !slices.Equal(ids, c.want) || more {
			t.Errorf("%s: got %v (has_more %v), want %v newest first", c.query, ids, more, c.want)
		}
	}
	// The other merchant's search sees only its own.
	if ids, _, _ := s.ListPayments(t, m2.SecretKey, "?order_id=ORD-1"); len(ids) != 1 || slices.Contains(order, ids[0]) {
		t.Errorf("merchant 2 by order id: %v", ids)
	}
	if r := s.Call("GET", "/v1/payments?customer="+cus1, m2.SecretKey, nil); r.Status == 200 {
		if d := r.Body["data"].([]any); len(d) != 0 {
			t.Errorf("merchant 2 lists merchant 1's customer's payments: %s", r.Raw)
		}
	} else if r.Status != 404 {
		t.Errorf("merchant 2 listing by merchant 1's customer: %d %s", r.Status, r.Raw)
	}
	// A filter paginates.
	ids, more, _ := s.ListPayments(t, sk, "?order_id=ORD-1&limit=2")
	if !slices.Equal(ids, order[:2]) || !more {
		t.Errorf("first filtered page: %v %v", ids, more)
	}
	ids, more, _ = s.ListPayments(t, sk, "?order_id=ORD-1&limit=2&starting_after="+ids[1])
	if !slices.Equal(ids, order[2:]) || more {
		t.Errorf("second filtered page: %v %v", ids, more)
	}
}

// TestPaymentPagination: GET /v1/payments pages like tokens — limit,
// starting_after, has_more, newest first, every payment (failed ones
// included) exactly once, default limit 20.
func TestPaymentPagination(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	var created []string
	for i := range 25 {
		body := harness.CardPayment(cardpkg.CompleteLuhn(fmt.Sprintf("424242%09d", i)), 100+i)
		if i == 3 {
			body = harness.CardPayment("4000000000000002", 100+i)
			created = append(created, s.PaymentDeclined(t, sk, s.CreatePayment(sk, body), "card_declined", "generic_decline")["id"].(string))
			continue
		}
		created = append(created, harness.PaymentOK(t, s.CreatePayment(sk, body), 201, "succeeded")["id"].(string))
	}
	slices.Reverse(created) // newest first

	ids, more, _ := s.ListPayments(t, sk, "")
	if !slices.Equal(ids, created[:20]) || !more {
		t.Errorf("default page: want the 20 newest and has_more")
	}
	var seen []string
	after := ""
	for page := 0; ; page++ {
		q := "?limit=7"
		if after != "" {
			q += "&starting_after=" + after
		}
		ids, more, _ := s.ListPayments(t, sk, q)
		if want := min(7, 25-len(seen)); len(ids) != want {
			t.Errorf("page %d: %d items, want %d", page, len(ids), want)
		}
		seen = append(seen, ids...)
		if !more {
			break
		}
		if len(ids) == 0 || page > 5 {
			t.Fatal("pagination does not end")
		}
		after = ids[len(ids)-1]
	}
	if !slices.Equal(seen, created) {
		t.Errorf("paging saw %v,\nwant %v", seen, created)
	}
	// The last page is exactly full: has_more false, and after it nothing.
	ids, more, _ = s.ListPayments(t, sk, "?limit=5&starting_after="+created[19])
	if !slices.Equal(ids, created[20:]) || more {
		t.Errorf("last page: %v %v", ids, more)
	}
	if ids, more, _ = s.ListPayments(t, sk, "?starting_after="+created[24]); len(ids) != 0 || more {
		t.Errorf("after the oldest: %v %v", ids, more)
	}
}

// TestPaymentAmountsAndCurrencies: currencies with 0, 2 and 3 decimals and
// the upper bound are accepted and echoed; the currency defaults to the
// merchant's default_currency, and follows it when that changes.
func TestPaymentAmountsAndCurrencies(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := s.NewToken(t, sk, "4242424242424242")
	for _, c := range []struct {
		amount   int64
		currency string
	}{{500, "JPY"}, {1234, "KWD"}, {1, "MYR"}, {99999999999, "MYR"}, {150000, "IDR"}, {1, "BHD"}, {12345, "USD"}} {
		p := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, c.amount, "currency", c.currency)), 201, "succeeded")
		if harness.Int(p, "amount") != c.amount || p["currency"] != c.currency || harness.Int(p, "amount_captured") != c.amount {
			t.Errorf("%d %s: %v", c.amount, c.currency, p)
		}
		if c.amount == 99999999999 {
			rf := s.Call("POST", "/v1/payments/"+p["id"].(string)+"/refunds", sk, nil).Want(t, 201)
			if harness.Int(rf.Body, "amount") != c.amount || rf.Str("currency") != c.currency {
				t.Errorf("refund of the largest amount: %s", rf.Raw)
			}
		}
	}
	if p := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000)), 201, "succeeded"); p["currency"] != "MYR" {
		t.Errorf("default currency: %v", p["currency"])
	}
	s.Call("PATCH", "/v1/merchant", sk, map[string]any{"default_currency": "KWD"}).Want(t, 200)
	if p := harness.PaymentOK(t, s.CreatePayment(sk, harness.TokenPayment(tok, 1000)), 201, "succeeded"); p["currency"] != "KWD" {
		t.Errorf("default currency after PATCH: %v", p["currency"])
	}
}
