package payment

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// asError unwraps a domain *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *payment.Error", err, err)
	}
	return e
}

func i64(v int64) *int64 { return &v }

// TestClaimable: only an authorization not yet captured may be captured or
// canceled; every other status is an invalid state naming the operation.
func TestClaimable(t *testing.T) {
	for _, op := range []string{"capture", "cancel"} {
		if err := claimable(store.PaymentRequiresCapture, op); err != nil {
			t.Errorf("%s of requires_capture: %v", op, err)
		}
		for _, st := range []string{store.PaymentProcessing, store.PaymentRequiresAction, store.PaymentSucceeded,
			store.PaymentFailed, store.PaymentCanceled} {
			e := asError(t, claimable(st, op))
			if e.Kind != KindInvalidState || !strings.Contains(e.Message, st) {
				t.Errorf("%s of %s: %+v", op, st, e)
			}
		}
	}
	if e := asError(t, claimable(store.PaymentSucceeded, "capture")); !strings.Contains(e.Message, "cannot be captured") {
		t.Errorf("capture message %q", e.Message)
	}
	if e := asError(t, claimable(store.PaymentCanceled, "cancel")); !strings.Contains(e.Message, "cannot be canceled") {
		t.Errorf("cancel message %q", e.Message)
	}
}

// TestCaptureAmount: a capture takes at most what is authorized, all of it
// by default; the refused amount is never echoed (it could be a card number).
func TestCaptureAmount(t *testing.T) {
	p := &store.Payment{Status: store.PaymentRequiresCapture, Amount: 5000, AmountCapturable: 5000}
	for _, c := range []struct {
		amount *int64
		want   int64
		code   string
	}{
		{nil, 5000, ""},
		{i64(1), 1, ""},
		{i64(5000), 5000, ""},
		{i64(0), 0, "parameter_invalid"},
		{i64(-1), 0, "parameter_invalid"},
		{i64(5001), 0, "amount_too_large"},
		{i64(4242424242424242), 0, "amount_too_large"},
	} {
		got, err := captureAmount(p, c.amount)
		if c.code == "" {
			if err != nil || got != c.want {
				t.Errorf("capture %v: %d, %v; want %d", c.amount, got, err, c.want)
			}
			continue
		}
		e := asError(t, err)
		if e.Code != c.code || e.Param != "amount" || e.Kind != KindInvalidRequest {
			t.Errorf("capture %d: %+v, want %s on amount", *c.amount, e, c.code)
		}
		if strings.Contains(e.Message, "4242424242424242") {
			t.Errorf("message echoes the amount: %q", e.Message)
		}
	}
}

// TestRefundAmount: only a succeeded payment is refunded, never beyond what
// was captured less what is already refunded; the rest by default.
func TestRefundAmount(t *testing.T) {
	ok := &store.Payment{Status: store.PaymentSucceeded, AmountCaptured: 1000, AmountRefunded: 300}
	if got, err := refundAmount(ok, nil); err != nil || got != 700 {
		t.Errorf("default refund: %d, %v; want 700", got, err)
	}
	if got, err := refundAmount(ok, i64(700)); err != nil || got != 700 {
		t.Errorf("refund of the rest: %d, %v", got, err)
	}
	if got, err := refundAmount(ok, i64(1)); err != nil || got != 1 {
		t.Errorf("partial refund: %d, %v", got, err)
	}
	for _, c := range []struct {
		p      *store.Payment
		amount *int64
		kind   Kind
		code   string
	}{
		{ok, i64(701), KindInvalidRequest, "amount_too_large"},
		{ok, i64(0), KindInvalidRequest, "parameter_invalid"},
		{ok, i64(-5), KindInvalidRequest, "parameter_invalid"},
		{&store.Payment{Status: store.PaymentSucceeded, AmountCaptured: 1000, AmountRefunded: 1000}, nil, KindInvalidState, "payment_invalid_state"},
		{&store.Payment{Status: store.PaymentRequiresCapture, AmountCapturable: 1000}, nil, KindInvalidState, "payment_invalid_state"},
		{&store.Payment{Status: store.PaymentCanceled}, nil, KindInvalidState, "payment_invalid_state"},
		{&store.Payment{Status: store.PaymentFailed}, nil, KindInvalidState, "payment_invalid_state"},
	} {
		_, err := refundAmount(c.p, c.amount)
		e := asError(t, err)
		if e.Kind != c.kind || (c.kind == KindInvalidRequest && e.Code != c.code) {
			t.Errorf("refund of %s payment (captured %d, refunded %d) by %v: %+v", c.p.Status, c.p.AmountCaptured, c.p.AmountRefunded, c.amount, e)
		}
	}
}

