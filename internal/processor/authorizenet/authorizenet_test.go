package authorizenet_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/authorizenet"
	"github.com/coffer-vault/coffer/internal/processor/authorizenet/anetfake"
)

const (
	login = "5KP3u95bQpv"
	key   = "346HZ32z3fP4hTG2"
	pan   = "4111111111111111"
	cvc   = "123"
)

type env struct {
	// refusalsExpected turns off the check that the fake refused nothing.
	refusalsExpected bool
	fake             *anetfake.Fake
	srv              *httptest.Server
	c                *authorizenet.Client
}

// setup starts a fake on loopback and a client for it. Unless the test says
// otherwise, it fails if the fake refused any request the connector sent:
// that is what proves the connector sends the documented shape.
func setup(t *testing.T) *env {
	t.Helper()
	f := anetfake.New(login, key)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e := &env{fake: f, srv: srv, c: newClient(srv.URL)}
	t.Cleanup(func() {
		if r := f.Rejections(); len(r) > 0 && !e.refusalsExpected {
			t.Errorf("the fake refused the connector's requests: %q", r)
		}
	})
	return e
}

func newClient(url string) *authorizenet.Client {
	return authorizenet.New(authorizenet.Config{APILoginID: login, TransactionKey: key, BaseURL: url})
}

func card() processor.Card {
	return processor.Card{Number: pan, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: cvc,
		HolderName: "Ada Lovelace", AddressLine1: "1 Main St", PostalCode: "10001", Country: "US"}
}

func authReq(ref string, amount int64) processor.AuthorizeRequest {
	return processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: card(), Amount: amount, Currency: "USD"}
}

// clean fails if an error's text carries card data or the transaction key.
func clean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range []string{pan, key, "4222222222222"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks a secret: %v", err)
		}
	}
}

func TestAuthorizeCaptureRefund(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	a, err := e.c.Authorize(ctx, authReq("pay_0123456789abcdefghijklmnop", 1500))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || len(a.AuthCode) != 6 || a.Amount != 1500 || a.Currency != "USD" ||
		a.AVSResult != processor.CheckPass || a.CVCResult != processor.CheckPass {
		t.Fatalf("authorization = %+v", a)
	}
	tx, _ := e.fake.Transaction(a.ID)
	if tx.Type != "authOnlyTransaction" || tx.Amount != 1500 || tx.Last4 != "1111" || len(tx.Invoice) != 20 ||
		!strings.Contains(tx.Description, "pay_0123456789abcdefghijklmnop") {
		t.Fatalf("at the fake: %+v", tx)
	}
	if _, err := e.c.Capture(ctx, a.ID, 1600); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("capture above the authorization: %v", err)
	}
	cp, err := e.c.Capture(ctx, a.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if cp.ID != a.ID || cp.AuthorizationID != a.ID || cp.Amount != 1000 {
		t.Fatalf("capture = %+v", cp)
	}
	if _, err := e.c.Capture(ctx, a.ID, 1000); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("second capture: %v", err)
	}
	if _, err := e.c.Refund(ctx, cp.ID, 400, "re_1"); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("refund before settlement: %v", err)
	}
	if e.fake.Settle() == "" {
		t.Fatal("nothing settled")
	}
	rf, err := e.c.Refund(ctx, cp.ID, 400, "re_1")
	if err != nil {
		t.Fatal(err)
	}
	if rf.ID == "" || rf.ID == cp.ID || rf.CaptureID != cp.ID || rf.Amount != 400 {
		t.Fatalf("refund = %+v", rf)
	}
	again, err := newClient(e.srv.URL).Refund(ctx, cp.ID, 400, "re_1") // a fresh client: no memory
	if err != nil || again != rf {
		t.Fatalf("repeated refund = %+v, %v; want %+v", again, err, rf)
	}
	got, err := newClient(e.srv.URL).LookupRefund(ctx, cp.ID, "re_1")
	if err != nil || got != rf {
		t.Fatalf("LookupRefund = %+v, %v", got, err)
	}
	if _, err := e.c.LookupRefund(ctx, cp.ID, "re_2"); !errors.Is(err, processor.ErrNotFound) {
		t.Fatalf("LookupRefund of an unknown reference: %v", err)
	}
	if _, err := e.c.Refund(ctx, cp.ID, 700, "re_2"); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("refund above what is left: %v", err)
	}
	if _, err := e.c.Refund(ctx, cp.ID, 600, "re_3"); err != nil {
		t.Fatal(err)
	}
	e.fake.Settle()
	l, err := newClient(e.srv.URL).Lookup(ctx, "mer_1", "pay_0123456789abcdefghijklmnop")
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != a.ID || l.Captured != 1000 || l.CaptureID != a.ID || l.Refunded != 1000 || l.Voided || l.Currency != "USD" || l.Amount != 1500 {
		t.Fatalf("Lookup = %+v", l)
	}
	refunds := 0
	for _, tx := range e.fake.Transactions() {
		if tx.Type == "refundTransaction" {
			refunds++
			if tx.RefTransID != a.ID || tx.Last4 != "1111" {
				t.Fatalf("refund at the fake: %+v", tx)
			}
		}
	}
	if refunds != 2 {
		t.Fatalf("%d refunds at the fake, want 2", refunds)
	}
}

