package e2e

// A session that ended succeeded whose payment is later captured, voided
// or refunded: the core writes a session.updated event for it in the same
// transaction, so the session's callback_url hears of it — natively
// (Standard Webhooks, the merchant's callback_secret) and in the SensePass,
// Pivot and Ottu dialects' formats. A payment that merely claims the
// session in its metadata does not. Helper names start with spc.

import (
	"fmt"
	"testing"
	"time"
)

// spcSessionEvents lists the merchant's events of a type about a session,
// newest first. Events are written in the transaction of the change, so
// they are there as soon as the change's answer is.
func spcSessionEvents(t testing.TB, s *server, sk, typ, sid string) []map[string]any {
	t.Helper()
	return rwEvents(t, s, sk, "type="+typ+"&object="+sid)
}

// spcOf lists the accepted deliveries of a type about one object, in
// arrival order.
func spcOf(rv *receiver, typ, id string) []map[string]any {
	var out []map[string]any
	for _, e := range rv.ofType(typ) {
		if dig(e, "data", "object", "id") == id {
			out = append(out, e)
		}
	}
	return out
}

// spcArrival is the position among the receiver's accepted deliveries of
// the first of a type about an object (-1: none).
func spcArrival(rv *receiver, typ, id string) int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for i, e := range rv.got {
		if e["type"] == typ && dig(e, "data", "object", "id") == id {
			return i
		}
	}
	return -1
}

// spcDelivery waits until the delivery of an event to url has settled
// (no longer pending) and returns its status.
func spcDelivery(t testing.TB, s *server, sk, eventID, url string) string {
	t.Helper()
	status := ""
	waitUntil(t, 15*time.Second, "the delivery of "+eventID+" to settle", func() bool {
		ev := s.call("GET", "/v1/events/"+eventID, sk, nil).want(t, 200)
		dls, _ := ev.Body["deliveries"].([]any)
		for _, dl := range dls {
			if pvStr(dl, "url") == url {
				status = pvStr(dl, "status")
			}
		}
		return status != "" && status != "pending"
	})
	return status
}

// spcNativePaid creates an API-mode session with a callback_url, pays it
// with a card (capture false: authorize only) and returns the session's
// and its payment's ids.
func spcNativePaid(t testing.TB, s *server, sk, callbackURL string, capture bool) (sid, pid string) {
	t.Helper()
	r := newSession(t, s, sk, map[string]any{"mode": "api", "amount": 2500, "capture": capture, "callback_url": callbackURL})
	c := s.call("POST", "/v1/sessions/"+r.str("id")+"/confirm", sk, map[string]any{"encrypted_card": encryptFor(t, r, "4242424242424242", "123")}).want(t, 200)
	if c.str("status") != "succeeded" || c.str("payment") == "" {
		t.Fatalf("confirm: %s", c.Raw)
	}
	return r.str("id"), c.str("payment")
}

