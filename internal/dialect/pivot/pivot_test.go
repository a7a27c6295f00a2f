package pivot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

func TestPivotParseCard(t *testing.T) {
	for _, c := range []struct {
		plain        string
		month, year  int
		number, name string
	}{
		{`{"card":{"number":"4242424242424242","expiryMonth":"12","expiryYear":"2030","cvc":"123","nameOnCard":"Siti Aminah"}}`, 12, 2030, "4242424242424242", "Siti Aminah"},
		{`{"card":{"number":"4242424242424242","expiryMonth":3,"expiryYear":31,"cvc":"123"}}`, 3, 2031, "4242424242424242", ""},
		{`{"card":{"number":" 4242424242424242 ","expiryMonth":"03","expiryYear":"31","cvc":"123","nameOnCard":" A "}}`, 3, 2031, "4242424242424242", "A"},
		{`{"number":"5555555555554444","expiryMonth":"1","expiryYear":2029,"cvc":"999"}`, 1, 2029, "5555555555554444", ""},
	} {
		ci, err := ParseCard([]byte(c.plain))
		if err != nil {
			t.Errorf("%s: %v", c.plain, err)
			continue
		}
		if ci.ExpMonth != c.month || ci.ExpYear != c.year || ci.Number != c.number || ci.HolderName != c.name {
			t.Errorf("%s: got %d/%d %q", c.plain, ci.ExpMonth, ci.ExpYear, ci.HolderName)
		}
	}
	for _, bad := range []string{
		`not json`, `[]`,
		`{"card":{"number":"4242424242424242","expiryMonth":"13","expiryYear":"2030"}}`,
		`{"card":{"number":"4242424242424242","expiryMonth":"0","expiryYear":"2030"}}`,
		`{"card":{"number":"4242424242424242","expiryMonth":"12","expiryYear":"203"}}`,
		`{"card":{"number":"4242424242424242","expiryMonth":"12","expiryYear":"20300"}}`,
		`{"card":{"number":"4242424242424242","expiryMonth":"1x","expiryYear":"2030"}}`,
		`{"card":{"number":"4242424242424242","expiryYear":"2030"}}`,
		`{"card":{"number":"4242424242424242","expiryMonth":12.5,"expiryYear":"2030"}}`,
	} {
		_, err := ParseCard([]byte(bad))
		if err == nil {
			t.Errorf("%s: accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "4242") {
			t.Errorf("%s: the error names the card: %v", bad, err)
		}
	}
}

func TestPivotCardInRedacted(t *testing.T) {
	c := cardIn{EncryptedCard: "x", Token: "tok_1", CVC: "987"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c), c.LogValue().String()} {
		if strings.Contains(s, "987") {
			t.Errorf("a formatted card shows its CVC: %s", s)
		}
	}
}

