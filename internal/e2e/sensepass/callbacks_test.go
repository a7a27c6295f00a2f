package sensepass

// A transaction's callbacks: POST JSON or GET, signed as documented and
// verified here independently, retried, in order, one per status change.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSensePassCallbacks: a transaction's status changes reach its
// callbackURL as POST JSON (or GET with callbackMethod GET), signed,
// retried until delivered, never for the transaction's creation.
func TestSensePassCallbacks(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, harness.WithWebhookRetryBase(100*time.Millisecond))...)
		sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret

		t.Run("POST, retried", func(t *testing.T) {
			rv := harness.NewRecorder(t, "/sensepass/callback")
			rv.Fail = 1
			n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 3000, "methodType": "Capture+Tokenize", "timeOut": 600,
				"callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
			harness.SensePassConfirm(t, s, sk, n, "4242424242424242").Want(t, 200)
			hooks, bodies := rv.Await(t, 2)
			if len(hooks) != 2 || hooks[0].Header.Get("HMAC-Random-Key") == hooks[1].Header.Get("HMAC-Random-Key") {
				t.Fatalf("want one failed attempt and its retry, each with a fresh random key: %d requests", len(hooks))
			}
			for i, h := range hooks {
				harness.SensePassVerifyCallback(t, secret, h)
				b := bodies[i]
				if h.Method != "POST" || h.Header.Get("Content-Type") != "application/json" || b["callbackType"] != "transaction_status" ||
					b["TransactionNumber"] != n || b["status"] != float64(5) || b["statusName"] != "TransactionApproved" {
					t.Errorf("callback %d: %s %s", i, h.Method, h.Body)
				}
				harness.SensePassShape(t, "callback", harness.SensePassDecode(t, harness.SensePassSeedCallback), b)
				pd, _ := b["paymentDetails"].(map[string]any)
				if pd["type"] != "Capture+Tokenize" || !strings.HasPrefix(fmt.Sprint(pd["token"]), "tok_") || pd["cardType"] != "visa" ||
					pd["lastFourDigits"] != "4242" || pd["cardMask"] != "424242******4242" || pd["expiration"] != harness.SensePassExp() || pd["approvedBy"] != "Credit Card" {
					t.Errorf("callback %d paymentDetails: %v", i, pd)
				}
			}
			if !bytes.Equal(hooks[0].Body, hooks[1].Body) {
				t.Errorf("the retry's body differs:\n%s\n%s", hooks[0].Body, hooks[1].Body)
			}
			// The token in the callback pays.
			tok := fmt.Sprint(harness.Dig(bodies[0], "paymentDetails", "token"))
			harness.SensePassPost(t, s, "pay", map[string]any{"apiKey": sk, "amount": 100, "token": tok}).Want(t, 201)
			time.Sleep(500 * time.Millisecond)
			if len(rv.Hits()) != 2 {
				t.Errorf("%d callbacks, want the approval's only (its creation is not told)", len(rv.Hits()))
			}
		})

		t.Run("GET", func(t *testing.T) {
			rv := harness.NewRecorder(t, "/sensepass/callback")
			n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "methodType": "Tokenize", "callbackURL": rv.URL + "?shop=7&x=a%20b",
				"callbackMethod": "GET"}).Want(t, 201).Str("TransactionNumber")
			harness.SensePassConfirm(t, s, sk, n, "5555555555554444").Want(t, 200)
			hooks, _ := rv.Await(t, 1)
			h := hooks[0]
			if h.Method != "GET" || len(h.Body) != 0 || h.RawQuery != "shop=7&x=a%20b&TransactionNumber="+n+"&callbackType=transaction_status" {
				t.Errorf("GET callback: %s ?%s %q", h.Method, h.RawQuery, h.Body)
			}
			harness.SensePassVerifyCallback(t, secret, h)
			if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(5) || g.Str("paymentDetails", "cardType") != "mastercard" {
				t.Errorf("status after the GET callback: %s", g.Raw)
			}
		})

		t.Run("3-D Secure, decline, cancel, timeout", func(t *testing.T) {
			rv := harness.NewRecorder(t, "/sensepass/callback")
			n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
			c := harness.SensePassConfirm(t, s, sk, n, "4000002500003155").Want(t, 200)
			rv.Await(t, 1)
			harness.PassChallenge(t, c.Str("next_action", "url"))
			harness.SensePassGet(t, s, n, "apiKey", sk) // a read settles the session, as the socket and the page's return do
			_, bodies := rv.Await(t, 2)
			if bodies[0]["status"] != float64(4) || bodies[0]["statusName"] != "ProccessingPayment" || bodies[1]["status"] != float64(5) {
				t.Errorf("3-D Secure callbacks: %v then %v", bodies[0]["statusName"], bodies[1]["statusName"])
			}
			if bodies[1]["paymentDetails"].(map[string]any)["token"] != "" {
				t.Errorf("a Capture saves no card: %v", bodies[1]["paymentDetails"])
			}

			rv = harness.NewRecorder(t, "/sensepass/callback")
			n = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
			for range 5 {
				harness.SensePassConfirm(t, s, sk, n, "4000000000000002").Want(t, 402)
			}
			// One callback per update, in order: each of the four declines
			// that leave the transaction open (0, with the reason), then the
			// fifth's 6.
			_, bodies = rv.Await(t, 5)
			open, declined := 0, 0
			for i, b := range bodies {
				switch {
				case harness.Dig(b, "paymentDetails", "message") == nil:
					t.Errorf("a decline's callback without paymentDetails.message: %v", b)
				case i < 4 && b["status"] == float64(0) && b["statusName"] == "Initialize":
					open++
				case i == 4 && b["status"] == float64(6) && b["statusName"] == "TransactionDeclined":
					declined++
				}
			}
			if open != 4 || declined != 1 || len(bodies) != 5 {
				t.Errorf("after five declines: %d callbacks, %d Initialize then %d TransactionDeclined; want 4 then 1", len(bodies), open, declined)
			}

			rv = harness.NewRecorder(t, "/sensepass/callback")
			n = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
			harness.SensePassPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}).Want(t, 200)
			if _, bodies = rv.Await(t, 1); bodies[0]["status"] != float64(9) {
				t.Errorf("after cancel: %v", bodies[0])
			}

			rv = harness.NewRecorder(t, "/sensepass/callback")
			n = harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "timeOut": 60, "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
			s.ExpireSession(t, n)
			if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(8) || g.Str("statusName") != "TransactionTimeout" {
				t.Errorf("past its timeOut: %s", g.Raw)
			}
			if _, bodies = rv.Await(t, 1); bodies[0]["status"] != float64(8) {
				t.Errorf("after the timeout: %v", bodies[0])
			}
			harness.SensePassFail(t, "cancel a timed-out transaction", harness.SensePassPost(t, s, "cancel/"+n, map[string]any{"apiKey": sk}), 422, "TransactionTimeout")
		})
	})
}