func TestSale(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	a, cp, err := e.c.Sale(ctx, authReq("pay_sale_1", 2599))
	if err != nil {
		t.Fatal(err)
	}
	if cp.ID != a.ID || cp.Amount != 2599 || a.Amount != 2599 {
		t.Fatalf("sale = %+v %+v", a, cp)
	}
	tx, _ := e.fake.Transaction(a.ID)
	if tx.Type != "authCaptureTransaction" || tx.Status != "capturedPendingSettlement" {
		t.Fatalf("at the fake: %+v", tx)
	}
	a2, cp2, err := newClient(e.srv.URL).Sale(ctx, authReq("pay_sale_1", 2599))
	if err != nil || a2.ID != a.ID || cp2 != cp {
		t.Fatalf("repeated sale = %+v %+v %v", a2, cp2, err)
	}
	// A Sale under the reference of an earlier Authorize captures it.
	au, err := e.c.Authorize(ctx, authReq("pay_sale_2", 700))
	if err != nil {
		t.Fatal(err)
	}
	a3, cp3, err := newClient(e.srv.URL).Sale(ctx, authReq("pay_sale_2", 700))
	if err != nil || a3.ID != au.ID || cp3.Amount != 700 {
		t.Fatalf("sale after authorize = %+v %+v %v", a3, cp3, err)
	}
	if n := len(e.fake.Transactions()); n != 2 {
		t.Fatalf("%d transactions at the fake, want 2", n)
	}
	l, err := e.c.Lookup(ctx, "mer_1", "pay_sale_2")
	if err != nil || l.Captured != 700 || l.CaptureID != au.ID {
		t.Fatalf("Lookup = %+v, %v", l, err)
	}
}

