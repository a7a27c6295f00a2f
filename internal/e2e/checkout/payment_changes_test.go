package checkout

// A session that ended succeeded whose payment is later captured, voided
// or refunded: the core writes a session.updated event for it in the same
// transaction, so the session's callback_url hears of it — natively
// (Standard Webhooks, the merchant's callback_secret) and in the SensePass,
// Pivot and Ottu dialects' formats. A payment that merely claims the
// session in its metadata does not.

import (
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// sessionEvents lists the merchant's events of a type about a session,
// newest first. Events are written in the transaction of the change, so
// they are there as soon as the change's answer is.
func sessionEvents(t testing.TB, s *harness.Server, sk, typ, sid string) []map[string]any {
	t.Helper()
	return s.Events(t, sk, "type="+typ+"&object="+sid)
}

// ofObject lists the accepted deliveries of a type about one object, in
// arrival order.
func ofObject(rv *harness.Receiver, typ, id string) []map[string]any {
	var out []map[string]any
	for _, e := range rv.OfType(typ) {
		if harness.Dig(e, "data", "object", "id") == id {
			out = append(out, e)
		}
	}
	return out
}

// arrival is the position among the receiver's accepted deliveries of
// the first of a type about an object (-1: none).
func arrival(rv *harness.Receiver, typ, id string) int {
	for i, e := range rv.Events() {
		if e["type"] == typ && harness.Dig(e, "data", "object", "id") == id {
			return i
		}
	}
	return -1
}

// delivery waits until the delivery of an event to url has settled
// (no longer pending) and returns its status.
func delivery(t testing.TB, s *harness.Server, sk, eventID, url string) string {
	t.Helper()
	status := ""
	harness.WaitUntil(t, 15*time.Second, "the delivery of "+eventID+" to settle", func() bool {
		ev := s.Call("GET", "/v1/events/"+eventID, sk, nil).Want(t, 200)
		dls, _ := ev.Body["deliveries"].([]any)
		for _, dl := range dls {
			if harness.Str(dl, "url") == url {
				status = harness.Str(dl, "status")
			}
		}
		return status != "" && status != "pending"
	})
	return status
}

// nativePaid creates an API-mode session with a callback_url, pays it
// with a card (capture false: authorize only) and returns the session's
// and its payment's ids.
func nativePaid(t testing.TB, s *harness.Server, sk, callbackURL string, capture bool) (sid, pid string) {
	t.Helper()
	r := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 2500, "capture": capture, "callback_url": callbackURL})
	c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", sk, map[string]any{"encrypted_card": harness.EncryptFor(t, r, "4242424242424242", "123")}).Want(t, 200)
	if c.Str("status") != "succeeded" || c.Str("payment") == "" {
		t.Fatalf("confirm: %s", c.Raw)
	}
	return r.Str("id"), c.Str("payment")
}

