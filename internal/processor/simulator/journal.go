package simulator

// Before the ledger lived in a Ledger, it lived in a journal file beside the data (simulator.journal):
// an append-only file of JSON lines, one per change.
//
//	{"journal":"coffer-simulator","version":1,"created":"2026-05-17T09:00:00Z"}
//	{"op":"auth","merchant":"mer_1","reference":"pay_1","auth":"sim_auth_…","auth_code":"K3JQ7A","amount":1000,"currency":"MYR","avs_result":"unavailable","cvc_result":"pass"}
//	{"op":"auth","verify":true,"merchant":"mer_1","reference":"tok_1","auth":"sim_auth_…","auth_code":"…","amount":100,"currency":"MYR","avs_result":"unavailable","cvc_result":"pass"}
//	{"op":"auth","merchant":"mer_1","reference":"pay_2","amount":1000,"currency":"MYR","avs_result":"unavailable","cvc_result":"pass","decline":{"code":"card_declined","decline_code":"insufficient_funds","message":"…"}}
//	{"op":"capture","auth":"sim_auth_…","capture":"sim_cap_…","amount":600}
//	{"op":"void","auth":"sim_auth_…"}
//	{"op":"refund","capture":"sim_cap_…","refund":"sim_ref_…","amount":250}
//
// The first line identifies the file. Each later line is one change, in the order the ledger made
// them: an authorization (approved, with its id, or declined, with the decline; a Verify's is
// "verify":true and voided by that same line), a capture, a void, a refund. Nothing in it is card
// data or derived from card data.
//
// ImportJournal moves such a file into a Ledger, once. It replays the lines through the same rules
// as live calls (rules.go), in memory, so that a file that does not describe a possible history is
// refused (ErrCorrupt) before anything is written; a partial last line, left by a crash while it
// was written, is a call that never returned and is left out. Verifications are left out too:
// they were voided when made, and nothing later can use them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	journalName    = "coffer-simulator"
	journalVersion = 1
)

var (
	// ErrCorrupt is returned by ImportJournal for a journal that is damaged other than by a torn
	// last line; nothing was imported.
	ErrCorrupt = errors.New("simulator: corrupt journal")
	// ErrNotRenamed is returned by ImportJournal for a journal it imported but could not rename:
	// the Ledger has it, and the next import of the same file recognises it and writes nothing.
	ErrNotRenamed = errors.New("simulator: journal imported but not renamed")
)

const (
	opAuth    = "auth"
	opCapture = "capture"
	opVoid    = "void"
	opRefund  = "refund"
)

// entry is one journal line. Which fields are set depends on Op; see the file's comment.
type entry struct {
	Op        string        `json:"op"`
	Verify    bool          `json:"verify,omitempty"`
	Merchant  string        `json:"merchant,omitempty"`
	Reference string        `json:"reference,omitempty"`
	Auth      string        `json:"auth,omitempty"` // authorization id
	AuthCode  string        `json:"auth_code,omitempty"`
	Capture   string        `json:"capture,omitempty"` // capture id
	Refund    string        `json:"refund,omitempty"`  // refund id
	Amount    int64         `json:"amount,omitempty"`
	Currency  string        `json:"currency,omitempty"`
	AVSResult string        `json:"avs_result,omitempty"`
	CVCResult string        `json:"cvc_result,omitempty"`
	Decline   *declineEntry `json:"decline,omitempty"`
}

type declineEntry struct {
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code,omitempty"`
	Message     string `json:"message,omitempty"`
}

type header struct {
	Journal string `json:"journal"`
	Version int    `json:"version"`
	Created string `json:"created,omitempty"`
}

// Imported is what ImportJournal did.
type Imported struct {
	// Authorizations and Refunds count the records written to the Ledger.
	Authorizations, Refunds int
	// Unreferenced counts authorizations whose reference the Ledger already held (another
	// instance's journal, or a call made since, authorized it too): they are kept, capturable by
	// id, but a repeat of the reference returns the other.
	Unreferenced int
	// Already is set when the Ledger held this journal already (a start that died before the
	// rename); nothing was written again.
	Already bool
	// RenamedTo is where the journal file is now; "" when there was no journal.
	RenamedTo string
}

// CheckJournal reads the journal at path, if there is one, as ImportJournal
// would, and reports the damage ImportJournal would refuse, writing nothing
// and renaming nothing (a restore checks the journal it put back).
func CheckJournal(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("simulator: journal: %w", err)
	}
	defer f.Close()
	if _, _, err := replay(f); err != nil {
		return fmt.Errorf("simulator: journal %s: %w", path, err)
	}
	return nil
}

// ImportJournal moves the journal at path, if there is one, into l: every authorization (with
// what became of it) and every refund, in one Update together with a record of the file's
// digest, so that a crash before the rename never imports it twice. Then it renames the file to
// path+".imported" (or .imported.N if that is taken). A missing file is not an error; a damaged
// one is ErrCorrupt, and nothing is written; one that cannot be renamed is ErrNotRenamed.
func ImportJournal(ctx context.Context, path string, l Ledger) (Imported, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return Imported{}, nil
	}
	if err != nil {
		return Imported{}, fmt.Errorf("simulator: journal: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Imported{}, fmt.Errorf("simulator: journal %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Imported{}, fmt.Errorf("simulator: journal: %w", err)
	}
	mem, digest, err := replay(f)
	f.Close()
	if err != nil {
		return Imported{}, fmt.Errorf("simulator: journal %s: %w", path, err)
	}
	var out Imported
	err = l.Update(ctx, func(b Books) error {
		out = Imported{}
		return mem.exportTo(b, digest, &out)
	})
	if err != nil {
		return Imported{}, fmt.Errorf("simulator: importing journal %s: %w", path, err)
	}
	if out.RenamedTo, err = renameAside(path); err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrNotRenamed, path, err)
	}
	return out, nil
}

