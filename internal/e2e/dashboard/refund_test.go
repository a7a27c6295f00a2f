package dashboard

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

var keyField = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)

// TestRefundFromDashboard: a refund needs the confirmation ticked; the
// form's Idempotency-Key makes a second submit show the first refund
// instead of refunding again (and is refused for another amount); the
// service's own refusals (more than is left) are shown; a user never sees
// another merchant's payment. Checked through the API, on both backends.
func TestRefundFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		pay := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment("4242424242424242", 5000, "order_id", "ord-r")), 201, "succeeded")
		pid := pay["id"].(string)
		b := newClient(t, s)
		if p := b.signIn("ops@example.com", userPassword); p.status != 303 {
			t.Fatalf("sign-in: %d\n%s", p.status, p.body)
		}
		form := b.do("GET", "/dashboard/payments/"+pid, nil)
		if form.status != 200 || strings.Contains(form.body, "4242424242424242") {
			t.Fatalf("payment page %d (or it shows the card number)\n%s", form.status, form.body)
		}
		csrf, key := form.csrf(t), keyField.FindStringSubmatch(form.body)
		if key == nil {
			t.Fatalf("no idempotency_key in the refund form:\n%s", form.body)
		}
		refunded := func() int64 { return s.Call("GET", "/v1/payments/"+pid, sk, nil).Want(t, 200).Num("amount_refunded") }
		post := func(amount, k string, confirm bool) page {
			f := url.Values{"csrf": {csrf}, "idempotency_key": {k}, "amount": {amount}}
			if confirm {
				f.Set("confirm", "yes")
			}
			return b.do("POST", "/dashboard/payments/"+pid+"/refund", f)
		}

		if p := post("10.00", key[1], false); p.status != 400 || !strings.Contains(p.body, "Tick the confirmation") || refunded() != 0 {
			t.Fatalf("refund without the confirmation: %d\n%s", p.status, p.body)
		}
		first := post("10.00", key[1], true)
		loc := first.header.Get("Location")
		if first.status != 303 || !strings.Contains(loc, "done=refund") && strings.Contains(loc, "ref=re_") || refunded() != 1000 {
			t.Fatalf("refund: %d to %q, refunded %d\n%s", first.status, loc, refunded(), first.body)
		}
		if again := post("10.00", key[1], true); again.status != 303 || again.header.Get("Location") != loc || refunded() != 1000 {
			t.Errorf("the same form again: %d to %q (first went to %q), refunded %d", again.status, again.header.Get("Location"), loc, refunded())
		}
		if n := auditCount(t, s, s.Dev.ID, "dashboard.refund"); n != 1 {
			t.Errorf("%d refunds audited, want 1", n)
		}
		if p := post("5.00", key[1], true); p.status != 409 || !strings.Contains(p.body, "another amount") || refunded() != 1000 {
			t.Errorf("the form's key with another amount: %d, refunded %d\n%s", p.status, refunded(), p.body)
		}
		if p := post("100.00", "another-key", true); p.status < 400 || p.status >= 500 || !strings.Contains(p.body, `id="error"`) || refunded() != 1000 {
			t.Errorf("refunding more than is left: %d, refunded %d\n%s", p.status, refunded(), p.body)
		}
		if p := post("ten", "a-third-key", true); p.status != 400 || !strings.Contains(p.body, "amount") {
			t.Errorf("an amount that is not one: %d\n%s", p.status, p.body)
		}

		other := s.NewMerchant("Other")
		newUser(t, s, other.ID, "other@example.com")
		b2 := newClient(t, s)
		b2.signIn("other@example.com", userPassword)
		if p := b2.do("GET", "/dashboard/payments/"+pid, nil); p.status != 404 {
			t.Errorf("another merchant's user reading the payment: %d, want 404", p.status)
		}
		if p := b2.do("GET", "/dashboard/payments?q=ord-r", nil); p.status != 200 || strings.Contains(p.body, pid) {
			t.Errorf("another merchant's user finds the payment: %d", p.status)
		}
	})
}

// TestCaptureAndCancelFromDashboard: a payment authorized only shows the
// capture and cancel forms; capturing part of one and cancelling another
// (each confirmed, under its form's key) is what the API then shows, and
// each is audited once.
func TestCaptureAndCancelFromDashboard(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		auth := func() string {
			p := s.CreatePayment(sk, harness.CardPayment("4242424242424242", 5000, "capture", false))
			return harness.PaymentOK(t, p, 201, "requires_capture")["id"].(string)
		}
		toCapture, toCancel := auth(), auth()
		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)
		submit := func(pid, action, formID string, form url.Values) page {
			pg := b.do("GET", "/dashboard/payments/"+pid, nil)
			m := regexp.MustCompile(`id="` + formID + `"[\s\S]*?name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(pg.body)
			if m == nil {
				t.Fatalf("no %s form on %s:\n%s", formID, pid, pg.body)
			}
			form.Set("csrf", pg.csrf(t))
			form.Set("idempotency_key", m[1])
			return b.do("POST", "/dashboard/payments/"+pid+"/"+action, form)
		}
		if p := submit(toCapture, "capture", "capture-form", url.Values{"amount": {"30.00"}}); p.status != 400 {
			t.Errorf("capture without the confirmation: %d", p.status)
		}
		if p := submit(toCapture, "capture", "capture-form", url.Values{"amount": {"30.00"}, "confirm": {"yes"}}); p.status != 303 {
			t.Fatalf("capture: %d\n%s", p.status, p.body)
		}
		got := s.Call("GET", "/v1/payments/"+toCapture, sk, nil).Want(t, 200)
		if got.Str("status") != "succeeded" || got.Num("amount_captured") != 3000 {
			t.Errorf("after capturing 30.00 from the dashboard: %s", got.Raw)
		}
		if p := submit(toCancel, "cancel", "cancel-form", url.Values{"confirm": {"yes"}}); p.status != 303 {
			t.Fatalf("cancel: %d\n%s", p.status, p.body)
		}
		if st := s.Call("GET", "/v1/payments/"+toCancel, sk, nil).Want(t, 200).Str("status"); st != "canceled" {
			t.Errorf("after cancelling from the dashboard the payment is %s", st)
		}
		if pg := b.do("GET", "/dashboard/payments/"+toCancel, nil); strings.Contains(pg.body, `id="capture-form"`) {
			t.Error("a canceled payment still offers capture")
		}
		for _, a := range []string{"dashboard.capture", "dashboard.cancel"} {
			if n := auditCount(t, s, s.Dev.ID, a); n != 1 {
				t.Errorf("%d %s audit records, want 1", n, a)
			}
		}
	})
}
