package sensepass

// SensePass transactions paid on Coffer's hosted page in real headless
// Chromium: transactions/init's transactionPage link is opened, a card is
// typed as a person would, and the browser ends on the merchant's
// returnURL (or cancelURL). The callbacks the merchant's server receives
// are verified with an HMAC recomputed here, and the socket is watched
// through the whole flow. SQLite only: the other files cover both
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
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestBrowserSensePassTokenize: a Tokenize transaction saves the card typed
// on the hosted page, sends the browser to returnURL with the transaction
// number, tells the callbackURL (one signed POST with the token), and the
// token then pays through transactions/pay.
func TestBrowserSensePassTokenize(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	dk, _ := harness.SensePassDeviceKey(t, s, sk)
	rs, rv := harness.NewReturnSite(t), harness.NewRecorder(t, "/sensepass/callback")
	r := harness.SensePassPost(t, s, "init", map[string]any{"timeOut": 600, "deviceId": dk, "methodType": "Tokenize", "returnURL": rs.URL,
		"callbackURL": rv.URL}).Want(t, 201)
	n := r.Str("TransactionNumber")
	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)

	harness.OpenCheckout(t, ctx, r.Str("transactionPage", "iOSLink"))
	if l := harness.ElementText(t, ctx, "pay"); l != "Save card" {
		t.Errorf("#pay says %q on a Tokenize transaction", l)
	}
	if g := harness.SensePassGet(t, s, n, "deviceId", dk); g.Body["status"] != float64(0) {
		t.Errorf("before paying: %s", g.Raw)
	}
	verifications := s.Sim.Stats().Verifications
	harness.FillCard(t, ctx, "4242 4242 4242 4242", "321", "Abu Bin Ali")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "the merchant's returnURL", `!!document.getElementById("back")`)
	harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": n})
	console("saving a card")
	if s.Sim.Stats().Verifications != verifications+1 {
		t.Error("Tokenize did not verify the card once")
	}

	hooks, bodies := rv.Await(t, 1)
	harness.SensePassVerifyCallback(t, secret, hooks[0])
	b := bodies[0]
	harness.SensePassShape(t, "callback", harness.SensePassDecode(t, harness.SensePassSeedCallback), b)
	exp, _ := harness.TypedExpiry()
	tok := fmt.Sprint(harness.Dig(b, "paymentDetails", "token"))
	if hooks[0].Method != "POST" || b["TransactionNumber"] != n || b["status"] != float64(5) || b["statusName"] != "TransactionApproved" ||
		b["callbackType"] != "transaction_status" || harness.Dig(b, "paymentDetails", "type") != "Tokenize" || !strings.HasPrefix(tok, "tok_") ||
		harness.Dig(b, "paymentDetails", "cardMask") != "424242******4242" || harness.Dig(b, "paymentDetails", "lastFourDigits") != "4242" ||
		harness.Dig(b, "paymentDetails", "expiration") != exp || harness.Dig(b, "paymentDetails", "cardType") != "visa" {
		t.Errorf("callback: %s", hooks[0].Body)
	}
	g := harness.SensePassGet(t, s, n, "apiKey", sk).Want(t, 200)
	if g.Body["status"] != float64(5) || g.Str("paymentDetails", "token") != tok {
		t.Errorf("status after saving: %s", g.Raw)
	}
	if tk := s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200); tk.Str("status") != "active" || tk.Str("verification", "cvc_check") != "pass" {
		t.Errorf("the saved token: %s", tk.Raw)
	}
	p := harness.SensePassPost(t, s, "pay", map[string]any{"amount": 200, "currency": "USD", "deviceId": dk, "token": tok}).Want(t, 201)
	if p.Str("transactionStatus") != "TransactionApproved" || p.Str("token") != tok {
		t.Errorf("paying with the saved token: %s", p.Raw)
	}
	time.Sleep(300 * time.Millisecond)
	if len(rv.Hits()) != 1 {
		t.Errorf("%d callbacks, want one: the approval", len(rv.Hits()))
	}
	s.NoCardInLogs(t, "4242424242424242", "321")
}