// TestSessionPaymentChangesNative: the callback_url of a succeeded
// session receives a signed session.updated after its session.succeeded
// when the session's payment is voided, captured or refunded; a payment
// that only names the session in its metadata changes nothing.
func TestSessionPaymentChangesNative(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk := s.Dev.SecretKey
	cb := harness.NewReceiver(t)
	sec := s.CallbackSecret(sk)
	if sec == "" {
		t.Fatalf("callback secret %q", sec)
	}
	cb.SetSecret(sec)
	ep := harness.NewReceiver(t)
	ep.Register(t, s, sk, "session.updated")

	// updated checks that the session has n session.updated events, each
	// about it as it is (succeeded, its payment), and waits until the
	// callback_url and the endpoint accepted n of them, verified.
	updated := func(t *testing.T, sid, pid string, n int) {
		t.Helper()
		evs := sessionEvents(t, s, sk, "session.updated", sid)
		if len(evs) != n {
			t.Fatalf("%d session.updated events for %s, want %d: %v", len(evs), sid, n, harness.EventTypes(evs))
		}
		for _, e := range evs {
			if harness.Dig(e, "data", "object", "status") != "succeeded" || harness.Dig(e, "data", "object", "payment") != pid {
				t.Errorf("session.updated: %v", e["data"])
			}
		}
		harness.WaitUntil(t, 15*time.Second, fmt.Sprintf("%d session.updated at the callback_url", n), func() bool {
			return len(ofObject(cb, "session.updated", sid)) >= n
		})
		harness.WaitUntil(t, 15*time.Second, fmt.Sprintf("%d session.updated at the endpoint", n), func() bool {
			return len(ofObject(ep, "session.updated", sid)) >= n
		})
		if a, b := arrival(cb, "session.succeeded", sid), arrival(cb, "session.updated", sid); a < 0 || b < a {
			t.Errorf("session.succeeded arrived at %d, session.updated at %d: want the outcome first", a, b)
		}
		_, bad, ids := cb.Counts()
		for _, e := range evs {
			if ids[e["id"].(string)] != 1 {
				t.Errorf("event %s accepted %d times by the callback_url", e["id"], ids[e["id"].(string)])
			}
		}
		if bad != 0 {
			t.Errorf("%d callback deliveries failed Standard Webhooks verification", bad)
		}
	}
	succeeded := func(t *testing.T, sid string) {
		t.Helper()
		harness.WaitUntil(t, 15*time.Second, "session.succeeded at the callback_url", func() bool { return len(ofObject(cb, "session.succeeded", sid)) == 1 })
	}

	t.Run("void", func(t *testing.T) {
		sid, pid := nativePaid(t, s, sk, cb.URL, false)
		if p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200); p.Str("status") != "requires_capture" {
			t.Fatalf("the session's payment: %s", p.Raw)
		}
		succeeded(t, sid)
		if n := len(sessionEvents(t, s, sk, "session.updated", sid)); n != 0 {
			t.Fatalf("%d session.updated before the void", n)
		}
		if c := s.Call("POST", "/v1/payments/"+pid+"/cancel", sk, nil).Want(t, 200); c.Str("status") != "canceled" {
			t.Fatalf("cancel: %s", c.Raw)
		}
		updated(t, sid, pid, 1)
		if g := s.Call("GET", "/v1/sessions/"+sid, sk, nil).Want(t, 200); g.Str("status") != "succeeded" {
			t.Errorf("the session after the void: %s", g.Raw)
		}
	})

	t.Run("capture, then refunds", func(t *testing.T) {
		sid, pid := nativePaid(t, s, sk, cb.URL, false)
		succeeded(t, sid)
		s.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil).Want(t, 200)
		updated(t, sid, pid, 1)
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 1000}).Want(t, 201)
		updated(t, sid, pid, 2)
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
		updated(t, sid, pid, 3)
	})

	t.Run("refund of an automatic capture", func(t *testing.T) {
		sid, pid := nativePaid(t, s, sk, cb.URL, true)
		succeeded(t, sid)
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
		updated(t, sid, pid, 1)
	})

	t.Run("another payment naming the session", func(t *testing.T) {
		sid, pid := nativePaid(t, s, sk, cb.URL, true)
		succeeded(t, sid)
		open := s.NewSession(t, sk, map[string]any{"mode": "api", "amount": 100, "callback_url": cb.URL}).Str("id")
		for _, target := range []string{sid, open} {
			md := map[string]any{"session": target}
			a := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 700, "card": harness.Card("4242424242424242"), "capture": false, "metadata": md}), 201, "requires_capture")
			s.Call("POST", "/v1/payments/"+a["id"].(string)+"/cancel", sk, nil).Want(t, 200)
			b := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 800, "card": harness.Card("4242424242424242"), "capture": false, "metadata": md}), 201, "requires_capture")
			s.Call("POST", "/v1/payments/"+b["id"].(string)+"/capture", sk, nil).Want(t, 200)
			c := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 900, "card": harness.Card("4242424242424242"), "metadata": md}), 201, "succeeded")
			s.Call("POST", "/v1/payments/"+c["id"].(string)+"/refunds", sk, nil).Want(t, 201)
			if n := len(s.Events(t, sk, "type=payment.canceled&object="+a["id"].(string))); n != 1 {
				t.Fatalf("the other payment's payment.canceled: %d events", n)
			}
			if evs := sessionEvents(t, s, sk, "session.updated", target); len(evs) != 0 {
				t.Errorf("a payment naming %s in its metadata wrote session.updated for it: %v", target, evs)
			}
		}
		// The session's own payment still does, once.
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
		updated(t, sid, pid, 1)
		time.Sleep(300 * time.Millisecond) // a stray delivery would arrive now
		if n := len(ofObject(cb, "session.updated", sid)); n != 1 {
			t.Errorf("%d session.updated at the callback_url, want the own payment's refund only", n)
		}
		if n := len(ofObject(cb, "session.updated", open)); n != 0 {
			t.Errorf("the open session's callback_url got %d session.updated", n)
		}
	})
}

