package simulator

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/processor"
)

const journalHeader = `{"journal":"coffer-simulator","version":1,"created":"2026-05-17T09:00:00Z"}` + "\n"

func jline(t *testing.T, e entry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// oldJournal is what an older Coffer left in its data folder: pay_a captured 600 and refunded
// 250 + 100 (the second under a reference), pay_b open, pay_c voided, a verification, a decline,
// and an authorization without a reference.
func oldJournal(t *testing.T) string {
	ok := func(ref, id string, amount int64) entry {
		return entry{Op: opAuth, Merchant: "mer_1", Reference: ref, Auth: id, AuthCode: "K3JQ7A", Amount: amount, Currency: "MYR",
			AVSResult: "unavailable", CVCResult: "pass"}
	}
	noRef := ok("", "sim_auth_n", 300)
	noRef.Merchant = "m"
	verify := ok("tok_1", "sim_auth_v", 100)
	verify.Verify = true
	return journalHeader + jline(t, ok("pay_a", "sim_auth_a", 1000)) +
		jline(t, entry{Op: opCapture, Auth: "sim_auth_a", Capture: "sim_cap_a", Amount: 600}) +
		jline(t, entry{Op: opRefund, Capture: "sim_cap_a", Refund: "sim_ref_1", Amount: 250}) +
		jline(t, ok("pay_b", "sim_auth_b", 500)) +
		jline(t, entry{Op: opRefund, Capture: "sim_cap_a", Refund: "sim_ref_2", Reference: "re_x", Amount: 100}) +
		jline(t, ok("pay_c", "sim_auth_c", 700)) + jline(t, entry{Op: opVoid, Auth: "sim_auth_c"}) +
		jline(t, verify) +
		jline(t, entry{Op: opAuth, Merchant: "mer_1", Reference: "pay_d", Amount: 1000, Currency: "MYR", AVSResult: "unavailable", CVCResult: "pass",
			Decline: &declineEntry{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}}) +
		jline(t, noRef)
}

// An older version's journal is moved into the books once: every record with what became of it,
// the replays of its references, and the rules; the file is renamed aside.
func TestImportJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "simulator.journal")
	content := oldJournal(t)
	writeFile(t, path, content)
	books := newMemLedger()
	got, err := ImportJournal(ctx, path, books)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Imported{Authorizations: 5, Refunds: 2, RenamedTo: path + ".imported"}); got != want {
		t.Errorf("ImportJournal = %+v, want %+v", got, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the journal is still there: %v", err)
	}
	if b, err := os.ReadFile(path + ".imported"); err != nil || string(b) != content {
		t.Errorf("the renamed journal: %v (changed: %v)", err, string(b) != content)
	}

	s := OverLedger(books)
	want := Stats{Authorizations: 5, Captures: 1, Voids: 1, Refunds: 2}
	if st := s.Stats(); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	a, err := s.Lookup(ctx, "mer_1", "pay_a")
	if err != nil || a.ID != "sim_auth_a" || a.AuthCode != "K3JQ7A" || a.Captured != 600 || a.CaptureID != "sim_cap_a" || a.Refunded != 350 {
		t.Errorf("Lookup(pay_a) = %+v %v", a, err)
	}
	if a2 := mustAuthorize(t, s, "pay_a", 1000); a2.ID != "sim_auth_a" || a2.AuthCode != "K3JQ7A" {
		t.Errorf("replayed Authorize = %+v", a2)
	}
	var d *processor.Decline
	if _, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: "pay_d", Card: card(CardSuccessVisa), Amount: 1000, Currency: "MYR"}); !errors.As(err, &d) || d.DeclineCode != "insufficient_funds" || d.Message == "" {
		t.Errorf("replayed decline = %v", err)
	}
	if r, err := s.Refund(ctx, "sim_cap_a", 100, "re_x"); err != nil || r.ID != "sim_ref_2" {
		t.Errorf("replayed refund = %+v %v", r, err)
	}
	if _, err := s.Refund(ctx, "sim_cap_a", 251, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("over-refund: %v", err)
	}
	if _, err := s.Capture(ctx, "sim_auth_c", 700); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("capture of the voided: %v", err)
	}
	if _, err := s.Capture(ctx, "sim_auth_v", 100); !errors.Is(err, processor.ErrNotFound) {
		t.Errorf("capture of a verification: %v", err)
	}
	if _, err := s.Capture(ctx, "sim_auth_b", 500); err != nil {
		t.Errorf("capture of the open one: %v", err)
	}
	if _, err := s.Capture(ctx, "sim_auth_n", 300); err != nil {
		t.Errorf("capture of the unreferenced one: %v", err)
	}
	if n := s.AuthorizationsFor("mer_1", "tok_1"); n != 0 {
		t.Errorf("the verification was imported: %d", n)
	}

	// The same file again (a start that died before its rename): nothing is doubled.
	writeFile(t, path, content)
	before := s.Stats()
	got, err = ImportJournal(ctx, path, books)
	if err != nil || !got.Already || got.Authorizations != 0 || got.RenamedTo != path+".imported.1" {
		t.Errorf("second import = %+v %v", got, err)
	}
	if st := s.Stats(); st != before {
		t.Errorf("second import changed the books: %+v, want %+v", st, before)
	}
	// No journal: nothing to do.
	if got, err := ImportJournal(ctx, path, books); err != nil || got != (Imported{}) {
		t.Errorf("no journal: %+v %v", got, err)
	}
}