// TestBrowserSensePassCaptureTokenize: a Capture+Tokenize transaction is
// paid on the hosted page with a card that needs 3-D Secure; the socket
// pushes Initialize → ProccessingPayment → TransactionApproved and closes;
// the callbackURL gets both changes, signed; the payment is captured and
// the card saved.
func TestBrowserSensePassCaptureTokenize(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rs, rv := harness.NewReturnSite(t), harness.NewRecorder(t, "/sensepass/callback")
	r := harness.SensePassPost(t, s, "init", map[string]any{"timeOut": 600, "amount": 3000, "currency": "MYR", "apiKey": sk, "methodType": "Capture+Tokenize",
		"returnURL": rs.URL, "callbackURL": rv.URL, "clientName": "Abu Bin Ali", "reason": "Order 1001"}).Want(t, 201)
	n := r.Str("TransactionNumber")

	wctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(wctx, harness.SensePassSocketURL(s, n), nil)
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

	ctx := harness.NewBrowser(t)
	console := harness.WatchConsole(t, ctx)
	harness.OpenCheckout(t, ctx, r.Str("transactionPage", "androidLink"))
	if amt := harness.ElementText(t, ctx, "amount"); amt != "MYR 30.00" {
		t.Errorf("#amount %q, want MYR 30.00", amt)
	}
	harness.FillCard(t, ctx, "4000 0025 0000 3155", "123", "Abu Bin Ali")
	harness.Click(t, ctx, "pay")
	harness.WaitJS(t, ctx, "the 3-D Secure challenge page", `!!document.getElementById("otp")`)
	if f := next("the challenge"); f["statusName"] != "ProccessingPayment" || f["status"] != float64(4) {
		t.Errorf("during the challenge: %v", f)
	}
	harness.PageNoPAN(t, ctx, "4000002500003155")
	harness.EnterOTP(t, ctx, harness.OTP)
	harness.WaitJS(t, ctx, "the merchant's returnURL", `!!document.getElementById("back")`)
	harness.WantQuery(t, harness.AtReturn(t, ctx, rs), map[string]string{"cart": "42", "session_id": n})
	console("paying through 3-D Secure")

	f := next("the approval")
	tok := fmt.Sprint(harness.Dig(f, "paymentDetails", "token"))
	pid := fmt.Sprint(harness.Dig(f, "paymentDetails", "paymentId"))
	if f["statusName"] != "TransactionApproved" || !strings.HasPrefix(tok, "tok_") || !strings.HasPrefix(pid, "pay_") ||
		harness.Dig(f, "paymentDetails", "type") != "Capture+Tokenize" || harness.Dig(f, "paymentDetails", "cardMask") != "400000******3155" {
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

	hooks, bodies := rv.Await(t, 2)
	if len(hooks) != 2 {
		t.Fatalf("%d callbacks, want 2", len(hooks))
	}
	// One transaction's callbacks arrive in order (docs/dialects.md): the
	// approval is not sent before the 3-D Secure one is delivered.
	for i, want := range []string{"ProccessingPayment", "TransactionApproved"} {
		harness.SensePassVerifyCallback(t, secret, hooks[i])
		if bodies[i]["statusName"] != want || bodies[i]["TransactionNumber"] != n || bodies[i]["callbackType"] != "transaction_status" {
			t.Errorf("callback %d: %s", i, hooks[i].Body)
		}
	}
	// The card is told once approved, as the seed's callback shows it.
	harness.SensePassShape(t, "callback during the challenge", harness.SensePassDecode(t, harness.SensePassSeedInit), bodies[0])
	harness.SensePassShape(t, "callback after approval", harness.SensePassDecode(t, harness.SensePassSeedCallback), bodies[1])
	if harness.Dig(bodies[1], "paymentDetails", "token") != tok {
		t.Errorf("the callback's token differs from the socket's: %s", hooks[1].Body)
	}
	p := s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200)
	if p.Str("status") != "succeeded" || harness.Dig(p.Body, "amount_captured") != float64(3000) || p.Str("token") != tok ||
		p.Str("authentication", "status") != "authenticated" {
		t.Errorf("the native payment: %s", p.Raw)
	}
	g := harness.SensePassSession(t, s, sk, n)
	if g.Str("description") != "Order 1001" || g.Str("metadata", "clientName") != "Abu Bin Ali" {
		t.Errorf("the native session: %s", g.Raw)
	}
	s.NoCardInLogs(t, "4000002500003155", "123")
}

// TestBrowserSensePassCancel: with a cancelURL the page offers to cancel;
// the card holder's cancel ends on cancelURL and the callback says
// TransactionCancel.
func TestBrowserSensePassCancel(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk, secret := s.Dev.SecretKey, s.Dev.HMACSecret
	rs, rv := harness.NewReturnSite(t), harness.NewRecorder(t, "/sensepass/callback")
	r := harness.SensePassPost(t, s, "init", map[string]any{"amount": 4500, "apiKey": sk, "returnURL": rs.To("return"), "cancelURL": rs.To("cancel"),
		"callbackURL": rv.URL, "callbackMethod": "GET"}).Want(t, 201)
	n := r.Str("TransactionNumber")
	ctx := harness.NewBrowser(t)
	harness.OpenCheckout(t, ctx, r.Str("transactionPage", "iOSLink"))
	harness.Click(t, ctx, "cancel")
	harness.Landed(t, ctx, rs, "cancel", n)
	hooks, _ := rv.Await(t, 1)
	harness.SensePassVerifyCallback(t, secret, hooks[0])
	if hooks[0].Method != http.MethodGet || !strings.HasSuffix(hooks[0].RawQuery, "TransactionNumber="+n+"&callbackType=transaction_status") {
		t.Errorf("GET callback: %s ?%s", hooks[0].Method, hooks[0].RawQuery)
	}
	if g := harness.SensePassGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(9) || g.Str("statusName") != "TransactionCancel" {
		t.Errorf("after the card holder canceled: %s", g.Raw)
	}
}