// TestUnusableToken: only an active, unexpired token may be charged; the
// others become a failed payment with a decline code naming why.
func TestUnusableToken(t *testing.T) {
	now := time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC)
	tok := func(status string, month, year int) *store.Token {
		return &store.Token{Status: status, ExpMonth: month, ExpYear: year}
	}
	if f := unusableToken(tok(store.TokenActive, 3, 2027), now); f != nil {
		t.Errorf("active token valid this month: %+v", f)
	}
	for _, c := range []struct {
		tok     *store.Token
		decline string
	}{
		{tok(store.TokenDeleted, 12, 2030), "token_deleted"},
		{tok(store.TokenDisabled, 12, 2030), "token_disabled"},
		{tok(store.TokenRequiresAction, 12, 2030), "token_inactive"},
		{tok(store.TokenFailed, 12, 2030), "token_inactive"},
		{tok(store.TokenActive, 2, 2027), "expired_card"},
		{tok(store.TokenDisabled, 2, 2020), "token_disabled"}, // the status is told first
	} {
		f := unusableToken(c.tok, now)
		if f == nil || f.DeclineCode != c.decline {
			t.Errorf("token %s %d/%d: %+v, want %s", c.tok.Status, c.tok.ExpMonth, c.tok.ExpYear, f, c.decline)
		}
	}
}

// TestDerivedIDs: under an Idempotency-Key, an object's id is a function of
// the key's (per-merchant) digest and the kind of object: a retry finds the
// same object, another key or another kind never does. Without a key ids are
// fresh.
func TestDerivedIDs(t *testing.T) {
	bare := context.Background()
	keyed := func(digest string) context.Context { return WithIdempotencyKey(bare, digest) }
	shape := regexp.MustCompile(`^pay_[a-z2-7]{26}$`)

	a, b := paymentID(keyed("d1")), paymentID(keyed("d1"))
	if a != b || !shape.MatchString(a) {
		t.Fatalf("same key: %q, %q", a, b)
	}
	if c := paymentID(keyed("d2")); c == a {
		t.Errorf("another key (another merchant's digest) gave the same id %q", c)
	}
	refund := derivedID(keyed("d1"), "re", "coffer refund id|")
	if !strings.HasPrefix(refund, "re_") || strings.TrimPrefix(refund, "re_") == strings.TrimPrefix(a, "pay_") {
		t.Errorf("a refund under the payment's key: %q vs %q", refund, a)
	}
	if x, y := paymentID(bare), paymentID(bare); x == y || !strings.HasPrefix(x, "pay_") {
		t.Errorf("without a key: %q, %q", x, y)
	}
	if k := opKey(bare); k != "" {
		t.Errorf("opKey without a key: %q", k)
	}
	if k1, k2 := opKey(keyed("d1")), opKey(keyed("d1")); k1 == "" || k1 != k2 || k1 == strings.TrimPrefix(a, "pay_") || k1 == opKey(keyed("d2")) {
		t.Errorf("opKey: %q, %q", k1, k2)
	}
}

// TestSessionStatusEvent: a session's event type follows its status; an open
// session that changed is "updated".
func TestSessionStatusEvent(t *testing.T) {
	for status, want := range map[string]string{
		store.SessionOpen:           "session.updated",
		store.SessionRequiresAction: "session.requires_action",
		store.SessionSucceeded:      "session.succeeded",
		store.SessionFailed:         "session.failed",
		store.SessionExpired:        "session.expired",
		store.SessionCanceled:       "session.canceled",
	} {
		if got := sessionStatusEvent(status); got != want {
			t.Errorf("%s: %s, want %s", status, got, want)
		}
	}
}