// TestSessionPaymentChangesSensePass: voiding an Authorize transaction's
// payment with cancel calls back status 9; refunding a Capture
// transaction's payment calls back the refund's status; each signed.
func TestSessionPaymentChangesSensePass(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret

	t.Run("Authorize, cancel", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/sensepass/callback")
		n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "methodType": "Authorize", "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
		harness.SensePassConfirm(t, s, sk, n, "4242424242424242").Want(t, 200)
		if _, bodies := rv.Await(t, 1); bodies[0]["status"] != float64(5) {
			t.Fatalf("the approval's callback: %v", bodies[0])
		}
		harness.SensePassPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}).Want(t, 200)
		hooks, bodies := rv.Await(t, 2)
		for _, h := range hooks {
			harness.SensePassVerifyCallback(t, secret, h)
		}
		b := bodies[1]
		if hooks[1].Method != "POST" || b["TransactionNumber"] != n || b["status"] != float64(9) || b["statusName"] != "TransactionCancel" ||
			b["callbackType"] != "transaction_status" || harness.Dig(b, "paymentDetails", "type") != "Authorize" ||
			harness.Dig(b, "paymentDetails", "lastFourDigits") != "4242" {
			t.Errorf("the void's callback: %s", hooks[1].Body)
		}
		harness.SensePassShape(t, "the void's callback", harness.SensePassDecode(t, harness.SensePassSeedCallback), b)
		time.Sleep(300 * time.Millisecond)
		if got := len(rv.Hits()); got != 2 {
			t.Errorf("%d callbacks, want the approval's and the void's", got)
		}
	})

	t.Run("Capture, refunds", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/sensepass/callback")
		n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "methodType": "Capture", "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
		harness.SensePassConfirm(t, s, sk, n, "4242424242424242").Want(t, 200)
		rv.Await(t, 1)
		pid := harness.SensePassSession(t, s, sk, n).Str("payment")
		if pid == "" {
			t.Fatal("the session has no payment")
		}
		// One refund at a time: callbacks render the payment as it is when
		// delivered.
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, map[string]any{"amount": 1000}).Want(t, 201)
		hooks, bodies := rv.Await(t, 2)
		harness.SensePassVerifyCallback(t, secret, hooks[1])
		if bodies[1]["TransactionNumber"] != n || bodies[1]["status"] != float64(13) || bodies[1]["statusName"] != "TransactionPartiallyRefunded" {
			t.Errorf("the partial refund's callback: %s", hooks[1].Body)
		}
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
		hooks, bodies = rv.Await(t, 3)
		harness.SensePassVerifyCallback(t, secret, hooks[2])
		if bodies[2]["TransactionNumber"] != n || bodies[2]["status"] != float64(11) || bodies[2]["statusName"] != "TransactionRefund" {
			t.Errorf("the full refund's callback: %s", hooks[2].Body)
		}
	})
}

// TestSessionPaymentChangesPivot: voiding a manual-capture session's
// authorization sends PAYMENT.CANCELLED; a refund or a capture sends
// nothing (the delivery is recorded as skipped).
func TestSessionPaymentChangesPivot(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk := s.Dev.SecretKey
	tok := harness.PivotToken(t, s, s.Dev.ID, sk)
	secret := s.CallbackSecret(sk)
	paid := func(t *testing.T, rv *harness.Recorder, capture string) (id, pid string) {
		t.Helper()
		v := harness.PivotAPISession(t, s, tok, map[string]any{"callbackUrl": rv.URL,
			"paymentMethodOptions": map[string]any{"card": map[string]any{"captureMethod": capture}}})
		id = harness.Str(v, "id")
		d := harness.PivotOK(t, "confirm", harness.PivotConfirm(s, tok, id, map[string]any{"encryptedCard": harness.PivotEncrypt(t, harness.Str(v, "encryptionKey"), harness.PivotCardJSON("4242424242424242", "123"), true)}))
		ch, _ := d["chargeDetails"].([]any)
		if d["status"] != "PAID" || len(ch) != 1 {
			t.Fatalf("confirm: %v", d)
		}
		harness.WaitUntil(t, 15*time.Second, "the PAYMENT.PAID callback", func() bool { return len(rv.Hits()) >= 1 })
		if h := rv.Hits()[0]; h.JSON()["event"] != "PAYMENT.PAID" {
			t.Fatalf("first callback: %v", h.JSON())
		}
		return id, harness.Str(ch[0], "id")
	}

	t.Run("void", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/pivot/callback")
		id, pid := paid(t, rv, "manual")
		s.Call("POST", "/v1/payments/"+pid+"/cancel", sk, nil).Want(t, 200)
		harness.WaitUntil(t, 15*time.Second, "the PAYMENT.CANCELLED callback", func() bool { return len(rv.Hits()) >= 2 })
		h := rv.Hits()[1]
		ch, _ := harness.Dig(h.JSON(), "data", "chargeDetails").([]any)
		if h.Header.Get("X-API-Key") != secret || h.Header.Get("Content-Type") != "application/json" || h.JSON()["event"] != "PAYMENT.CANCELLED" ||
			harness.Str(h.JSON(), "data", "id") != id || harness.Str(h.JSON(), "data", "status") != "CANCELLED" || len(ch) != 1 || harness.Str(ch[0], "status") != "CANCELLED" {
			t.Errorf("the void's callback: %v %v", h.Header, h.JSON())
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(rv.Hits()); n != 2 {
			t.Errorf("%d callbacks, want PAYMENT.PAID and PAYMENT.CANCELLED", n)
		}
	})

	// skipped: the change wrote session.updated, and its delivery to the
	// callbackUrl was skipped; the receiver heard only PAYMENT.PAID.
	skipped := func(t *testing.T, rv *harness.Recorder, id string) {
		t.Helper()
		evs := sessionEvents(t, s, sk, "session.updated", id)
		if len(evs) != 1 {
			t.Fatalf("%d session.updated events, want 1", len(evs))
		}
		if st := delivery(t, s, sk, evs[0]["id"].(string), rv.URL); st != "skipped" {
			t.Errorf("the session.updated delivery to the callbackUrl: %q, want skipped", st)
		}
		if n := len(rv.Hits()); n != 1 {
			t.Errorf("%d callbacks, want PAYMENT.PAID only: %v", n, rv.Hits()[n-1].JSON())
		}
	}

	t.Run("refund of an automatic capture", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/pivot/callback")
		id, pid := paid(t, rv, "automatic")
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
		skipped(t, rv, id)
	})

	t.Run("capture of a manual one", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/pivot/callback")
		id, pid := paid(t, rv, "manual")
		s.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil).Want(t, 200)
		skipped(t, rv, id)
	})
}