// A reference the books hold already (another instance's journal, or a call made since) stays
// theirs; the journal's authorization is imported without it, still capturable by id.
func TestImportJournalMerges(t *testing.T) {
	books := newMemLedger()
	s := OverLedger(books)
	live := mustAuthorize(t, s, "pay_a", 1000)
	path := filepath.Join(t.TempDir(), "simulator.journal")
	writeFile(t, path, oldJournal(t))
	got, err := ImportJournal(ctx, path, books)
	if err != nil || got.Authorizations != 5 || got.Unreferenced != 1 {
		t.Fatalf("ImportJournal = %+v %v", got, err)
	}
	if a, err := s.Lookup(ctx, "mer_1", "pay_a"); err != nil || a.ID != live.ID {
		t.Errorf("Lookup(pay_a) = %+v %v, want the live %s", a, err, live.ID)
	}
	if _, err := s.Refund(ctx, "sim_cap_a", 250, ""); err != nil {
		t.Errorf("refund of the imported capture: %v", err)
	}
}

// A crash while a line was written leaves it partial: that call never returned, so it never
// happened, and the rest imports. The file is renamed as it was.
func TestImportJournalTornLastLine(t *testing.T) {
	good := journalHeader + jline(t, entry{Op: opAuth, Merchant: "mer_1", Reference: "pay_1", Auth: "sim_auth_1", AuthCode: "ABCDEF",
		Amount: 1000, Currency: "MYR", AVSResult: "unavailable", CVCResult: "pass"}) +
		jline(t, entry{Op: opCapture, Auth: "sim_auth_1", Capture: "sim_cap_1", Amount: 1000})
	for _, torn := range []string{
		`{"op":"refund","capture":"sim_cap_1","refund":"sim_ref_x","amo`,
		`{"op":"refund","capture":"sim_cap_1","refund":"sim_ref_x","amount":1000}`, // complete but for its newline
		"\x00\x00\x00\x00",
	} {
		path := filepath.Join(t.TempDir(), "simulator.journal")
		writeFile(t, path, good+torn)
		books := newMemLedger()
		if got, err := ImportJournal(ctx, path, books); err != nil || got.Authorizations != 1 || got.Refunds != 0 {
			t.Errorf("torn line %q: %+v %v", torn, got, err)
			continue
		}
		s := OverLedger(books)
		// The torn refund never happened: the whole capture can still be refunded, once.
		if _, err := s.Refund(ctx, "sim_cap_1", 1000, ""); err != nil {
			t.Errorf("torn line %q: refund: %v", torn, err)
		}
		if _, err := s.Refund(ctx, "sim_cap_1", 1, ""); !errors.Is(err, processor.ErrInvalidState) {
			t.Errorf("torn line %q: second refund: %v", torn, err)
		}
		if b, _ := os.ReadFile(path + ".imported"); string(b) != good+torn {
			t.Errorf("torn line %q: the renamed file was changed", torn)
		}
	}

	// A crash inside the header of a new journal leaves nothing to import.
	path := filepath.Join(t.TempDir(), "simulator.journal")
	writeFile(t, path, `{"journal":"coffer-sim`)
	books := newMemLedger()
	if got, err := ImportJournal(ctx, path, books); err != nil || got.Authorizations != 0 || got.RenamedTo == "" {
		t.Errorf("torn header: %+v %v", got, err)
	}
}