func TestVoid(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	a, err := e.c.Authorize(ctx, authReq("pay_void", 1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Void(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if tx, _ := e.fake.Transaction(a.ID); tx.Status != "voided" {
		t.Fatalf("at the fake: %+v", tx)
	}
	if err := e.c.Void(ctx, a.ID); err != nil {
		t.Fatalf("second void: %v", err)
	}
	if _, err := e.c.Capture(ctx, a.ID, 1000); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("capture after void: %v", err)
	}
	l, err := e.c.Lookup(ctx, "mer_1", "pay_void")
	if err != nil || !l.Voided || l.Captured != 0 {
		t.Fatalf("Lookup = %+v, %v", l, err)
	}
	b, cp, err := e.c.Sale(ctx, authReq("pay_void_2", 1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Void(ctx, b.ID); !errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("void of a capture: %v", err)
	}
	if tx, _ := e.fake.Transaction(cp.ID); tx.Status != "capturedPendingSettlement" {
		t.Fatalf("the capture was touched: %+v", tx)
	}
	if err := e.c.Void(ctx, "99999999999"); !errors.Is(err, processor.ErrNotFound) {
		t.Fatalf("void of an unknown id: %v", err)
	}
	if _, err := e.c.Capture(ctx, "99999999999", 100); !errors.Is(err, processor.ErrNotFound) {
		t.Fatalf("capture of an unknown id: %v", err)
	}
}

func TestVerify(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for _, amount := range []int64{100, 0} {
		v, err := e.c.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_" + string(rune('a'+amount%26)),
			Card: card(), Amount: amount, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if !v.Voided || v.AuthorizationID == "" || v.CVCResult != processor.CheckPass || v.AVSResult != processor.CheckPass {
			t.Fatalf("verification = %+v", v)
		}
		tx, _ := e.fake.Transaction(v.AuthorizationID)
		if tx.Type != "authOnlyTransaction" || tx.Status != "voided" || tx.Amount != amount {
			t.Fatalf("at the fake: %+v", tx)
		}
	}
	c := card()
	c.CVC = "901"
	v, err := e.c.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_cvc", Card: c, Amount: 100, Currency: "USD"})
	if err != nil || v.CVCResult != processor.CheckFail {
		t.Fatalf("verification with CVV N = %+v, %v", v, err)
	}
}

func TestDeclines(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := card()
	c.PostalCode = "46282"
	_, err := e.c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_d", Card: c, Amount: 1000, Currency: "USD"})
	var d *processor.Decline
	if !errors.As(err, &d) || d.Code != processor.CodeCardDeclined || d.DeclineCode != processor.DeclineGeneric {
		t.Fatalf("decline = %v", err)
	}
	// Lookup and a repeat answer the same decline, and nothing more is sent.
	_, err = newClient(e.srv.URL).Lookup(ctx, "mer_1", "pay_d")
	var d2 *processor.Decline
	if !errors.As(err, &d2) || *d2 != *d {
		t.Fatalf("Lookup of a decline = %v", err)
	}
	_, err = newClient(e.srv.URL).Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_d", Card: c, Amount: 1000, Currency: "USD"})
	if !errors.As(err, &d2) || *d2 != *d {
		t.Fatalf("repeat of a decline = %v", err)
	}
	if n := len(e.fake.Transactions()); n != 1 {
		t.Fatalf("%d transactions, want 1", n)
	}

	test := processor.Card{Number: anetfake.TestCard, ExpMonth: 1, ExpYear: time.Now().Year() + 2, CVC: "123", PostalCode: "10001"}
	for _, tc := range []struct {
		dollars          int64
		code, declineCod string
		avs, cvc         string
	}{
		{2, processor.CodeCardDeclined, processor.DeclineGeneric, processor.CheckPass, processor.CheckPass},
		{4, processor.CodeCardDeclined, processor.DeclineLostCard, processor.CheckPass, processor.CheckPass},
		{27, processor.CodeCardDeclined, processor.DeclineGeneric, processor.CheckFail, processor.CheckPass},
		{44, processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, processor.CheckPass, processor.CheckFail},
		{45, processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, processor.CheckFail, processor.CheckFail},
		{65, processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, processor.CheckPass, processor.CheckFail},
		{8, processor.CodeExpiredCard, processor.CodeExpiredCard, processor.CheckUnavailable, processor.CheckUnchecked},
		{6, processor.CodeIncorrectNumber, processor.CodeIncorrectNumber, processor.CheckUnavailable, processor.CheckUnchecked},
		{78, processor.CodeInvalidCVC, processor.CodeInvalidCVC, processor.CheckUnavailable, processor.CheckUnchecked},
		{252, processor.CodeCardDeclined, processor.DeclineGeneric, processor.CheckPass, processor.CheckPass},
	} {
		ref := "pay_t" + time.Duration(tc.dollars).String()
		_, err := e.c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: test, Amount: tc.dollars * 100, Currency: "USD"})
		clean(t, err)
		var d *processor.Decline
		if !errors.As(err, &d) || d.Code != tc.code || d.DeclineCode != tc.declineCod || d.AVSResult != tc.avs || d.CVCResult != tc.cvc {
			t.Errorf("reason %d: %v (%+v)", tc.dollars, err, d)
		}
	}
	// The held transaction (252) was declined at the gateway, not left for review.
	for _, tx := range e.fake.Transactions() {
		if tx.Reason == 252 || strings.HasPrefix(tx.Status, "FDS") {
			t.Fatalf("a held transaction is still held: %+v", tx)
		}
	}

	// Card problems the gateway finds itself.
	exp := card()
	exp.ExpYear = 2020
	_, err = e.c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_exp", Card: exp, Amount: 100, Currency: "USD"})
	if !errors.As(err, &d) || d.Code != processor.CodeExpiredCard {
		t.Fatalf("expired card: %v", err)
	}
	bad := card()
	bad.Number = "4111111111111112"
	_, err = e.c.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_luhn", Card: bad, Amount: 100, Currency: "USD"})
	clean(t, err)
	if !errors.As(err, &d) || d.Code != processor.CodeIncorrectNumber {
		t.Fatalf("bad number: %v", err)
	}
}

func TestStoredProfile(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.AddProfile("12345", "55555", "5424000000000015", "2031-04")
	r := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_sensepass", Amount: 200, Currency: "USD",
		Stored: &processor.StoredCard{CustomerProfileID: "12345", PaymentProfileID: "55555"}}
	a, cp, err := e.c.Sale(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := e.fake.Transaction(a.ID)
	if tx.CustomerProfileID != "12345" || tx.PaymentProfileID != "55555" || tx.Last4 != "0015" || tx.Amount != 200 {
		t.Fatalf("at the fake: %+v", tx)
	}
	e.fake.Settle()
	rf, err := e.c.Refund(ctx, cp.ID, 200, "re_sp")
	if err != nil || rf.Amount != 200 {
		t.Fatalf("refund to the profile = %+v, %v", rf, err)
	}
	r.Reference = "pay_sensepass_2"
	r.Stored = &processor.StoredCard{CustomerProfileID: "12345", PaymentProfileID: "1"}
	if _, err := e.c.Authorize(ctx, r); !errors.Is(err, processor.ErrInvalidRequest) {
		t.Fatalf("unknown profile: %v", err)
	}
}

func TestIdempotentRepeat(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	first, err := e.c.Authorize(ctx, authReq("pay_idem", 1234))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, err := newClient(e.srv.URL).Authorize(ctx, authReq("pay_idem", 1234))
		if err != nil || again != first {
			t.Fatalf("repeat %d = %+v, %v; want %+v", i, again, err, first)
		}
	}
	// Concurrent first attempts from separate clients (separate processes):
	// the look-up or the duplicate window lets only one through.
	var wg sync.WaitGroup
	ids := make([]string, 6)
	errs := make([]error, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := newClient(e.srv.URL).Authorize(ctx, authReq("pay_race", 999))
			ids[i], errs[i] = a.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent attempt %d = %q, %v; first %q", i, ids[i], errs[i], ids[0])
		}
	}
	counts := map[string]int{}
	for _, tx := range e.fake.Transactions() {
		counts[tx.Invoice]++
	}
	if len(counts) != 2 {
		t.Fatalf("transactions by invoice: %v", counts)
	}
	for inv, n := range counts {
		if n != 1 {
			t.Fatalf("invoice %s charged %d times", inv, n)
		}
	}
	// The same reference at another merchant is another payment.
	other := authReq("pay_idem", 1234)
	other.MerchantID = "mer_2"
	if o, err := e.c.Authorize(ctx, other); err != nil || o.ID == first.ID {
		t.Fatalf("other merchant = %+v, %v", o, err)
	}
}

