package simulator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

func mustAuthorize(t *testing.T, s *Simulator, ref string, amount int64) processor.Authorization {
	t.Helper()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: card(CardSuccessVisa), Amount: amount, Currency: "MYR"})
	if err != nil {
		t.Fatalf("Authorize %s: %v", ref, err)
	}
	return a
}

var errInjected = errors.New("injected ledger failure")

// flakyLedger is a memory Ledger whose Updates fail on demand: before fn's writes are kept
// (failing: nothing happened) or after (lost: they were kept, but the caller was not told, as
// when a commit's answer is lost).
type flakyLedger struct {
	*memLedger
	failing, lost bool
}

func (f *flakyLedger) Update(ctx context.Context, fn func(Books) error) error {
	err := f.memLedger.Update(ctx, func(b Books) error {
		if err := fn(b); err != nil {
			return err
		}
		if f.failing {
			return errInjected
		}
		return nil
	})
	if err == nil && f.lost {
		return errInjected
	}
	return err
}

// A call whose Update fails has no effect and says so with an error that is neither success nor
// a refusal; a call whose answer was lost did happen, and Lookup tells. Nothing is half-recorded.
func TestLedgerFailure(t *testing.T) {
	books := &flakyLedger{memLedger: newMemLedger()}
	s := OverLedger(books)
	a := mustAuthorize(t, s, "pay_1", 1000)

	books.failing = true
	if _, err := s.Capture(ctx, a.ID, 1000); !errors.Is(err, errInjected) {
		t.Fatalf("capture with a failing ledger: %v", err)
	}
	if _, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_2", Card: card(CardSuccessVisa), Amount: 1, Currency: "MYR"}); !errors.Is(err, errInjected) {
		t.Errorf("Authorize with a failing ledger: %v", err)
	}
	books.failing = false
	got, err := s.Lookup(ctx, "mer_1", "pay_1")
	if err != nil || got.ID != a.ID || got.Captured != 0 || got.CaptureID != "" {
		t.Fatalf("Lookup after a failed capture: %+v %v", got, err)
	}
	if s.AuthorizationsFor("mer_1", "pay_2") != 0 || s.Stats() != (Stats{Authorizations: 1}) {
		t.Errorf("a failed call was recorded: %+v, pay_2 %d", s.Stats(), s.AuthorizationsFor("mer_1", "pay_2"))
	}

	books.lost = true
	if _, err := s.Capture(ctx, a.ID, 600); !errors.Is(err, errInjected) {
		t.Fatalf("capture whose answer was lost: %v", err)
	}
	books.lost = false
	got, err = s.Lookup(ctx, "mer_1", "pay_1")
	if err != nil || got.Captured != 600 || got.CaptureID == "" {
		t.Fatalf("Lookup after a capture whose answer was lost: %+v %v", got, err)
	}
	if _, err := s.Capture(ctx, a.ID, 600); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capturing again: %v", err)
	}
}

// A Ledger may run an Update's fn more than once (PostgreSQL retries a transaction it aborted):
// each run starts afresh, so a retried call records exactly one change and answers with it.
func TestUpdateRunTwice(t *testing.T) {
	s := OverLedger(twiceLedger{newMemLedger()})
	a := mustAuthorize(t, s, "pay_1", 1000)
	c, err := s.Capture(ctx, a.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Refund(ctx, c.ID, 300, "re_1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup(ctx, "mer_1", "pay_1")
	if err != nil || got.CaptureID != c.ID || got.Refunded != 300 || s.Stats() != (Stats{Authorizations: 1, Captures: 1, Refunds: 1}) {
		t.Errorf("after retried updates: %+v %v, stats %+v", got, err, s.Stats())
	}
	if r2, err := s.LookupRefund(ctx, c.ID, "re_1"); err != nil || r2.ID != r.ID {
		t.Errorf("LookupRefund = %+v %v, want %s", r2, err, r.ID)
	}
}

// twiceLedger runs every Update's fn, throws its writes away, and runs it again.
type twiceLedger struct{ *memLedger }

func (l twiceLedger) Update(ctx context.Context, fn func(Books) error) error {
	retry := errors.New("retry")
	l.memLedger.Update(ctx, func(b Books) error {
		fn(b)
		return retry
	})
	return l.memLedger.Update(ctx, fn)
}

func TestClose(t *testing.T) {
	books := NewMemoryLedger()
	s := OverLedger(books)
	a := mustAuthorize(t, s, "pay_1", 1000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_1", Card: card(CardSuccessVisa), Amount: 1000, Currency: "MYR"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Authorize after Close: %v", err)
	}
	if _, err := s.Capture(ctx, a.ID, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Capture after Close: %v", err)
	}
	if err := s.Void(ctx, a.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("Void after Close: %v", err)
	}
	if _, err := s.Lookup(ctx, "mer_1", "pay_1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close: %v", err)
	}
	if s.Stats().Authorizations != 1 || s.AuthorizationsFor("mer_1", "pay_1") != 1 {
		t.Errorf("Stats after Close: %+v", s.Stats())
	}
	// The books were not closed with it: another simulator over them carries on.
	if _, err := OverLedger(books).Capture(ctx, a.ID, 1000); err != nil {
		t.Errorf("capture through another simulator: %v", err)
	}
}