// TestSessionPaymentChangesNative: the callback_url of a succeeded
// session receives a signed session.updated after its session.succeeded
// when the session's payment is voided, captured or refunded; a payment
// that only names the session in its metadata changes nothing.
func TestSessionPaymentChangesNative(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	sk := s.Dev.SecretKey
	cb := newReceiver(t)
	sec, err := s.callbackSecret(sk)
	if err != nil || sec == "" {
		t.Fatalf("callback secret %q: %v", sec, err)
	}
	cb.secret = sec
	ep := newReceiver(t)
	ep.register(t, s, sk, "session.updated")

	// updated checks that the session has n session.updated events, each
	// about it as it is (succeeded, its payment), and waits until the
	// callback_url and the endpoint accepted n of them, verified.
	updated := func(t *testing.T, sid, pid string, n int) {
		t.Helper()
		evs := spcSessionEvents(t, s, sk, "session.updated", sid)
		if len(evs) != n {
			t.Fatalf("%d session.updated events for %s, want %d: %v", len(evs), sid, n, rwTypes(evs))
		}
		for _, e := range evs {
			if dig(e, "data", "object", "status") != "succeeded" || dig(e, "data", "object", "payment") != pid {
				t.Errorf("session.updated: %v", e["data"])
			}
		}
		waitUntil(t, 15*time.Second, fmt.Sprintf("%d session.updated at the callback_url", n), func() bool {
			return len(spcOf(cb, "session.updated", sid)) >= n
		})
		waitUntil(t, 15*time.Second, fmt.Sprintf("%d session.updated at the endpoint", n), func() bool {
			return len(spcOf(ep, "session.updated", sid)) >= n
		})
		if a, b := spcArrival(cb, "session.succeeded", sid), spcArrival(cb, "session.updated", sid); a < 0 || b < a {
			t.Errorf("session.succeeded arrived at %d, session.updated at %d: want the outcome first", a, b)
		}
		cb.mu.Lock()
		defer cb.mu.Unlock()
		for _, e := range evs {
			if cb.ids[e["id"].(string)] != 1 {
				t.Errorf("event %s accepted %d times by the callback_url", e["id"], cb.ids[e["id"].(string)])
			}
		}
		if cb.bad != 0 {
			t.Errorf("%d callback deliveries failed Standard Webhooks verification", cb.bad)
		}
	}
	succeeded := func(t *testing.T, sid string) {
		t.Helper()
		waitUntil(t, 15*time.Second, "session.succeeded at the callback_url", func() bool { return len(spcOf(cb, "session.succeeded", sid)) == 1 })
	}

	t.Run("void", func(t *testing.T) {
		sid, pid := spcNativePaid(t, s, sk, cb.URL, false)
		if p := s.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200); p.str("status") != "requires_capture" {
			t.Fatalf("the session's payment: %s", p.Raw)
		}
		succeeded(t, sid)
		if n := len(spcSessionEvents(t, s, sk, "session.updated", sid)); n != 0 {
			t.Fatalf("%d session.updated before the void", n)
		}
		if c := s.call("POST", "/v1/payments/"+pid+"/cancel", sk, nil).want(t, 200); c.str("status") != "canceled" {
			t.Fatalf("cancel: %s", c.Raw)
		}
		updated(t, sid, pid, 1)
		if g := s.call("GET", "/v1/sessions/"+sid, sk, nil).want(t, 200); g.str("status") != "succeeded" {
			t.Errorf("the session after the void: %s", g.Raw)
		}
	})

	t.Run("capture, then refunds", func(t *testing.T) {
		sid, pid := spcNativePaid(t, s, sk, cb.URL, false)
		succeeded(t, sid)
		s.call("POST", "/v1/payments/"+pid+"/capture", sk, nil).want(t, 200)
		updated(t, sid, pid, 1)
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 1000}).want(t, 201)
		updated(t, sid, pid, 2)
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201)
		updated(t, sid, pid, 3)
	})

	t.Run("refund of an automatic capture", func(t *testing.T) {
		sid, pid := spcNativePaid(t, s, sk, cb.URL, true)
		succeeded(t, sid)
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201)
		updated(t, sid, pid, 1)
	})

	t.Run("another payment naming the session", func(t *testing.T) {
		sid, pid := spcNativePaid(t, s, sk, cb.URL, true)
		succeeded(t, sid)
		open := newSession(t, s, sk, map[string]any{"mode": "api", "amount": 100, "callback_url": cb.URL}).str("id")
		for _, target := range []string{sid, open} {
			md := map[string]any{"session": target}
			a := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 700, "card": card("4242424242424242"), "capture": false, "metadata": md}), 201, "requires_capture")
			s.call("POST", "/v1/payments/"+a["id"].(string)+"/cancel", sk, nil).want(t, 200)
			b := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "card": card("4242424242424242"), "capture": false, "metadata": md}), 201, "requires_capture")
			s.call("POST", "/v1/payments/"+b["id"].(string)+"/capture", sk, nil).want(t, 200)
			c := payOK(t, s.call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "card": card("4242424242424242"), "metadata": md}), 201, "succeeded")
			s.call("POST", "/v1/payments/"+c["id"].(string)+"/refunds", sk, nil).want(t, 201)
			if n := len(rwEvents(t, s, sk, "type=payment.canceled&object="+a["id"].(string))); n != 1 {
				t.Fatalf("the other payment's payment.canceled: %d events", n)
			}
			if evs := spcSessionEvents(t, s, sk, "session.updated", target); len(evs) != 0 {
				t.Errorf("a payment naming %s in its metadata wrote session.updated for it: %v", target, evs)
			}
		}
		// The session's own payment still does, once.
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201)
		updated(t, sid, pid, 1)
		time.Sleep(300 * time.Millisecond) // a stray delivery would arrive now
		if n := len(spcOf(cb, "session.updated", sid)); n != 1 {
			t.Errorf("%d session.updated at the callback_url, want the own payment's refund only", n)
		}
		if n := len(spcOf(cb, "session.updated", open)); n != 0 {
			t.Errorf("the open session's callback_url got %d session.updated", n)
		}
	})
}