// Any other damage is refused as ErrCorrupt: nothing is imported and the file stays where it is.
func TestImportJournalCorrupt(t *testing.T) {
	lines := strings.SplitAfter(journalHeader+jline(t, entry{Op: opAuth, Merchant: "mer_1", Reference: "pay_1", Auth: "sim_auth_1",
		AuthCode: "ABCDEF", Amount: 1000, Currency: "MYR", AVSResult: "unavailable", CVCResult: "pass"})+
		jline(t, entry{Op: opCapture, Auth: "sim_auth_1", Capture: "sim_cap_1", Amount: 1000}), "\n")
	header, authLine, capLine := lines[0], lines[1], lines[2]
	refund := func(id string, amount int64) string {
		return jline(t, entry{Op: opRefund, Capture: id, Refund: "sim_ref_x", Amount: amount})
	}
	for name, content := range map[string]string{
		"garbage in the middle":     header + "not json\n" + authLine + capLine,
		"garbage last line":         header + authLine + capLine + "{\"op\":\n",
		"empty line":                header + authLine + "\n" + capLine,
		"unknown operation":         header + authLine + capLine + `{"op":"chargeback","capture":"sim_cap_1"}` + "\n",
		"unknown field":             header + authLine + capLine + `{"op":"void","auth":"x","pan":"4242"}` + "\n",
		"trailing data":             header + authLine + strings.TrimSuffix(capLine, "\n") + " {}\n",
		"refund above capture":      header + authLine + capLine + refund("sim_cap_1", 1001),
		"refund of unknown capture": header + authLine + capLine + refund("sim_cap_nope", 1),
		"capture before auth":       header + capLine + authLine,
		"second capture":            header + authLine + capLine + capLine,
		"duplicate reference":       header + authLine + authLine,
		"void of voided":            header + authLine + `{"op":"void","auth":"sim_auth_1"}` + "\n" + `{"op":"void","auth":"sim_auth_1"}` + "\n",
		"no header":                 authLine + capLine,
		"other version":             strings.Replace(header, `"version":1`, `"version":2`, 1) + authLine,
	} {
		path := filepath.Join(t.TempDir(), "simulator.journal")
		writeFile(t, path, content)
		books := newMemLedger()
		_, err := ImportJournal(ctx, path, books)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		if st := OverLedger(books).Stats(); st != (Stats{}) {
			t.Errorf("%s: imported %+v", name, st)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the journal was moved: %v", name, err)
		}
	}
}

func TestImportJournalNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ImportJournal(ctx, dir, newMemLedger()); err == nil {
		t.Error("a directory was imported")
	}
	target := filepath.Join(dir, "real")
	writeFile(t, target, oldJournal(t))
	link := filepath.Join(dir, "simulator.journal")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	if _, err := ImportJournal(ctx, link, newMemLedger()); err == nil {
		t.Error("a symbolic link was imported")
	}
}