func TestPivotToken(t *testing.T) {
	mac := []byte{1, 2, 3, 250}
	tok := FormatToken("mer_abc", 1700000900, mac)
	id, exp, got, ok := ParseToken(tok)
	if !ok || id != "mer_abc" || exp != 1700000900 || !bytes.Equal(got, mac) {
		t.Fatalf("round trip: %q → %v %q %d %v", tok, ok, id, exp, got)
	}
	for _, bad := range []string{"", "pvt", "pvt.mer_abc.1700000900", "xyz.mer_abc.1700000900.AQID",
		"pvt..1700000900.AQID", "pvt.mer_abc.-5.AQID", "pvt.mer_abc.soon.AQID", "pvt.mer_abc.1700000900.", "pvt.mer_abc.1700000900.!!",
		"pvt.mer.abc.1700000900.AQID", "pvt.mer_abc.1700000900.AQID" + strings.Repeat("A", 300)} {
		if _, _, _, ok := ParseToken(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	// The MAC input binds the merchant, the expiry and the secret key.
	a := tokenMAC("mer_a", 100, []byte{1})
	for _, b := range [][]byte{tokenMAC("mer_b", 100, []byte{1}), tokenMAC("mer_a", 101, []byte{1}), tokenMAC("mer_a", 100, []byte{2})} {
		if bytes.Equal(a, b) {
			t.Errorf("two tokens share a MAC input: %s", b)
		}
	}
	if TokenTTL != 900*time.Second {
		t.Errorf("TokenTTL %v", TokenTTL)
	}
}

func TestPivotSessionStatus(t *testing.T) {
	pm := map[string]string{metaMethod: "CARD"}
	for _, c := range []struct {
		v       payment.SessionView
		payment string
		want    string
	}{
		{payment.SessionView{Status: store.SessionOpen, Mode: "redirect", Metadata: pm}, "", StatusRequirePaymentMethod},
		{payment.SessionView{Status: store.SessionOpen, Mode: "api"}, "", StatusRequirePaymentMethod},
		{payment.SessionView{Status: store.SessionOpen, Mode: "api", Metadata: pm}, "", StatusRequireConfirmation},
		{payment.SessionView{Status: store.SessionOpen, Mode: "api", Metadata: pm, Attempts: 1}, store.PaymentFailed, StatusRequirePaymentMethod},
		{payment.SessionView{Status: store.SessionRequiresAction}, store.PaymentRequiresAction, StatusRequireAction},
		{payment.SessionView{Status: store.SessionRequiresAction}, store.PaymentProcessing, StatusProcessing},
		{payment.SessionView{Status: store.SessionSucceeded}, store.PaymentSucceeded, StatusPaid},
		{payment.SessionView{Status: store.SessionSucceeded}, store.PaymentRequiresCapture, StatusPaid},
		{payment.SessionView{Status: store.SessionSucceeded}, store.PaymentCanceled, StatusCancelled},
		{payment.SessionView{Status: store.SessionExpired}, "", StatusExpired},
		{payment.SessionView{Status: store.SessionCanceled}, "", StatusCancelled},
		{payment.SessionView{Status: store.SessionFailed}, store.PaymentFailed, StatusCancelled},
	} {
		if got := SessionStatus(&c.v, c.payment); got != c.want {
			t.Errorf("%s/%s (%s): %s, want %s", c.v.Status, c.v.Mode, c.payment, got, c.want)
		}
	}
	for in, want := range map[string]string{store.PaymentRequiresAction: ChargeWaitingForAuthentication, store.PaymentProcessing: ChargeProcessing,
		store.PaymentRequiresCapture: ChargeWaitingForCapture, store.PaymentSucceeded: ChargeSuccess, store.PaymentFailed: ChargeFailed,
		store.PaymentCanceled: ChargeCancelled} {
		if got := ChargeStatus(in); got != want {
			t.Errorf("charge %s: %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"session.succeeded": EventPaid, "session.expired": EventExpired, "session.canceled": EventCancelled,
		"session.failed": EventFailed, "session.created": "", "session.updated": "", "session.requires_action": ""} {
		if got := CallbackEvent(in); got != want {
			t.Errorf("event %s: %q, want %q", in, got, want)
		}
	}
}

func TestPivotRetrySchedule(t *testing.T) {
	want := []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}
	for _, status := range []int{0, 500, 502, 503, 408, 429} {
		for i, w := range want {
			if d, ok := RetryAfter(i+1, status); !ok || d != w {
				t.Errorf("status %d, attempt %d: %v %v, want %v", status, i+1, d, ok, w)
			}
		}
		if _, ok := RetryAfter(len(want)+1, status); ok {
			t.Errorf("status %d: retried after the schedule's end", status)
		}
	}
	for _, status := range []int{400, 401, 403, 404, 410, 422, 301, 302} {
		if _, ok := RetryAfter(1, status); ok {
			t.Errorf("status %d is retried", status)
		}
	}
	var f interface {
		Retry(n, status int) (time.Duration, bool)
	} = callbacks{}
	if d, ok := f.Retry(3, http.StatusServiceUnavailable); !ok || d != time.Hour {
		t.Errorf("the format's Retry: %v %v", d, ok)
	}
	if callbacks.Delivered(callbacks{}, 200, nil) != "" || callbacks.Delivered(callbacks{}, 400, nil) == "" {
		t.Error("Delivered")
	}
}

func TestPivotAmounts(t *testing.T) {
	for _, c := range []struct {
		raw, currency string
		want          int64
		back          string
	}{
		{`10000`, "IDR", 1000000, "10000"},
		{`"10000"`, "IDR", 1000000, "10000"},
		{`12.5`, "USD", 1250, "12.5"},
		{`"2500.50"`, "IDR", 250050, "2500.5"},
		{`100`, "JPY", 100, "100"},
		{`1.234`, "KWD", 1234, "1.234"},
		{`"12.500"`, "USD", 1250, "12.5"},
		{`12.500`, "USD", 1250, "12.5"},
		{`"1000.0"`, "JPY", 1000, "1000"},
		{`"15000.000"`, "IDR", 1500000, "15000"},
		{`"12.00"`, "USD", 1200, "12"},
	} {
		got, ae := ParseAmount(json.RawMessage(c.raw), c.currency)
		if ae != nil || got != c.want {
			t.Errorf("%s %s: %d %v, want %d", c.raw, c.currency, got, ae, c.want)
			continue
		}
		if back := FormatAmount(got, c.currency); string(back) != c.back {
			t.Errorf("%d %s → %s, want %s", got, c.currency, back, c.back)
		}
	}
	for _, c := range []struct{ raw, want string }{
		{``, "amount.value is required"}, {`null`, "is required"}, {`0`, "greater than 0"}, {`-1`, "greater than 0"},
		{`1e3`, "exponent"}, {`"ten"`, "decimal number"}, {`true`, "must be a"}, {`1.234`, "at most 2 decimals"}, {`1.2340`, "at most 2 decimals"}, {`"1.001"`, "at most 2 decimals"},
		{`99999999999999`, "at most"},
	} {
		if _, ae := ParseAmount(json.RawMessage(c.raw), "IDR"); ae == nil || ae.status != 400 || !strings.Contains(ae.message, c.want) {
			t.Errorf("%q: %v, want 400 ~ %q", c.raw, ae, c.want)
		}
	}
}

func TestPivotExpiryTime(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if v, ae := ExpiryTime("", now); !v.IsZero() || ae != nil {
		t.Errorf("absent: %v %v", v, ae)
	}
	// The instant asked for is kept as given (in UTC), whatever its zone.
	for in, want := range map[string]time.Time{"2030-01-02T03:34:05Z": now.Add(30 * time.Minute),
		"2030-01-02T10:09:05+07:00": now.Add(5 * time.Minute), "2030-01-02T03:05:05.000Z": now.Add(time.Minute),
		"2030-01-02T03:05:05.250Z": now.Add(time.Minute + 250*time.Millisecond), "2030-01-03T03:04:05Z": now.Add(24 * time.Hour)} {
		v, ae := ExpiryTime(in, now)
		if ae != nil || !v.Equal(want) || v.Location() != time.UTC {
			t.Errorf("%s: %v %v, want %v", in, v, ae, want)
		}
	}
	for _, in := range []string{"2030-01-02T03:04:35Z", "2030-01-01T03:04:05Z", "2030-01-03T03:04:06Z", "tomorrow", "2030-01-02 03:34:05"} {
		if _, ae := ExpiryTime(in, now); ae == nil || !strings.Contains(ae.message, "expiryAt") {
			t.Errorf("%s: %v", in, ae)
		}
	}
}

func TestPivotRenderHelpers(t *testing.T) {
	if f6, f8 := bins("42424242"); f6 != "424242" || f8 == nil || *f8 != "42424242" {
		t.Errorf("bins 8: %s %v", f6, f8)
	}
	if f6, f8 := bins("378282"); f6 != "378282" || f8 != nil {
		t.Errorf("bins 6: %s %v", f6, f8)
	}
	if f, l := SplitHolder(" Abu  Bin Ali "); f != "Abu" || l != "Bin Ali" {
		t.Errorf("SplitHolder: %q %q", f, l)
	}
	if monthText(3) != "03" || monthText(12) != "12" || monthText(0) != "" || yearText(2031) != "2031" {
		t.Error("month/year text")
	}
	if TokenStatus(store.TokenActive) != "ACTIVE" || TokenStatus(store.TokenDisabled) != "INACTIVE" || TokenStatus(store.TokenFailed) != "" {
		t.Error("TokenStatus")
	}
	if r := CustomerReference(&customerIn{Email: " Siti@Example.ID "}); r != "pivot:email:siti@example.id" {
		t.Errorf("reference by email: %s", r)
	}
	if r := CustomerReference(&customerIn{PhoneNumber: &phoneIn{CountryCode: "+62", Number: "811"}}); r != "pivot:phone:+62 811" {
		t.Errorf("reference by phone: %s", r)
	}
	if r := CustomerReference(&customerIn{GivenName: "X"}); r != "" {
		t.Errorf("reference by name: %s", r)
	}
	for path, want := range map[string]string{"/pivot/v1/access-token": "POST", "/pivot/v2/payments": "POST", "/pivot/v2/payments/ps_1": "GET",
		"/pivot/v2/payments/ps_1/confirm": "POST", "/pivot/v1/customers/cus_1": "GET", "/pivot/v2/refunds": "", "/pivot/": "", "/pivot/v2/payments/": ""} {
		if got := allowedMethods(path); got != want {
			t.Errorf("allowedMethods(%s) = %q, want %q", path, got, want)
		}
	}
	if got := renamed("success_url", "success_url must be an absolute http(s) URL"); got != "redirectUrl.successReturnUrl must be an absolute http(s) URL" {
		t.Errorf("renamed: %s", got)
	}
	for _, c := range []struct{ param, msg, want string }{
		{"token", "give either encrypted_card or token, not both", "paymentMethod.card.token give either paymentMethod.card.encryptedCard or paymentMethod.card.token, not both"},
		{"expires_at", "expires_at must be between 1 minute and 24 hours from now", "expiryAt must be between 1 minute and 24 hours from now"},
		{"cvc", "cvc is required to charge a saved card (merchant setting require_cvc_for_saved_cards)", "paymentMethod.card.cvc is required to charge a saved card (merchant setting require_cvc_for_saved_cards)"},
		{"", "The session is expired.", "The session is expired."},
	} {
		if got := renamed(c.param, c.msg); got != c.want {
			t.Errorf("renamed(%s, %q) = %q, want %q", c.param, c.msg, got, c.want)
		}
	}
	// Not-found wording follows the call and the param, never the message.
	for _, c := range []struct{ op, param, want string }{
		{"get", "id", "Payment session not found."}, {"confirm", "id", "Payment session not found."},
		{"customer", "id", msgCustomerNotFound}, {"create", "customer", msgCustomerNotFound}, {"confirm", "token", msgTokenNotFound},
	} {
		if got := notFoundMessage(c.op, c.param); got != c.want {
			t.Errorf("notFoundMessage(%s, %s) = %q, want %q", c.op, c.param, got, c.want)
		}
	}
}