// TestThreeDSMode: the default is if_required; a merchant that requires 3-D
// Secure for tokens makes tokenization required and refuses never.
func TestThreeDSMode(t *testing.T) {
	plain := &store.Merchant{}
	strict := &store.Merchant{Settings: store.Settings{TokenizationRequires3DS: true}}
	for _, c := range []struct {
		req          string
		m            *store.Merchant
		tokenization bool
		want         string
		bad          bool
	}{
		{"", plain, false, ThreeDSIfRequired, false},
		{ThreeDSNever, plain, true, ThreeDSNever, false},
		{ThreeDSRequired, plain, false, ThreeDSRequired, false},
		{"", strict, true, ThreeDSRequired, false},
		{ThreeDSIfRequired, strict, true, ThreeDSRequired, false},
		{ThreeDSNever, strict, true, "", true},
		{ThreeDSNever, strict, false, ThreeDSNever, false}, // a payment without saving the card
		{"always", plain, false, "", true},
	} {
		got, err := threeDSMode(c.req, c.m, c.tokenization)
		if c.bad {
			if e := asError(t, err); e.Param != "three_d_secure" {
				t.Errorf("%q: %+v", c.req, e)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q (requires3DS %v, tokenization %v): %q, %v; want %q", c.req, c.m.Settings.TokenizationRequires3DS, c.tokenization, got, err, c.want)
		}
	}
}

// TestCheckTokenParams: a tokenization that cannot be served is refused
// before any card is looked at, naming the field.
func TestCheckTokenParams(t *testing.T) {
	m := &store.Merchant{}
	card := &CardInput{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030}
	if mode, err := checkTokenParams(TokenParams{Card: card}, m, false); err != nil || mode != ThreeDSIfRequired {
		t.Errorf("plain request: %q, %v", mode, err)
	}
	for _, c := range []struct {
		p       TokenParams
		canAuth bool
		param   string
	}{
		{TokenParams{EncryptedCard: "x", Card: card}, true, "encrypted_card"},
		{TokenParams{}, true, "card"},
		{TokenParams{Card: card, ThreeDSecure: "sometimes"}, true, "three_d_secure"},
		{TokenParams{Card: card, ThreeDSecure: ThreeDSRequired}, false, "three_d_secure"},
		{TokenParams{Card: card, ReturnURL: "javascript:alert(1)"}, true, "return_url"},
		{TokenParams{Card: card, Metadata: map[string]string{"k": strings.Repeat("v", 10000)}}, true, "metadata"},
	} {
		_, err := checkTokenParams(c.p, m, c.canAuth)
		if e := asError(t, err); e.Kind != KindInvalidRequest || !strings.HasPrefix(e.Param, c.param) {
			t.Errorf("want a refusal of %s: %+v", c.param, e)
		}
	}
	if mode, err := checkTokenParams(TokenParams{Card: card, ThreeDSecure: ThreeDSRequired}, m, true); err != nil || mode != ThreeDSRequired {
		t.Errorf("required with an authenticator: %q, %v", mode, err)
	}
}

// TestValidateSettings: the defaults pass; each out-of-range setting is
// refused naming its field.
func TestValidateSettings(t *testing.T) {
	st := DefaultSettings()
	st.FrameAncestors = nil
	if err := validateSettings(&st); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if st.FrameAncestors == nil {
		t.Error("frame_ancestors left nil: it is shown as []")
	}
	for param, mutate := range map[string]func(*store.Settings){
		"default_currency":                   func(s *store.Settings) { s.DefaultCurrency = "myr" },
		"tokenization_return_url":            func(s *store.Settings) { s.TokenizationReturnURL = "ftp://shop.example/x" },
		"tokenization_callback_url":          func(s *store.Settings) { s.TokenizationCallbackURL = "/relative" },
		"card_testing.decline_ratio":         func(s *store.Settings) { s.CardTesting.DeclineRatio = 1.5 },
		"card_testing.suffix_cards_per_hour": func(s *store.Settings) { s.CardTesting.SuffixCards = -1 },
		"frame_ancestors":                    func(s *store.Settings) { s.FrameAncestors = []string{"not an origin"} },
	} {
		st := DefaultSettings()
		mutate(&st)
		if e := asError(t, validateSettings(&st)); e.Param != param {
			t.Errorf("%s: refused as %+v", param, e)
		}
	}
}

// TestLiveFailures: a card's wrong codes count only within the window after
// the last one.
func TestLiveFailures(t *testing.T) {
	last := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &store.CardAuthFailures{Failures: 3, LastFailure: last}
	if n := liveFailures(nil, last); n != 0 {
		t.Errorf("no record: %d", n)
	}
	if n := liveFailures(f, last.Add(CardOTPFailureWindow-time.Second)); n != 3 {
		t.Errorf("inside the window: %d", n)
	}
	if n := liveFailures(f, last.Add(CardOTPFailureWindow)); n != 0 {
		t.Errorf("at the window's end: %d", n)
	}
}

// TestNewWiresEveryPeer: every per-aggregate service New builds has all its
// peers and shares one deps value; a peer left nil would only show as a
// panic on the first request that needs it.
func TestNewWiresEveryPeer(t *testing.T) {
	s := New(nil, nil, nil, nil)
	v := reflect.ValueOf(s).Elem()
	var d *deps
	for i := 0; i < v.NumField(); i++ {
		f, ft := v.Field(i), v.Type().Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() {
			t.Fatalf("Service.%s is not set", ft.Name)
		}
		svc := f.Elem()
		if svc.Kind() != reflect.Struct {
			continue
		}
		for j := 0; j < svc.NumField(); j++ {
			pf, pt := svc.Field(j), svc.Type().Field(j)
			if pf.Kind() != reflect.Pointer || pt.Type.Elem().PkgPath() != v.Type().PkgPath() {
				continue // not a peer: a cache, a lock, an outside dependency
			}
			if pf.IsNil() {
				t.Errorf("%s.%s is nil", svc.Type().Name(), pt.Name)
			}
			if pt.Name == "deps" {
				p := (*deps)(pf.UnsafePointer())
				if d == nil {
					d = p
				} else if p != d {
					t.Errorf("%s has its own deps", svc.Type().Name())
				}
			}
		}
	}
	s.Configure(Options{PublicURL: "http://127.0.0.1:9/", ChallengeTTL: time.Minute})
	if got := s.Tokens.challenges.ChallengeURL("ch_1"); got != "http://127.0.0.1:9/3ds/ch_1" {
		t.Errorf("Configure did not reach the challenges: %q", got)
	}
	if s.Sealer.challengeTTL != time.Minute {
		t.Error("Configure did not reach the sealer's deps")
	}
}

// TestNewSession: a session request gets its defaults (redirect, no saving,
// the merchant's currency, 15 minutes) and a session that charges nothing
// always saves the card; each bad field is refused by name.
func TestNewSession(t *testing.T) {
	m := &store.Merchant{ID: "m_1", Settings: DefaultSettings()}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ss, err := newSession(m, SessionParams{Amount: 1000}, now, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Mode != "redirect" || ss.SaveCard != "off" || ss.Currency != "MYR" || ss.CaptureMethod != "automatic" ||
		!ss.ExpiresAt.Equal(now.Add(DefaultSessionTTL)) || ss.Status != store.SessionOpen || !strings.HasPrefix(ss.ID, "ps_") {
		t.Errorf("defaults: %+v", ss)
	}
	if ss, err := newSession(m, SessionParams{Amount: 0, SaveCard: "optional"}, now, false, false); err != nil || ss.SaveCard != "always" {
		t.Errorf("zero amount: %v, %v", ss, err)
	}
	no := false
	if ss, err := newSession(m, SessionParams{Amount: 1, Capture: &no, ExpiresIn: i64(60)}, now, false, false); err != nil ||
		ss.CaptureMethod != "manual" || !ss.ExpiresAt.Equal(now.Add(time.Minute)) {
		t.Errorf("manual capture, 60 s: %v, %v", ss, err)
	}
	for param, p := range map[string]SessionParams{
		"mode":           {Amount: 1, Mode: "popup"},
		"amount":         {Amount: -1},
		"save_card":      {Amount: 1, SaveCard: "sometimes"},
		"three_d_secure": {Amount: 1, ThreeDSecure: ThreeDSRequired}, // no authenticator
		"expires_in":     {Amount: 1, ExpiresIn: i64(59)},
		"expires_at":     {Amount: 1, ExpiresAt: now.Add(25 * time.Hour)},
		"success_url":    {Amount: 1, SuccessURL: "mailto:x@example.com"},
		"return_url":     {Amount: 1, ForwardURLs: []string{"relative"}},
		"callback_url":   {Amount: 1, CallbackURL: "http://127.0.0.1:9/cb"}, // private, not allowed here
		"order_id":       {Amount: 1, OrderID: strings.Repeat("o", 256)},
	} {
		_, err := newSession(m, p, now, false, false)
		if err == nil {
			t.Errorf("%s: accepted", param)
			continue
		}
		if e := asError(t, err); e.Param != param {
			t.Errorf("%s: refused as %+v", param, e)
		}
	}
	if _, err := newSession(m, SessionParams{Amount: 1, CallbackURL: "http://127.0.0.1:9/cb"}, now, false, true); err != nil {
		t.Errorf("a private callback where allowed: %v", err)
	}
}
