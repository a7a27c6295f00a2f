package processor

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	testPAN = "4000056655665556"
	testCVC = "739"
)

// forbidden is what must never appear: the PAN, the digits a mask hides, the CVC, and the
// same in hex, which %x of a struct would produce for a string field.
var forbidden = []string{
	testPAN, "665566", testCVC,
	hex.EncodeToString([]byte(testPAN)), hex.EncodeToString([]byte(testCVC)),
	"Abu Bin Ali", "Jalan Ampang", "50450",
}

// noTime keeps timestamps out of log lines, where their digits could match by chance.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func testCard() Card {
	return Card{
		Number:       testPAN,
		ExpMonth:     12,
		ExpYear:      2034,
		CVC:          testCVC,
		HolderName:   "Abu Bin Ali",
		AddressLine1: "1 Jalan Ampang",
		PostalCode:   "50450",
		Country:      "MY",
	}
}

func assertSafe(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range forbidden {
		if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
			t.Errorf("%s leaks %q: %s", what, s, out)
		}
	}
}

func TestCardFmt(t *testing.T) {
	c := testCard()
	req := AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: c, Amount: 1000, Currency: "MYR"}
	vreq := VerifyRequest{MerchantID: "mer_1", Reference: "tok_1", Card: c, Amount: 100, Currency: "MYR"}
	values := map[string]any{
		"Card":              c,
		"*Card":             &c,
		"AuthorizeRequest":  req,
		"*AuthorizeRequest": &req,
		"VerifyRequest":     vreq,
		"[]Card":            []Card{c, c},
		"map":               map[string]Card{"k": c},
		"anonymous struct":  struct{ C Card }{c},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%10.3v", "%-v", "% x"}
	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			assertSafe(t, name+" "+verb, out)
			if name != "*AuthorizeRequest" && verb != "%x" && verb != "%X" && verb != "% x" && !strings.Contains(out, "400005******5556") {
				t.Errorf("%s %s does not show the masked number: %s", name, verb, out)
			}
		}
	}
	assertSafe(t, "Sprint", fmt.Sprint(c))
	assertSafe(t, "Sprintln", fmt.Sprintln(c, &c))
	assertSafe(t, "Errorf", fmt.Errorf("authorize %v: %w", req, errors.New("boom")).Error())

	if got, want := c.String(), "Card(400005******5556, 12/2034)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%#v", c); !strings.HasPrefix(got, "processor.Card{Number:\"400005******5556\"") || !strings.Contains(got, `CVC:"[redacted]"`) {
		t.Errorf("%%#v = %s", got)
	}
}

func TestCardNilPointer(t *testing.T) {
	var c *Card
	if got := fmt.Sprintf("%v", c); got != "<nil>" {
		t.Errorf("nil *Card prints %q", got)
	}
}

func TestCardSlog(t *testing.T) {
	c := testCard()
	req := AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: c, Amount: 1000, Currency: "MYR"}
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
		}},
		{"text", func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
		}},
	} {
		var buf bytes.Buffer
		log := slog.New(h.new(&buf))
		log.Info("card", "card", c, "ptr", &c, "req", req, "reqptr", &req)
		log.Info("attr", slog.Any("card", c), slog.Group("g", "card", c))
		log.With("card", c).Info("with")
		out := buf.String()
		assertSafe(t, "slog "+h.name, out)
		if !strings.Contains(out, "400005******5556") {
			t.Errorf("slog %s does not show the masked number: %s", h.name, out)
		}
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "card", c)
	var line struct {
		Card map[string]any `json:"card"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Card["mask"] != "400005******5556" || line.Card["has_cvc"] != true || line.Card["exp_year"] != float64(2034) {
		t.Errorf("slog JSON card = %v", line.Card)
	}
}

func TestCardJSON(t *testing.T) {
	c := testCard()
	req := AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: c, Amount: 1000, Currency: "MYR"}
	for name, v := range map[string]any{"Card": c, "*Card": &c, "AuthorizeRequest": req, "*AuthorizeRequest": &req} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertSafe(t, "json "+name, string(b))
		if !strings.Contains(string(b), `"mask":"400005******5556"`) {
			t.Errorf("json %s = %s", name, b)
		}
	}
	b, _ := json.Marshal(Card{Number: "4242424242424242", ExpMonth: 1, ExpYear: 2030})
	if got, want := string(b), `{"mask":"424242******4242","exp_month":1,"exp_year":2030,"has_cvc":false}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"4242424242424242":    "424242******4242",
		"378282246310005":     "378282*****0005",
		"4242 4242 4242 4242": "424242******4242",
		"6011000990139424":    "601100******9424",
		"4000000000000000000": "400000*********0000",
		"424242424242":        "************",
		"1234":                "****",
		"":                    "",
		"abc":                 "",
	} {
		if got := mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeclineError(t *testing.T) {
	var err error = &Decline{Code: CodeCardDeclined, DeclineCode: DeclineInsufficientFunds, Message: "Your card has insufficient funds."}
	if got, want := err.Error(), "card declined: card_declined (insufficient_funds): Your card has insufficient funds."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var d *Decline
	if !errors.As(fmt.Errorf("charge: %w", err), &d) || d.DeclineCode != DeclineInsufficientFunds {
		t.Error("errors.As does not find the *Decline")
	}
	if got, want := (&Decline{Code: CodeExpiredCard, DeclineCode: CodeExpiredCard}).Error(), "card declined: expired_card"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestCardLogValue checks LogValue on its own: the built-in handlers would fall back to
// MarshalJSON or fmt, but a custom handler may walk attributes itself.
func TestCardLogValue(t *testing.T) {
	v := slog.AnyValue(testCard()).Resolve()
	if v.Kind() != slog.KindGroup {
		t.Fatalf("kind = %v, want group", v.Kind())
	}
	got := map[string]string{}
	for _, a := range v.Group() {
		got[a.Key] = a.Value.String()
		assertSafe(t, "attr "+a.Key, a.Value.String())
	}
	if got["mask"] != "400005******5556" || got["has_cvc"] != "true" || got["exp_month"] != "12" {
		t.Errorf("LogValue = %v", got)
	}
}