// renameAside renames path to the first free path.imported[.N], and makes the rename durable.
// Another instance on the same folder may have renamed it first: that is done, too.
func renameAside(path string) (string, error) {
	for i := 0; i < 100; i++ {
		to := path + ".imported"
		if i > 0 {
			to += "." + strconv.Itoa(i)
		}
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		if err := os.Rename(path, to); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", nil
			}
			return "", err
		}
		return to, syncDir(filepath.Dir(path))
	}
	return "", errors.New("no free name to rename it to")
}

// replay reads a journal into memory through the live rules and returns it with the SHA-256 of
// its complete lines. A torn last line is left out; the file is not changed.
func replay(r io.Reader) (*memLedger, string, error) {
	mem := newMemLedger()
	verifs := newMemLedger()
	h := sha256.New()
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			// A line without its newline was being written when the process stopped; the
			// call that wrote it never returned, so it never happened.
			break
		}
		if err != nil {
			return nil, "", err
		}
		h.Write(line)
		if err := replayLine(mem, verifs, n, line[:len(line)-1]); err != nil {
			return nil, "", fmt.Errorf("%w: line %d: %v", ErrCorrupt, n, err)
		}
	}
	return mem, hex.EncodeToString(h.Sum(nil)), nil
}

func replayLine(mem, verifs *memLedger, n int, line []byte) error {
	if n == 1 {
		var h header
		if err := strictUnmarshal(line, &h); err != nil {
			return err
		}
		if h.Journal != journalName || h.Version != journalVersion {
			return fmt.Errorf("not a %s journal of version %d", journalName, journalVersion)
		}
		return nil
	}
	var e entry
	if err := strictUnmarshal(line, &e); err != nil {
		return err
	}
	if e.Op == opAuth && e.Verify {
		return verifs.Update(context.Background(), func(b Books) error { return replayAuth(b, &e) })
	}
	return mem.Update(context.Background(), func(b Books) error { return replayEntry(b, &e) })
}

// replayEntry applies one change through the rules of the live call that made it.
func replayEntry(b Books, e *entry) error {
	switch e.Op {
	case opAuth:
		return replayAuth(b, e)
	case opCapture:
		a, err := approved(b, e.Auth)
		if err != nil {
			return err
		}
		return captureAuth(b, a, e.Capture, e.Amount)
	case opVoid:
		a, err := approved(b, e.Auth)
		if err != nil {
			return err
		}
		return voidAuth(b, a)
	case opRefund:
		a, err := b.AuthByCapture(e.Capture)
		if err != nil {
			return notFound(err, "capture", e.Capture)
		}
		return refundCapture(b, a, &RefundRecord{ID: e.Refund, Reference: e.Reference, Amount: e.Amount})
	}
	return fmt.Errorf("unknown operation %q", e.Op)
}

func replayAuth(b Books, e *entry) error {
	if e.Amount < 0 || (!e.Verify && e.Amount == 0) {
		return fmt.Errorf("amount %d", e.Amount)
	}
	if err := checkCurrency(e.Currency); err != nil {
		return err
	}
	if (e.Decline == nil) == (e.Auth == "") {
		return errors.New("an authorization needs exactly one of an id and a decline")
	}
	now := time.Now().UTC()
	a := &AuthRecord{ID: e.Auth, Merchant: e.Merchant, Reference: e.Reference, Amount: e.Amount, Currency: e.Currency,
		AuthCode: e.AuthCode, AVSResult: e.AVSResult, CVCResult: e.CVCResult, State: StateAuthorized, Created: now, Updated: now}
	switch {
	case e.Decline != nil:
		if e.Decline.Code == "" {
			return errors.New("a decline needs a code")
		}
		a.ID, a.State = newID("sim_dcl_"), StateDeclined
		a.Decline = &DeclineRecord{Code: e.Decline.Code, DeclineCode: e.Decline.DeclineCode, Message: e.Decline.Message}
	case e.Verify:
		a.State = StateVoided
	}
	if err := b.InsertAuth(a); errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("authorization %q or reference %q was already authorized", e.Auth, e.Reference)
	} else if err != nil {
		return err
	}
	return nil
}

// exportTo writes everything m holds into b, unless b has this journal's digest already.
func (m *memLedger) exportTo(b Books, digest string, out *Imported) error {
	done, err := b.JournalImported(digest)
	if err != nil || done {
		out.Already = done
		return err
	}
	for _, a := range m.auths {
		c := *a
		err := b.InsertAuth(&c)
		if errors.Is(err, ErrDuplicate) && c.Reference != "" {
			c.Reference = ""
			out.Unreferenced++
			err = b.InsertAuth(&c)
		}
		if err != nil {
			return fmt.Errorf("authorization %s: %w", a.ID, err)
		}
		out.Authorizations++
	}
	for _, r := range m.refunds {
		if err := b.InsertRefund(r); err != nil {
			return fmt.Errorf("refund %s: %w", r.ID, err)
		}
		out.Refunds++
	}
	return b.RecordJournalImport(digest, time.Now().UTC())
}

// strictUnmarshal accepts exactly one JSON object with only known fields.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