// TestBooksHoldNoCardData runs every test card, with CVCs, through every call and then scans
// every record the books hold for the PANs, their middle digits and the CVCs.
func TestBooksHoldNoCardData(t *testing.T) {
	books := newMemLedger()
	s := OverLedger(books)
	const cvc, wrongCVC = "9818", "989"
	for i, tc := range cardTable {
		c := card(tc.number)
		c.CVC = cvc
		c.PostalCode = "50450"
		if _, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: fmt.Sprint("tok_", i), Card: c, Amount: 100, Currency: "USD"}); err != nil {
			var d *processor.Decline
			if !errors.As(err, &d) {
				t.Fatal(err)
			}
		}
		a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("pay_", i), Card: c, Amount: 1000, Currency: "USD"})
		if err == nil {
			cp, err := s.Capture(ctx, a.ID, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Refund(ctx, cp.ID, 400, "re"); err != nil {
				t.Fatal(err)
			}
		}
		c.CVC = wrongCVC
		s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("wrong_", i), Card: c, Amount: 1000, Currency: "USD"})
	}
	var dump strings.Builder
	// Times left out: their digits could match a CVC by chance.
	dumpAuth := func(a *AuthRecord) {
		c := *a
		c.Created, c.Updated = time.Time{}, time.Time{}
		fmt.Fprintf(&dump, "%+v %+v\n", c, a.Decline)
	}
	for _, a := range books.auths {
		dumpAuth(a)
	}
	for _, r := range books.refunds {
		c := *r
		c.Created = time.Time{}
		fmt.Fprintf(&dump, "%+v\n", c)
	}
	s.verifs.cur.each(dumpAuth)
	s.verifs.old.each(dumpAuth)
	data := dump.String()
	if !strings.Contains(data, "incorrect_cvc") || len(books.refunds) == 0 {
		t.Fatalf("the books do not hold what the test did:\n%s", data)
	}
	for _, tc := range cardTable {
		for _, needle := range []string{tc.number, tc.number[6 : len(tc.number)-4]} {
			if strings.Contains(data, needle) {
				t.Errorf("the books hold %q of card %s", needle, tc.number)
			}
		}
	}
	// A short value is looked for as a value of its own: ids and auth codes are random letters
	// and digits, and "989" turned up inside one by chance.
	for _, needle := range []string{cvc, wrongCVC, "50450", "Abu"} {
		if regexp.MustCompile(`(^|[^0-9A-Za-z])` + regexp.QuoteMeta(needle) + `($|[^0-9A-Za-z])`).MatchString(data) {
			t.Errorf("the books hold %q", needle)
		}
	}
}

// TestVerificationsStayBounded: the process remembers at most two
// generations of verifications, whatever their number; the counters keep
// counting, a recent reference is still replayed, a recent verification id
// is still told from an unknown one, and an old one is verified afresh.
func TestVerificationsStayBounded(t *testing.T) {
	ctx := context.Background()
	s := New()
	s.verifs = newVerifications(10)
	c := processor.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"}
	var first, last processor.Verification
	for i := range 95 {
		v, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: fmt.Sprint("tok_", i), Card: c, Amount: 100, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = v
		}
		last = v
	}
	held := s.verifs.cur.counts().Authorizations + s.verifs.old.counts().Authorizations
	if held > 20 {
		t.Errorf("%d verifications held for a bound of 2×10", held)
	}
	if st := s.Stats(); st.Verifications != 95 {
		t.Errorf("counted %d verifications, want 95", st.Verifications)
	}
	again, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "tok_94", Card: c, Amount: 100, Currency: "USD"})
	if err != nil || again.AuthorizationID != last.AuthorizationID {
		t.Errorf("a recent reference was not replayed: %v %v", again.AuthorizationID, err)
	}
	if err := s.Void(ctx, last.AuthorizationID); err != nil {
		t.Errorf("void of a recent verification: %v", err)
	}
	if err := s.Void(ctx, first.AuthorizationID); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("void of a forgotten verification: %v, want not found", err)
	}
	fresh, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: "tok_0", Card: c, Amount: 100, Currency: "USD"})
	if err != nil || fresh.AuthorizationID == first.AuthorizationID {
		t.Errorf("a forgotten reference was not verified afresh: %v %v", fresh.AuthorizationID, err)
	}
}