// TestSensePassCallbacksInOrder: a transaction that goes through 3-D
// Secure is called back with status 4 (ProccessingPayment), then 5
// (TransactionApproved), in that order, even when the first callback
// fails once: 5 is not sent until 4 has been delivered. (Before, the two
// were independent deliveries and 5 overtook a 4 waiting for its retry.)
func TestSensePassCallbacksInOrder(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, harness.WithWebhookRetryBase(time.Second))...)
		sk := s.Dev.SecretKey
		type arrival struct {
			status   float64
			answered int
			at       time.Time
		}
		var mu sync.Mutex
		var got []arrival
		failedFirst := false
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var b map[string]any
			raw, _ := io.ReadAll(r.Body)
			json.Unmarshal(raw, &b)
			st, _ := b["status"].(float64)
			code := http.StatusOK
			mu.Lock()
			if st == 4 && !failedFirst {
				failedFirst, code = true, http.StatusServiceUnavailable
			}
			got = append(got, arrival{st, code, time.Now()})
			mu.Unlock()
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		arrivals := func() []arrival {
			mu.Lock()
			defer mu.Unlock()
			return append([]arrival(nil), got...)
		}

		n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 2500, "callbackURL": srv.URL + "/cb"}).Want(t, 201).Str("TransactionNumber")
		c := harness.SensePassConfirm(t, s, sk, n, "4000002500003155").Want(t, 200)
		// The card holder finishes 3-D Secure at once: the approval exists
		// while the first callback still waits for its retry.
		harness.PassChallenge(t, c.Str("next_action", "url"))
		if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(5) {
			t.Fatalf("after the challenge: %s", g.Raw)
		}
		harness.WaitUntil(t, 15*time.Second, "three callbacks", func() bool { return len(arrivals()) >= 3 })
		time.Sleep(200 * time.Millisecond) // nothing more arrives
		a := arrivals()
		if len(a) != 3 || a[0].status != 4 || a[0].answered != 503 || a[1].status != 4 || a[1].answered != 200 || a[2].status != 5 {
			t.Fatalf("callbacks %+v; want 4 (refused), 4 again, then 5", a)
		}
		if !a[2].at.After(a[1].at) {
			t.Errorf("5 arrived before 4 was delivered: %+v", a)
		}
	})
}

// TestSensePassCallbackAfter3DSFailure: a callback tells the merchant
// the transaction moved to 4 (ProccessingPayment, 3-D Secure started); the
// card holder then fails 3-D Secure and the transaction is back at 0
// (Initialize, open for another card, with paymentDetails.message) — and no
// callback says so. The merchant's last word is "processing" for a
// transaction that is not (until it times out, maybe 24 h later), while the
// socket does push the change. SensePass sends callbacks "on any
// transaction update events"; the dialect's own docs promise "one callback
// per status change". callbacks.go:54 skips every session.updated event,
// including the requires_action → open one.
func TestSensePassCallbackAfter3DSFailure(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
		rv := harness.NewRecorder(t, "/sensepass/callback")
		n := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 1500, "callbackURL": rv.URL}).Want(t, 201).Str("TransactionNumber")
		c := harness.SensePassConfirm(t, s, sk, n, "4000002500003155").Want(t, 200)
		if _, bodies := rv.Await(t, 1); bodies[0]["status"] != float64(4) {
			t.Fatalf("first callback: %v", bodies[0])
		}
		u := c.Str("next_action", "url")
		for i := 0; i < 3; i++ {
			harness.SubmitOTP(t, u, "000000")
		}
		g := harness.SensePassGet(t, s, n, "apiKey", sk).Want(t, 200) // a read settles the session
		if g.Body["status"] != float64(0) || g.Str("paymentDetails", "message") == "" {
			t.Fatalf("after failing 3-D Secure: %s", g.Raw)
		}
		deadline := time.Now().Add(3 * time.Second)
		for len(rv.Hits()) < 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		hooks := rv.Hits()
		if len(hooks) < 2 {
			t.Fatalf("the transaction went from ProccessingPayment back to Initialize and no callback told the merchant (%d callbacks)", len(hooks))
		}
		var b map[string]any
		if err := json.Unmarshal(hooks[len(hooks)-1].Body, &b); err != nil {
			t.Fatal(err)
		}
		harness.SensePassVerifyCallback(t, secret, hooks[len(hooks)-1])
		if b["status"] != float64(0) || b["statusName"] != "Initialize" {
			t.Errorf("the last callback says %v (%v), want 0 Initialize", b["status"], b["statusName"])
		}
	})
}