func TestAnswerLost(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// The gateway authorizes but the answer is lost: ErrUnavailable, then a
	// Lookup or a retry finds the one authorization.
	e.fake.FailAfter("createTransactionRequest", 1)
	_, err := e.c.Authorize(ctx, authReq("pay_lost", 500))
	if !errors.Is(err, processor.ErrUnavailable) {
		t.Fatalf("lost answer: %v", err)
	}
	l, err := e.c.Lookup(ctx, "mer_1", "pay_lost")
	if err != nil || l.Amount != 500 {
		t.Fatalf("Lookup = %+v, %v", l, err)
	}
	a, err := e.c.Authorize(ctx, authReq("pay_lost", 500))
	if err != nil || a.ID != l.ID {
		t.Fatalf("retry = %+v, %v", a, err)
	}
	if n := len(e.fake.Transactions()); n != 1 {
		t.Fatalf("%d transactions, want 1", n)
	}
}

func TestUnavailable(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.FailNext("createTransactionRequest", 500)
	_, err := e.c.Authorize(ctx, authReq("pay_500", 500))
	if !errors.Is(err, processor.ErrUnavailable) {
		t.Fatalf("500: %v", err)
	}
	if _, err := e.c.Lookup(ctx, "mer_1", "pay_500"); !errors.Is(err, processor.ErrNotFound) {
		t.Fatalf("Lookup after a 500 that did nothing: %v", err)
	}
	e.fake.FailNext("createTransactionRequest", 503)
	if _, err := e.c.Capture(ctx, "60000000001", 100); !errors.Is(err, processor.ErrUnavailable) {
		t.Fatalf("503 on capture: %v", err)
	}
	// The look-up before charging fails: nothing was charged, so unreachable.
	e.fake.FailNext("getUnsettledTransactionListRequest", 502)
	if _, err := e.c.Authorize(ctx, authReq("pay_502", 500)); !errors.Is(err, processor.ErrUnreachable) {
		t.Fatalf("502 on the look-up: %v", err)
	}
	if n := e.fake.Calls("createTransactionRequest"); n != 0 {
		t.Fatalf("%d charges sent", n)
	}
	// A timeout after the request was sent.
	release := e.fake.Hang()
	defer release()
	c := authorizenet.New(authorizenet.Config{APILoginID: login, TransactionKey: key, BaseURL: e.srv.URL,
		HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	if _, err := c.Capture(ctx, "60000000001", 100); !errors.Is(err, processor.ErrUnavailable) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient("http://" + addr)
	_, err = c.Authorize(context.Background(), authReq("pay_x", 100))
	if !errors.Is(err, processor.ErrUnreachable) {
		t.Fatalf("closed port: %v", err)
	}
	clean(t, err)
	if _, err := c.Capture(context.Background(), "1", 100); !errors.Is(err, processor.ErrUnreachable) {
		t.Fatalf("closed port, capture: %v", err)
	}
}

func TestAuthenticationError(t *testing.T) {
	e := setup(t)
	c := authorizenet.New(authorizenet.Config{APILoginID: login, TransactionKey: "wrongKey12345678", BaseURL: e.srv.URL})
	_, err := c.Authorize(context.Background(), authReq("pay_auth", 100))
	if !errors.Is(err, processor.ErrUnreachable) || !strings.Contains(err.Error(), "authentication failed") ||
		strings.Contains(err.Error(), "wrongKey12345678") {
		t.Fatalf("bad key: %v", err)
	}
	if n := len(e.fake.Transactions()); n != 0 {
		t.Fatalf("%d transactions", n)
	}
}

func TestNoCardDataInErrors(t *testing.T) {
	e := setup(t)
	// A number too long for the schema: the real API's E00003 quotes the
	// value, and so does the fake; the connector's error must not.
	c := card()
	c.Number = "4111111111111111111"
	_, err := e.c.Authorize(context.Background(), processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_long",
		Card: c, Amount: 100, Currency: "USD"})
	if !errors.Is(err, processor.ErrInvalidRequest) || !strings.Contains(err.Error(), "E00003") {
		t.Fatalf("too long a number: %v", err)
	}
	if strings.Contains(err.Error(), "4111111111111111111") || strings.Contains(err.Error(), "411111111111") {
		t.Fatalf("error leaks the number: %v", err)
	}
	if r := e.fake.Rejections(); len(r) != 1 || !strings.Contains(r[0], "4111111111111111111") {
		t.Fatalf("the fake did not refuse it as the API does: %q", r)
	}
	e.refusalsExpected = true
	if _, err := e.c.Authorize(context.Background(), processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "p",
		Card: card(), Amount: 100, Currency: "JPY"}); !errors.Is(err, processor.ErrInvalidRequest) {
		t.Fatalf("unsupported currency: %v", err)
	}
}