// TestSessionPaymentChangesSensePass: voiding an Authorize transaction's
// payment with cancel calls back status 9; refunding a Capture
// transaction's payment calls back the refund's status; each signed.
func TestSessionPaymentChangesSensePass(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret

	t.Run("Authorize, cancel", func(t *testing.T) {
		rv := snNewReceiver(t)
		n := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "methodType": "Authorize", "callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
		snConfirm(t, s, sk, n, "4242424242424242").want(t, 200)
		if _, bodies := snCallbacks(t, rv, 1); bodies[0]["status"] != float64(5) {
			t.Fatalf("the approval's callback: %v", bodies[0])
		}
		snPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}).want(t, 200)
		hooks, bodies := snCallbacks(t, rv, 2)
		for _, h := range hooks {
			snVerify(t, secret, h)
		}
		b := bodies[1]
		if hooks[1].Method != "POST" || b["TransactionNumber"] != n || b["status"] != float64(9) || b["statusName"] != "TransactionCancel" ||
			b["callbackType"] != "transaction_status" || dig(b, "paymentDetails", "type") != "Authorize" ||
			dig(b, "paymentDetails", "lastFourDigits") != "4242" {
			t.Errorf("the void's callback: %s", hooks[1].Body)
		}
		snShape(t, "the void's callback", snDecode(t, snSeedCallback), b)
		time.Sleep(300 * time.Millisecond)
		if got := len(rv.all()); got != 2 {
			t.Errorf("%d callbacks, want the approval's and the void's", got)
		}
	})

	t.Run("Capture, refunds", func(t *testing.T) {
		rv := snNewReceiver(t)
		n := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "methodType": "Capture", "callbackURL": rv.URL}).want(t, 201).str("TransactionNumber")
		snConfirm(t, s, sk, n, "4242424242424242").want(t, 200)
		snCallbacks(t, rv, 1)
		pid := snSession(t, s, sk, n).str("payment")
		if pid == "" {
			t.Fatal("the session has no payment")
		}
		// One refund at a time: callbacks render the payment as it is when
		// delivered.
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 1000}).want(t, 201)
		hooks, bodies := snCallbacks(t, rv, 2)
		snVerify(t, secret, hooks[1])
		if bodies[1]["TransactionNumber"] != n || bodies[1]["status"] != float64(13) || bodies[1]["statusName"] != "TransactionPartiallyRefunded" {
			t.Errorf("the partial refund's callback: %s", hooks[1].Body)
		}
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201)
		hooks, bodies = snCallbacks(t, rv, 3)
		snVerify(t, secret, hooks[2])
		if bodies[2]["TransactionNumber"] != n || bodies[2]["status"] != float64(11) || bodies[2]["statusName"] != "TransactionRefund" {
			t.Errorf("the full refund's callback: %s", hooks[2].Body)
		}
	})
}