// TestSessionPaymentChangesOttu: a paid checkout's later void, capture or
// refund sends a webhook with the state it leads to, signed as Ottu signs.
func TestSessionPaymentChangesOttu(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhookRetryBase(100*time.Millisecond))
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	paid := func(t *testing.T, rv *harness.Recorder, op, want string) (sid, pid string) {
		t.Helper()
		sid = harness.OttuCheckout(t, s, sk, map[string]any{"type": "e_commerce", "amount": "5", "currency_code": "KWD", "pg_codes": []string{"knet"},
			"order_no": "spc-" + op, "operation": op, "webhook_url": rv.URL}).Str("session_id")
		pid = harness.OttuPayNative(t, s, sk, sid, "4242424242424242", "123", false).Str("payment")
		if b := harness.OttuHooks(t, rv, secret, 1)[0]; b["state"] != want || b["session_id"] != sid || b["reference_number"] != pid {
			t.Fatalf("the outcome's webhook: %v", b)
		}
		return sid, pid
	}
	later := func(t *testing.T, rv *harness.Recorder, sid, pid, state string) {
		t.Helper()
		hooks := harness.OttuHooks(t, rv, secret, 2) // each verified
		b := hooks[1]
		if b["state"] != state || b["result"] != "success" || b["session_id"] != sid || b["reference_number"] != pid ||
			b["order_no"] == "" || b["amount"] != "5.000" || b["currency_code"] != "KWD" || b["signature"] == "" {
			t.Errorf("the %s webhook: %v", state, b)
		}
		if g := harness.OttuCall(t, s, "GET", "/b/checkout/v1/pymt-txn/"+sid, sk, nil).Want(t, 200); g.Str("state") != state {
			t.Errorf("GET after: %s", g.Raw)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(rv.Hits()); n != 2 {
			t.Errorf("%d webhooks, want the outcome's and the %s one", n, state)
		}
	}

	t.Run("void", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/sensepass/callback")
		sid, pid := paid(t, rv, "authorize", "authorized")
		s.Call("POST", "/v1/payments/"+pid+"/cancel", sk, nil).Want(t, 200)
		later(t, rv, sid, pid, "voided")
	})

	t.Run("capture", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/sensepass/callback")
		sid, pid := paid(t, rv, "authorize", "authorized")
		s.Call("POST", "/v1/payments/"+pid+"/capture", sk, nil).Want(t, 200)
		later(t, rv, sid, pid, "paid")
	})

	t.Run("refund", func(t *testing.T) {
		rv := harness.NewRecorder(t, "/sensepass/callback")
		sid, pid := paid(t, rv, "purchase", "paid")
		s.Call("POST", "/v1/payments/"+pid+"/refunds", sk, nil).Want(t, 201)
		later(t, rv, sid, pid, "refunded")
	})
}
