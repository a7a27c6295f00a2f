package e2e

// SensePass transactions paid on Coffer's hosted page in real headless
// Chromium: transactions/init's transactionPage link is opened, a card is
// typed as a person would, and the browser ends on the merchant's
// returnURL (or cancelURL). The callbacks the merchant's server receives
// are verified with an HMAC recomputed here, and the socket is watched
// through the whole flow. SQLite only: sensepass_test.go covers both
// backends over HTTP.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// snNoCardInLogs fails the test if a card number or code reached the logs.
func snNoCardInLogs(t *testing.T, s *server, pan, cvc string) {
	t.Helper()
	logs := []byte(s.Logs.String())
	if strings.Contains(string(logs), pan) || snIsolated(logs, cvc) {
		t.Error("a card number or security code reached the server's logs")
	}
}

// TestBrowserSensePassTokenize: a Tokenize transaction saves the card typed
// on the hosted page, sends the browser to returnURL with the transaction
// number, tells the callbackURL (one signed POST with the token), and the
// token then pays through transactions/pay.
func TestBrowserSensePassTokenize(t *testing.T) {
	s := start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	dk, _ := snDeviceKey(t, s, sk)
	rs, rv := newReturnSite(t), snNewReceiver(t)
	r := snPost(t, s, "init", map[string]any{"timeOut": 600, "deviceId": dk, "methodType": "Tokenize", "returnURL": rs.URL,
		"callbackURL": rv.URL}).want(t, 201)
	n := r.str("TransactionNumber")
	ctx := newBrowser(t)
	console := bsConsole(t, ctx)

	bsOpenCheckout(t, ctx, r.str("transactionPage", "iOSLink"))
	if l := b3dsElemText(t, ctx, "pay"); l != "Save card" {
		t.Errorf("#pay says %q on a Tokenize transaction", l)
	}
	if g := snGet(t, s, n, "deviceId", dk); g.Body["status"] != float64(0) {
		t.Errorf("before paying: %s", g.Raw)
	}
	verifications := s.Sim.Stats().Verifications
	bsFillCard(t, ctx, "4242 4242 4242 4242", "321", "Abu Bin Ali")
	bsClick(t, ctx, "pay")
	bsWait(t, ctx, "the merchant's returnURL", `!!document.getElementById("back")`)
	b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": n})
	console("saving a card")
	if s.Sim.Stats().Verifications != verifications+1 {
		t.Error("Tokenize did not verify the card once")
	}

	hooks, bodies := snCallbacks(t, rv, 1)
	snVerify(t, secret, hooks[0])
	b := bodies[0]
	snShape(t, "callback", snDecode(t, snSeedCallback), b)
	exp, _ := bsExp()
	tok := fmt.Sprint(dig(b, "paymentDetails", "token"))
	if hooks[0].Method != "POST" || b["TransactionNumber"] != n || b["status"] != float64(5) || b["statusName"] != "TransactionApproved" ||
		b["callbackType"] != "transaction_status" || dig(b, "paymentDetails", "type") != "Tokenize" || !strings.HasPrefix(tok, "tok_") ||
		dig(b, "paymentDetails", "cardMask") != "424242******4242" || dig(b, "paymentDetails", "lastFourDigits") != "4242" ||
		dig(b, "paymentDetails", "expiration") != exp || dig(b, "paymentDetails", "cardType") != "visa" {
		t.Errorf("callback: %s", hooks[0].Body)
	}
	g := snGet(t, s, n, "apiKey", sk).want(t, 200)
	if g.Body["status"] != float64(5) || g.str("paymentDetails", "token") != tok {
		t.Errorf("status after saving: %s", g.Raw)
	}
	if tk := s.call("GET", "/v1/tokens/"+tok, sk, nil).want(t, 200); tk.str("status") != "active" || tk.str("verification", "cvc_check") != "pass" {
		t.Errorf("the saved token: %s", tk.Raw)
	}
	p := snPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": dk, "token": tok}).want(t, 201)
	if p.str("transactionStatus") != "TransactionApproved" || p.str("token") != tok {
		t.Errorf("paying with the saved token: %s", p.Raw)
	}
	time.Sleep(300 * time.Millisecond)
	if len(rv.all()) != 1 {
		t.Errorf("%d callbacks, want one: the approval", len(rv.all()))
	}
	snNoCardInLogs(t, s, "4242424242424242", "321")
}