// TestFakeRefusesMalformed shows the fake checks the documented shape, so
// that the connector's passing tests mean its requests have that shape.
func TestFakeRefusesMalformed(t *testing.T) {
	f := anetfake.New(login, key)
	srv := httptest.NewServer(f)
	defer srv.Close()
	post := func(body string) string {
		t.Helper()
		resp, err := http.Post(srv.URL+anetfake.Path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			t.Fatalf("answer without a BOM: %q", b)
		}
		return string(b[3:])
	}
	auth := `"merchantAuthentication":{"name":"` + login + `","transactionKey":"` + key + `"}`
	good := `{"createTransactionRequest":{` + auth + `,"refId":"1","transactionRequest":{"transactionType":"authOnlyTransaction","amount":"5.00","payment":{"creditCard":{"cardNumber":"4111111111111111","expirationDate":"2035-12","cardCode":"123"}}}}}`
	if out := post(good); !strings.Contains(out, `"resultCode":"Ok"`) || !strings.Contains(out, `"responseCode":"1"`) {
		t.Fatalf("well-formed request refused: %s", out)
	}
	for name, body := range map[string]string{
		"out of order":     `{"createTransactionRequest":{` + auth + `,"transactionRequest":{"amount":"5.00","transactionType":"authOnlyTransaction"}}}`,
		"unknown element":  `{"createTransactionRequest":{` + auth + `,"transactionRequest":{"transactionType":"authOnlyTransaction","amount":"5.00","cardNumber":"4111111111111111"}}}`,
		"bad amount":       `{"createTransactionRequest":{` + auth + `,"transactionRequest":{"transactionType":"authOnlyTransaction","amount":"5,00"}}}`,
		"number not text":  `{"createTransactionRequest":{` + auth + `,"transactionRequest":{"transactionType":"authOnlyTransaction","amount":5}}}`,
		"missing required": `{"createTransactionRequest":{` + auth + `,"transactionRequest":{"transactionType":"authOnlyTransaction","amount":"5.00","payment":{"creditCard":{"cardNumber":"4111111111111111"}}}}}`,
		"no credentials":   `{"createTransactionRequest":{"transactionRequest":{"transactionType":"authOnlyTransaction"}}}`,
		"refId too long":   `{"createTransactionRequest":{` + auth + `,"refId":"pay_0123456789abcdefghij","transactionRequest":{"transactionType":"authOnlyTransaction"}}}`,
		"bad type":         `{"createTransactionRequest":{` + auth + `,"transactionRequest":{"transactionType":"sale"}}}`,
		"unknown request":  `{"chargeRequest":{` + auth + `}}`,
	} {
		if out := post(body); !strings.Contains(out, `"code":"E00003"`) {
			t.Errorf("%s: accepted: %s", name, out)
		}
	}
	bad := `{"createTransactionRequest":{"merchantAuthentication":{"name":"` + login + `","transactionKey":"nope"},"transactionRequest":{"transactionType":"authOnlyTransaction","amount":"5.00","payment":{"creditCard":{"cardNumber":"4111111111111111","expirationDate":"2035-12"}}}}}`
	if out := post(bad); !strings.Contains(out, `"code":"E00007"`) {
		t.Errorf("wrong key accepted: %s", out)
	}
	if n := len(f.Transactions()); n != 1 {
		t.Fatalf("%d transactions, want the one well-formed", n)
	}
}