// TestSessionPaymentChangesPivot: voiding a manual-capture session's
// authorization sends PAYMENT.CANCELLED; a refund or a capture sends
// nothing (the delivery is recorded as skipped).
func TestSessionPaymentChangesPivot(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	sk := s.Dev.SecretKey
	tok := pvToken(t, s, s.Dev.ID, sk)
	secret, _ := s.callbackSecret(sk)
	paid := func(t *testing.T, rv *pvReceiver, capture string) (id, pid string) {
		t.Helper()
		v := pvAPISession(t, s, tok, map[string]any{"callbackUrl": rv.URL,
			"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": capture}}})
		id = pvStr(v, "id")
		d := pvOK(t, "confirm", pvConfirm(s, tok, id, map[string]any{"encryptedCard": pvEncrypt(t, pvStr(v, "encryptionKey"), pvCardJSON("4242424242424242", "123"), true)}))
		ch, _ := d["chargeDetails"].([]any)
		if d["status"] != "PAID" || len(ch) != 1 {
			t.Fatalf("confirm: %v", d)
		}
		waitUntil(t, 15*time.Second, "the PAYMENT.PAID callback", func() bool { return len(rv.all()) >= 1 })
		if h := rv.all()[0]; h.Body["event"] != "PAYMENT.PAID" {
			t.Fatalf("first callback: %v", h.Body)
		}
		return id, pvStr(ch[0], "id")
	}

	t.Run("void", func(t *testing.T) {
		rv := pvNewReceiver(t, 200)
		id, pid := paid(t, rv, "manual")
		s.call("POST", "/v1/payments/"+pid+"/cancel", sk, nil).want(t, 200)
		waitUntil(t, 15*time.Second, "the PAYMENT.CANCELLED callback", func() bool { return len(rv.all()) >= 2 })
		h := rv.all()[1]
		ch, _ := dig(h.Body, "data", "chargeDetails").([]any)
		if h.Header.Get("X-API-Key") != secret || h.Header.Get("Content-Type") != "application/json" || h.Body["event"] != "PAYMENT.CANCELLED" ||
			pvStr(h.Body, "data", "id") != id || pvStr(h.Body, "data", "status") != "CANCELLED" || len(ch) != 1 || pvStr(ch[0], "status") != "CANCELLED" {
			t.Errorf("the void's callback: %v %v", h.Header, h.Body)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(rv.all()); n != 2 {
			t.Errorf("%d callbacks, want PAYMENT.PAID and PAYMENT.CANCELLED", n)
		}
	})

	// skipped: the change wrote session.updated, and its delivery to the
	// callbackUrl was skipped; the receiver heard only PAYMENT.PAID.
	skipped := func(t *testing.T, rv *pvReceiver, id string) {
		t.Helper()
		evs := spcSessionEvents(t, s, sk, "session.updated", id)
		if len(evs) != 1 {
			t.Fatalf("%d session.updated events, want 1", len(evs))
		}
		if st := spcDelivery(t, s, sk, evs[0]["id"].(string), rv.URL); st != "skipped" {
			t.Errorf("the session.updated delivery to the callbackUrl: %q, want skipped", st)
		}
		if n := len(rv.all()); n != 1 {
			t.Errorf("%d callbacks, want PAYMENT.PAID only: %v", n, rv.all()[n-1].Body)
		}
	}

	t.Run("refund of an automatic capture", func(t *testing.T) {
		rv := pvNewReceiver(t, 200)
		id, pid := paid(t, rv, "automatic")
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201)
		skipped(t, rv, id)
	})

	t.Run("capture of a manual one", func(t *testing.T) {
		rv := pvNewReceiver(t, 200)
		id, pid := paid(t, rv, "manual")
		s.call("POST", "/v1/payments/"+pid+"/capture", sk, nil).want(t, 200)
		skipped(t, rv, id)
	})
}

// TestSessionPaymentChangesOttu: a paid checkout's later void, capture or
// refund sends a webhook with the state it leads to, signed as Ottu signs.
func TestSessionPaymentChangesOttu(t *testing.T) {
	s := start(t, withWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	paid := func(t *testing.T, rv *snReceiver, op, want string) (sid, pid string) {
		t.Helper()
		sid = otCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "5", "currency_code": "KWD", "pg_codes": []string{"knet"},
			"order_no": "spc-" + op, "operation": op, "webhook_url": rv.URL}).str("session_id")
		pid = otPayNative(t, s, sk, sid, "4242424242424242", "123", false).str("payment")
		if b := otHooks(t, rv, secret, 1)[0]; b["state"] != want || b["session_id"] != sid || b["reference_number"] != pid {
			t.Fatalf("the outcome's webhook: %v", b)
		}
		return sid, pid
	}
	later := func(t *testing.T, rv *snReceiver, sid, pid, state string) {
		t.Helper()
		hooks := otHooks(t, rv, secret, 2) // each verified
		b := hooks[1]
		if b["state"] != state || b["result"] != "success" || b["session_id"] != sid || b["reference_number"] != pid ||
			b["order_no"] == "" || b["amount"] != "5.000" || b["currency_code"] != "KWD" || b["signature"] == "" {
			t.Errorf("the %s webhook: %v", state, b)
		}
		if g := otCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid, sk, nil).want(t, 200); g.str("state") != state {
			t.Errorf("GET after: %s", g.Raw)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(rv.all()); n != 2 {
			t.Errorf("%d webhooks, want the outcome's and the %s one", n, state)
		}
	}

	t.Run("void", func(t *testing.T) {
		rv := snNewReceiver(t)
		sid, pid := paid(t, rv, "authorize", "authorized")
		s.call("POST", "/v1/payments/"+pid+"/cancel", sk, nil).want(t, 200)
		later(t, rv, sid, pid, "voided")
	})

	t.Run("capture", func(t *testing.T) {
		rv := snNewReceiver(t)
		sid, pid := paid(t, rv, "authorize", "authorized")
		s.call("POST", "/v1/payments/"+pid+"/capture", sk, nil).want(t, 200)
		later(t, rv, sid, pid, "paid")
	})

	t.Run("refund", func(t *testing.T) {
		rv := snNewReceiver(t)
		sid, pid := paid(t, rv, "purchase", "paid")
		s.call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).want(t, 201)
		later(t, rv, sid, pid, "refunded")
	})
}
