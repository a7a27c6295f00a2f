package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
)

func openT(t *testing.T, path string) *Simulator {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func closeT(t *testing.T, s *Simulator) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustAuthorize(t *testing.T, s *Simulator, ref string, amount int64) processor.Authorization {
	t.Helper()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: card(CardSuccessVisa), Amount: amount, Currency: "MYR"})
	if err != nil {
		t.Fatalf("Authorize %s: %v", ref, err)
	}
	return a
}

func TestJournalSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)

	a := mustAuthorize(t, s, "pay_a", 1000)
	capA, err := s.Capture(ctx, a.ID, 600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refund(ctx, capA.ID, 250, ""); err != nil {
		t.Fatal(err)
	}
	b := mustAuthorize(t, s, "pay_b", 500) // left uncaptured across the restart
	c := mustAuthorize(t, s, "pay_c", 700)
	if err := s.Void(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	v, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_1", Card: card(CardSuccessVisa), Amount: 100, Currency: "MYR"})
	if err != nil {
		t.Fatal(err)
	}
	declined := processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_d", Card: card(CardInsufficientFunds), Amount: 1000, Currency: "MYR"}
	_, errD := s.Authorize(ctx, declined)
	var d1 *processor.Decline
	if !errors.As(errD, &d1) {
		t.Fatalf("decline: %v", errD)
	}
	noRef := authorize(t, s, 300) // no reference: still capturable by id after the restart
	before := s.Stats()
	// Verifications are voided at once and kept in memory only (not journaled).
	before.Authorizations, before.Voids, before.Verifications = before.Authorizations-1, before.Voids-1, 0
	closeT(t, s)

	s = openT(t, path)
	defer s.Close()
	if st := s.Stats(); st != before {
		t.Errorf("stats after replay = %+v, want %+v", st, before)
	}
	for ref, n := range map[string]int{"pay_a": 1, "pay_b": 1, "pay_c": 1, "tok_1": 0, "pay_d": 1} {
		if got := s.AuthorizationsFor("mer_1", ref); got != n {
			t.Errorf("AuthorizationsFor(%s) = %d, want %d", ref, got, n)
		}
	}

	// A repeat of every reference returns the first result and counts nothing.
	if a2 := mustAuthorize(t, s, "pay_a", 1000); a2 != a {
		t.Errorf("replayed Authorize = %+v, want %+v", a2, a)
	}
	// A verification was forgotten: the same reference verifies afresh.
	if v2, err := s.Verify(ctx, processor.VerifyRequest{MerchantID: "mer_1", Reference: "tok_1", Card: card(CardSuccessVisa), Amount: 100, Currency: "MYR"}); err != nil || !v2.Voided || v2.AuthorizationID == v.AuthorizationID {
		t.Errorf("Verify after restart = %+v %v, want a new voided verification", v2, err)
	}
	before.Authorizations, before.Voids, before.Verifications = before.Authorizations+1, before.Voids+1, 1
	var d2 *processor.Decline
	if _, err := s.Authorize(ctx, declined); !errors.As(err, &d2) || *d2 != *d1 {
		t.Errorf("replayed decline = %v, want %v", err, errD)
	}
	if n := s.AuthorizationsFor("mer_1", "pay_a"); n != 1 {
		t.Errorf("AuthorizationsFor(pay_a) after replayed repeat = %d, want 1", n)
	}
	if st := s.Stats(); st != before {
		t.Errorf("replays were counted: %+v, want %+v", st, before)
	}

	// The rules hold across the restart: a captured authorization stays captured, refunds stay
	// within what is left, a voided one stays voided, an open one can be captured once.
	if _, err := s.Capture(ctx, a.ID, 100); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("second capture after restart: %v", err)
	}
	if err := s.Void(ctx, a.ID); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("void of captured after restart: %v", err)
	}
	if _, err := s.Refund(ctx, capA.ID, 351, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("over-refund after restart: %v", err)
	}
	if _, err := s.Refund(ctx, capA.ID, 350, ""); err != nil {
		t.Errorf("refund the rest after restart: %v", err)
	}
	if _, err := s.Capture(ctx, c.ID, 700); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture of voided after restart: %v", err)
	}
	if err := s.Void(ctx, c.ID); err != nil {
		t.Errorf("repeat void after restart: %v", err)
	}
	if _, err := s.Capture(ctx, v.AuthorizationID, 100); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("capture of a forgotten verification after restart: %v", err)
	}
	if _, err := s.Capture(ctx, b.ID, 501); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture above authorized after restart: %v", err)
	}
	capB, err := s.Capture(ctx, b.ID, 500)
	if err != nil {
		t.Fatalf("capture of an authorization made before the restart: %v", err)
	}
	if _, err := s.Capture(ctx, noRef.ID, 300); err != nil {
		t.Errorf("capture of an unreferenced authorization after restart: %v", err)
	}
	closeT(t, s)

	// And once more, with changes made on both sides of the first restart.
	s = openT(t, path)
	defer s.Close()
	if _, err := s.Refund(ctx, capA.ID, 1, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("refund of a fully refunded capture after second restart: %v", err)
	}
	if _, err := s.Capture(ctx, b.ID, 500); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture made after the first restart was forgotten: %v", err)
	}
	if _, err := s.Refund(ctx, capB.ID, 500, ""); err != nil {
		t.Errorf("refund after second restart: %v", err)
	}
	got, err := s.Lookup(ctx, "mer_1", "pay_a")
	if err != nil || got.ID != a.ID || got.Captured != 600 || got.CaptureID != capA.ID || got.Refunded != 600 || got.Voided {
		t.Errorf("Lookup(pay_a) after restarts = %+v %v", got, err)
	}
	want := Stats{Authorizations: 5, Captures: 3, Voids: 1, Refunds: 3, Verifications: 0} // the verification was not journaled
	if st := s.Stats(); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestJournalFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sim.journal")
	closeT(t, openT(t, path))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %04o, want 0600", fi.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(path); err == nil {
			s.Close()
			t.Errorf("Open accepted a journal with mode %04o", mode)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	closeT(t, openT(t, path))

	if s, err := Open(dir); err == nil {
		s.Close()
		t.Error("Open accepted a directory")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Skip(err)
	}
	if s, err := Open(link); err == nil {
		s.Close()
		t.Error("Open accepted a symbolic link")
	}
}

func TestJournalTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)
	a := mustAuthorize(t, s, "pay_1", 1000)
	cp, err := s.Capture(ctx, a.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	closeT(t, s)
	fi, _ := os.Stat(path)
	size := fi.Size()

	for _, torn := range []string{
		`{"op":"refund","capture":"` + cp.ID + `","refund":"sim_ref_x","amo`,
		`{"op":"refund","capture":"` + cp.ID + `","refund":"sim_ref_x","amount":1000}`, // complete but for its newline
		"\x00\x00\x00\x00",
	} {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(torn)
		f.Close()

		s = openT(t, path)
		if fi, _ := os.Stat(path); fi.Size() != size {
			t.Errorf("torn line %q: file is %d bytes after Open, want %d", torn, fi.Size(), size)
		}
		// The torn refund never happened: the whole capture can still be refunded, once.
		if _, err := s.Refund(ctx, cp.ID, 1000, ""); err != nil {
			t.Errorf("torn line %q: refund: %v", torn, err)
		}
		closeT(t, s)
		s = openT(t, path) // the line written after the cut is whole
		if _, err := s.Refund(ctx, cp.ID, 1, ""); !errors.Is(err, processor.ErrInvalidState) {
			t.Errorf("torn line %q: refund after reopen: %v", torn, err)
		}
		closeT(t, s)
		// Put the refund back out of the file for the next case.
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}

	// A crash inside the header of a new journal leaves a usable, empty one.
	path2 := filepath.Join(t.TempDir(), "new.journal")
	if err := os.WriteFile(path2, []byte(`{"journal":"coffer-sim`), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path2)
	mustAuthorize(t, s, "pay_1", 1)
	closeT(t, s)
	s = openT(t, path2)
	if n := s.AuthorizationsFor("mer_1", "pay_1"); n != 1 {
		t.Errorf("journal recreated after a torn header: AuthorizationsFor = %d", n)
	}
	closeT(t, s)
}

func TestJournalCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)
	a := mustAuthorize(t, s, "pay_1", 1000)
	cp, err := s.Capture(ctx, a.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	closeT(t, s)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	header, authLine, capLine := lines[0], lines[1], lines[2]
	refund := func(id string, amount int) string {
		return fmt.Sprintf(`{"op":"refund","capture":%q,"refund":"sim_ref_x","amount":%d}`+"\n", id, amount)
	}

	for name, content := range map[string]string{
		"garbage in the middle":     header + "not json\n" + authLine + capLine,
		"garbage last line":         header + authLine + capLine + "{\"op\":\n",
		"empty line":                header + authLine + "\n" + capLine,
		"unknown operation":         header + authLine + capLine + `{"op":"chargeback","capture":"` + cp.ID + `"}` + "\n",
		"unknown field":             header + authLine + capLine + `{"op":"void","auth":"x","pan":"4242"}` + "\n",
		"trailing data":             header + authLine + strings.TrimSuffix(capLine, "\n") + " {}\n",
		"refund above capture":      header + authLine + capLine + refund(cp.ID, 1001),
		"refund of unknown capture": header + authLine + capLine + refund("sim_cap_nope", 1),
		"capture before auth":       header + capLine + authLine,
		"second capture":            header + authLine + capLine + capLine,
		"duplicate reference":       header + authLine + authLine,
		"no header":                 authLine + capLine,
		"other version":             strings.Replace(header, `"version":1`, `"version":2`, 1) + authLine,
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// TestJournalHoldsNoCardData runs every test card, with CVCs, through every call and then scans
// the journal's bytes for the PANs, their middle digits and the CVCs.
func TestJournalHoldsNoCardData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)
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
			if _, err := s.Refund(ctx, cp.ID, 400, ""); err != nil {
				t.Fatal(err)
			}
		}
		c.CVC = wrongCVC
		s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("wrong_", i), Card: c, Amount: 1000, Currency: "USD"})
	}
	closeT(t, s)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"decline_code":"incorrect_cvc"`)) || !bytes.Contains(data, []byte(`"op":"refund"`)) {
		t.Fatalf("the journal does not hold what the test did:\n%s", data)
	}
	for _, tc := range cardTable {
		for _, needle := range []string{tc.number, tc.number[6 : len(tc.number)-4]} {
			if bytes.Contains(data, []byte(needle)) {
				t.Errorf("journal holds %q of card %s", needle, tc.number)
			}
		}
	}
	for _, needle := range []string{cvc, wrongCVC, "50450", "Abu"} {
		if bytes.Contains(data, []byte(needle)) {
			t.Errorf("journal holds %q", needle)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode: %v %v", fi.Mode(), err)
	}
}

func TestJournalConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)
	const workers = 32
	var refunded atomic.Int64
	ids := make([]string, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			ref := fmt.Sprint("pay_", i%(workers/2)) // two workers per reference
			a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: card(CardSuccessVisa), Amount: 1000, Currency: "MYR"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = a.ID
			cp, err := s.Capture(ctx, a.ID, 900)
			if errors.Is(err, processor.ErrInvalidState) {
				return // the other worker of this reference captured it
			}
			if err != nil {
				t.Error(err)
				return
			}
			for range 3 {
				if _, err := s.Refund(ctx, cp.ID, 100, ""); err != nil {
					t.Error(err)
					return
				}
				refunded.Add(100)
			}
		})
	}
	wg.Wait()
	before := s.Stats()
	s.j.mu.Lock()
	syncs, lines := s.j.syncs, s.j.appended
	s.j.mu.Unlock()
	t.Logf("%d journal lines, %d fsyncs", lines, syncs)
	if syncs > int64(lines) {
		t.Errorf("%d fsyncs for %d lines", syncs, lines)
	}
	want := Stats{Authorizations: workers / 2, Captures: workers / 2, Refunds: 3 * workers / 2}
	if before != want || refunded.Load() != 300*workers/2 {
		t.Errorf("stats = %+v (refunded %d), want %+v", before, refunded.Load(), want)
	}
	closeT(t, s)

	s = openT(t, path)
	defer s.Close()
	if st := s.Stats(); st != before {
		t.Errorf("stats after replay = %+v, want %+v", st, before)
	}
	for i := range workers {
		ref := fmt.Sprint("pay_", i%(workers/2))
		a, err := s.Lookup(ctx, "mer_1", ref)
		if err != nil || a.ID != ids[i] || a.Captured != 900 || a.Refunded != 300 {
			t.Errorf("Lookup(%s) = %+v %v", ref, a, err)
		}
		if n := s.AuthorizationsFor("mer_1", ref); n != 1 {
			t.Errorf("AuthorizationsFor(%s) = %d", ref, n)
		}
	}
}

// failingFile writes but cannot fsync, like a disk that has gone away.
type failingFile struct{ *os.File }

func (failingFile) Sync() error { return errors.New("injected fsync failure") }

func TestJournalFailureIsSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.journal")
	s := openT(t, path)
	a := mustAuthorize(t, s, "pay_1", 1000)
	real := s.j.f.(*os.File)
	s.j.f = failingFile{real}

	if _, err := s.Capture(ctx, a.ID, 1000); err == nil || errors.Is(err, processor.ErrInvalidState) {
		t.Fatalf("capture with a failing journal: %v", err)
	}
	// Memory says captured, the disk may not: nothing may be answered from it any more.
	if _, err := s.Lookup(ctx, "mer_1", "pay_1"); err == nil {
		t.Error("Lookup succeeded after a journal failure")
	}
	if err := s.Void(ctx, a.ID); err == nil || errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("Void after a journal failure: %v", err)
	}
	if _, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_2", Card: card(CardSuccessVisa), Amount: 1, Currency: "MYR"}); err == nil {
		t.Error("Authorize succeeded after a journal failure")
	}
	if err := s.Close(); err == nil {
		t.Error("Close hid the journal failure")
	}
	real.Close()

	// The capture's outcome was unknown to its caller; Lookup after reopening tells.
	s = openT(t, path)
	defer s.Close()
	got, err := s.Lookup(ctx, "mer_1", "pay_1")
	if err != nil || got.ID != a.ID {
		t.Fatalf("Lookup after reopen: %+v %v", got, err)
	}
	t.Logf("capture whose fsync failed: captured=%d (the write itself reached the file)", got.Captured)
	if s.AuthorizationsFor("mer_1", "pay_2") != 0 {
		t.Error("an Authorize refused after the failure was recorded")
	}
}

func TestClose(t *testing.T) {
	if err := New().Close(); err != nil {
		t.Errorf("closing an in-memory simulator: %v", err)
	}
	s := openT(t, filepath.Join(t.TempDir(), "sim.journal"))
	a := mustAuthorize(t, s, "pay_1", 1000)
	closeT(t, s)
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
}