// TestBrowserSensePassCaptureTokenize: a Capture+Tokenize transaction is
// paid on the hosted page with a card that needs 3-D Secure; the socket
// pushes Initialize → ProccessingPayment → TransactionApproved and closes;
// the callbackURL gets both changes, signed; the payment is captured and
// the card saved.
func TestBrowserSensePassCaptureTokenize(t *testing.T) {
	s := start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rs, rv := newReturnSite(t), snNewReceiver(t)
	r := snPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 3000, "currency": "MYR", "apiKey": sk, "methodType": "Capture+Tokenize",
		"returnURL": rs.URL, "callbackURL": rv.URL, "clientName": "Abu Bin Ali", "reason": "Order 1001"}).want(t, 201)
	n := r.str("TransactionNumber")

	wctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(wctx, snSocketURL(s, n), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Write(wctx, websocket.MessageText, []byte(`{"apiKey":"`+sk+`"}`)); err != nil {
		t.Fatal(err)
	}
	frames := make(chan map[string]any, 8)
	closed := make(chan error, 1)
	go func() {
		defer close(frames)
		for {
			_, b, err := conn.Read(wctx)
			if err != nil {
				closed <- err
				return
			}
			var v map[string]any
			if json.Unmarshal(b, &v) == nil {
				frames <- v
			}
		}
	}()
	next := func(what string) map[string]any {
		t.Helper()
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("socket closed before %s", what)
			}
			return f
		case <-time.After(20 * time.Second):
			t.Fatalf("socket: no frame for %s", what)
		}
		return nil
	}
	if f := next("the start"); f["statusName"] != "Initialize" {
		t.Errorf("first frame: %v", f)
	}

	ctx := newBrowser(t)
	console := bsConsole(t, ctx)
	bsOpenCheckout(t, ctx, r.str("transactionPage", "androidLink"))
	if amt := b3dsElemText(t, ctx, "amount"); amt != "MYR 30.00" {
		t.Errorf("#amount %q, want MYR 30.00", amt)
	}
	bsFillCard(t, ctx, "4000 0025 0000 3155", "123", "Abu Bin Ali")
	bsClick(t, ctx, "pay")
	bsWait(t, ctx, "the 3-D Secure challenge page", `!!document.getElementById("otp")`)
	if f := next("the challenge"); f["statusName"] != "ProccessingPayment" || f["status"] != float64(4) {
		t.Errorf("during the challenge: %v", f)
	}
	b3dsNoPAN(t, ctx, "4000002500003155")
	b3dsSubmit(t, ctx, b3dsOTP)
	bsWait(t, ctx, "the merchant's returnURL", `!!document.getElementById("back")`)
	b3dsWantQuery(t, b3dsAtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": n})
	console("paying through 3-D Secure")

	f := next("the approval")
	tok := fmt.Sprint(dig(f, "paymentDetails", "token"))
	pid := fmt.Sprint(dig(f, "paymentDetails", "paymentId"))
	if f["statusName"] != "TransactionApproved" || !strings.HasPrefix(tok, "tok_") || !strings.HasPrefix(pid, "pay_") ||
		dig(f, "paymentDetails", "type") != "Capture+Tokenize" || dig(f, "paymentDetails", "cardMask") != "400000******3155" {
		t.Errorf("approved frame: %v", f)
	}
	select {
	case err := <-closed:
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("the socket ended with %v, want a normal closure", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the socket stayed open after the final state")
	}

	hooks, bodies := snCallbacks(t, rv, 2)
	if len(hooks) != 2 {
		t.Fatalf("%d callbacks, want 2", len(hooks))
	}
	// One transaction's callbacks arrive in order (docs/dialects.md): the
	// approval is not sent before the 3-D Secure one is delivered.
	for i, want := range []string{"ProccessingPayment", "TransactionApproved"} {
		snVerify(t, secret, hooks[i])
		if bodies[i]["statusName"] != want || bodies[i]["TransactionNumber"] != n || bodies[i]["callbackType"] != "transaction_status" {
			t.Errorf("callback %d: %s", i, hooks[i].Body)
		}
	}
	// The card is told once approved, as the seed's callback shows it.
	snShape(t, "callback during the challenge", snDecode(t, snSeedInit), bodies[0])
	snShape(t, "callback after approval", snDecode(t, snSeedCallback), bodies[1])
	if dig(bodies[1], "paymentDetails", "token") != tok {
		t.Errorf("the callback's token differs from the socket's: %s", hooks[1].Body)
	}
	p := s.call("GET", "/v1/payments/"+pid, sk, nil).want(t, 200)
	if p.str("status") != "succeeded" || dig(p.Body, "amount_captured") != float64(3000) || p.str("token") != tok ||
		p.str("authentication", "status") != "authenticated" {
		t.Errorf("the native payment: %s", p.Raw)
	}
	g := snSession(t, s, sk, n)
	if g.str("description") != "Order 1001" || g.str("metadata", "clientName") != "Abu Bin Ali" {
		t.Errorf("the native session: %s", g.Raw)
	}
	snNoCardInLogs(t, s, "4000002500003155", "123")
}

// TestBrowserSensePassCancel: with a cancelURL the page offers to cancel;
// the card holder's cancel ends on cancelURL and the callback says
// TransactionCancel.
func TestBrowserSensePassCancel(t *testing.T) {
	s := start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rs, rv := newReturnSite(t), snNewReceiver(t)
	r := snPost(t, s, "init", map[string]any{"amount": 4500, "apiKey": sk, "returnURL": bsTo(rs, "return"), "cancelURL": bsTo(rs, "cancel"),
		"callbackURL": rv.URL, "callbackMethod": "GET"}).want(t, 201)
	n := r.str("TransactionNumber")
	ctx := newBrowser(t)
	bsOpenCheckout(t, ctx, r.str("transactionPage", "iOSLink"))
	bsClick(t, ctx, "cancel")
	bsLanded(t, ctx, rs, "cancel", n)
	hooks, _ := snCallbacks(t, rv, 1)
	snVerify(t, secret, hooks[0])
	if hooks[0].Method != http.MethodGet || !strings.HasSuffix(hooks[0].RawQuery, "TransactionNumber="+n+"&callbackType=transaction_status") {
		t.Errorf("GET callback: %s ?%s", hooks[0].Method, hooks[0].RawQuery)
	}
	if g := snGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(9) || g.str("statusName") != "TransactionCancel" {
		t.Errorf("after the card holder canceled: %s", g.Raw)
	}
}
