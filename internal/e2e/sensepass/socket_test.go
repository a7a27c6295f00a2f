package sensepass

// A transaction's live socket: how it authenticates, what it pushes, and
// when it closes.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestSensePassSocket: the socket authenticates by its first message (or
// a header), pushes the entity now and at each change, Initialize →
// ProccessingPayment → TransactionApproved, and closes at the final state.
func TestSensePassSocket(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		dk, _ := harness.SensePassDeviceKey(t, s, sk)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n := harness.SensePassPost(t, s, "init", map[string]any{"deviceId": dk, "amount": 3000, "methodType": "Capture+Tokenize"}).Want(t, 201).Str("TransactionNumber")

		conn, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"deviceId":"`+dk+`"}`)); err != nil {
			t.Fatal(err)
		}
		var names []string
		f := harness.SensePassFrame(t, ctx, conn)
		harness.SensePassShape(t, "socket", harness.SensePassDecode(t, harness.SensePassSeedInit), f)
		names = append(names, fmt.Sprint(f["statusName"]))
		c := harness.SensePassConfirm(t, s, sk, n, "4000002500003155").Want(t, 200)
		f = harness.SensePassFrame(t, ctx, conn)
		names = append(names, fmt.Sprint(f["statusName"]))
		harness.PassChallenge(t, c.Str("next_action", "url"))
		f = harness.SensePassFrame(t, ctx, conn)
		names = append(names, fmt.Sprint(f["statusName"]))
		if got := strings.Join(names, " → "); got != "Initialize → ProccessingPayment → TransactionApproved" {
			t.Errorf("socket: %s", got)
		}
		if harness.Dig(f, "paymentDetails", "cardMask") != "400000******3155" || !strings.HasPrefix(fmt.Sprint(harness.Dig(f, "paymentDetails", "token")), "tok_") {
			t.Errorf("the approved frame: %v", f)
		}
		if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("the socket did not close after the final state: %v", err)
		}

		// A header authenticates too; a final transaction is pushed once.
		conn2, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"apiKey": {sk}}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.CloseNow()
		if f := harness.SensePassFrame(t, ctx, conn2); f["status"] != float64(5) {
			t.Errorf("header-authenticated socket: %v", f)
		}
		if _, _, err := conn2.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("a final transaction's socket did not close: %v", err)
		}

		// Revoking the device key closes its socket (1008) even when
		// nothing happens to the transaction.
		dk2, dk2ID := harness.SensePassDeviceKey(t, s, sk)
		n2 := harness.SensePassPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 100}).Want(t, 201).Str("TransactionNumber")
		conn3, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n2), &websocket.DialOptions{HTTPHeader: http.Header{"deviceId": {dk2}}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn3.CloseNow()
		if f := harness.SensePassFrame(t, ctx, conn3); f["status"] != float64(0) {
			t.Errorf("first frame: %v", f)
		}
		s.Call("DELETE", "/v1/device_keys/"+dk2ID, sk, nil).Want(t, 200)
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, b, err := conn3.Read(rctx)
		rcancel()
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("the socket of a revoked key, idle: %s %v, want closed with 1008", b, err)
		}

		// Refusals: a bad header key before the upgrade, a bad first
		// message, an oversized one, another merchant's transaction.
		if _, res, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"apiKey": {"sk_nope"}}}); err == nil || res == nil || res.StatusCode != 401 {
			t.Errorf("a wrong header key: %v %v", err, res)
		}
		other := s.NewMerchant("Other shop")
		if _, res, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), &websocket.DialOptions{HTTPHeader: http.Header{"apiKey": {other.SecretKey}}}); err == nil || res == nil || res.StatusCode != 404 {
			t.Errorf("another merchant's transaction: %v %v", err, res)
		}
		for what, first := range map[string]string{
			"a wrong key":              `{"apiKey":"sk_nope"}`,
			"not JSON":                 `hello`,
			"another merchant's":       `{"apiKey":"` + other.SecretKey + `"}`,
			"an oversized first frame": `{"apiKey":"` + strings.Repeat("k", 8<<10) + `"}`,
		} {
			c, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), nil)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(ctx, websocket.MessageText, []byte(first))
			_, _, err = c.Read(ctx)
			if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation && st != websocket.StatusMessageTooBig {
				t.Errorf("%s: the socket was not refused: %v", what, err)
			}
			c.CloseNow()
		}
	})
}

// TestSensePassSocketRevokedDeviceKey: a socket authenticated with a
// device key keeps streaming after the key is revoked — including the
// approved entity with the new token, card mask and payment id — for as
// long as the transaction stays open (up to a day). The package promises
// "A device key is looked up afresh every time, so a revocation takes effect
// at once" (sensepass.go:203), and the docs "revocable one by one,
// effective at once"; Socket (socket.go:36-150) authenticates once and never
// again. Revoking the key of a stolen or retired POS must cut its live view.
func TestSensePassSocketRevokedDeviceKey(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		for _, how := range []string{"header", "first message"} {
			t.Run(how, func(t *testing.T) {
				dk, dkID := harness.SensePassDeviceKey(t, s, sk)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				n := harness.SensePassPost(t, s, "init", map[string]any{"deviceId": dk, "amount": 3000, "methodType": "Capture+Tokenize"}).Want(t, 201).Str("TransactionNumber")
				var dopts *websocket.DialOptions
				if how == "header" {
					dopts = &websocket.DialOptions{HTTPHeader: http.Header{"deviceId": {dk}}}
				}
				conn, _, err := websocket.Dial(ctx, harness.SensePassSocketURL(s, n), dopts)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.CloseNow()
				if how != "header" {
					if err := conn.Write(ctx, websocket.MessageText, []byte(`{"deviceId":"`+dk+`"}`)); err != nil {
						t.Fatal(err)
					}
				}
				if f := harness.SensePassFrame(t, ctx, conn); f["status"] != float64(0) {
					t.Fatalf("first frame: %v", f)
				}
				s.Call("DELETE", "/v1/device_keys/"+dkID, sk, nil).Want(t, 200)
				time.Sleep(600 * time.Millisecond) // a few of the socket's 250 ms looks
				harness.SensePassConfirm(t, s, sk, n, "4242424242424242").Want(t, 200)
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				defer rcancel()
				_, b, err := conn.Read(rctx)
				switch {
				case err == nil:
					t.Errorf("the socket of a revoked device key pushed: %s", b)
				case websocket.CloseStatus(err) == -1:
					t.Errorf("the socket of a revoked device key stayed open (want it closed, 1008): %v", err)
				}
			})
		}
	})
}
