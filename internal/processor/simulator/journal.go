package simulator

// The journal is the simulator's durable ledger: an append-only file of JSON lines, one per change.
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
// "verify":true and voided by that same line), a capture, a void, a refund. Replaying the lines
// through the same code that made them rebuilds the ledger, the idempotency records and the
// counters.
//
// Nothing in it is card data or derived from card data: no PAN, no part or hash of one, no CVC,
// no expiry, no holder. The results it keeps (auth code, AVS and CVC results, decline codes) are
// the issuer's answers, not the card's contents. It needs no card fingerprint because nothing the
// simulator does after a restart depends on which card an authorization was for: the test cards'
// behaviour comes from the number presented on each call (and from the CVC: all zeros is wrong).
//
// Durability: a line is written and fsynced before the call that made it returns. A crash can
// therefore leave only a partial last line, written by a call that never returned; Open cuts it
// off. Any other damage (a bad line with lines after it, a complete line that does not parse or
// describes an impossible change) is reported as ErrCorrupt rather than guessed around.
//
// One process at a time: the file is not locked, so two simulators must not open the same path.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	journalName    = "coffer-simulator"
	journalVersion = 1
)

var (
	// ErrClosed is returned by every call on a simulator whose journal has been closed.
	ErrClosed = errors.New("simulator: closed")
	// ErrCorrupt is returned by Open for a journal that is damaged other than by a torn last line.
	ErrCorrupt = errors.New("simulator: corrupt journal")
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

// syncFile is what the journal needs of its file; tests substitute one that fails.
type syncFile interface {
	io.Writer
	Sync() error
	Close() error
}

// journal batches appends into group commits. append, called under the simulator's lock, only
// adds an encoded line to buf and numbers it; wait, called after that lock is released, makes
// sure the file is fsynced up to a number. The first waiter that finds no flush under way takes
// everything buffered so far, writes and fsyncs it without holding mu, and wakes the rest; lines
// appended meanwhile go out with the next flush. So n concurrent calls cost about two fsyncs,
// not n. Lock order: Simulator.mu, then journal.mu; no I/O happens under either.
//
// Any write or fsync failure is sticky: after it every call fails, because memory may hold changes
// the file does not, and the only safe way back is to reopen and replay what is really there.
type journal struct {
	f syncFile

	mu       sync.Mutex
	cond     sync.Cond
	buf      []byte // lines appended but not yet handed to a flush
	spare    []byte // a drained buffer, reused
	appended uint64 // number of the last line appended
	synced   uint64 // number of the last line known durable
	flushing bool
	closing  bool
	err      error
	syncs    int64 // fsyncs done, for tests
}

func newJournal(f syncFile) *journal {
	j := &journal{f: f}
	j.cond.L = &j.mu
	return j
}

// append buffers e. The caller holds the simulator's lock, which orders the lines.
func (j *journal) append(e *entry) error {
	if j == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("simulator: journal: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.closing {
		return ErrClosed
	}
	j.buf = append(append(j.buf, line...), '\n')
	j.appended++
	return nil
}

// usable reports why the journal can take no more calls: closed, or broken by a failed write.
func (j *journal) usable() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.closing {
		return ErrClosed
	}
	return nil
}

// mark is the number of the last line appended: what a caller has seen under the simulator's
// lock is durable once synced reaches it.
func (j *journal) mark() uint64 {
	if j == nil {
		return 0
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appended
}

// wait returns once line seq is durable, or with the journal's error.
func (j *journal) wait(seq uint64) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		if j.synced >= seq {
			return nil
		}
		if j.err != nil {
			return j.err
		}
		if j.flushing {
			j.cond.Wait()
			continue
		}
		j.flushing = true
		buf, upto := j.buf, j.appended
		j.buf, j.spare = j.spare, nil
		j.mu.Unlock()
		_, err := j.f.Write(buf)
		if err == nil {
			err = datasync(j.f)
		}
		j.mu.Lock()
		j.flushing = false
		j.syncs++
		if err != nil {
			j.err = fmt.Errorf("simulator: journal: %w", err)
		} else {
			j.synced = upto
			j.spare = buf[:0]
		}
		j.cond.Broadcast()
	}
}

// close refuses new lines, flushes those already appended, and closes the file.
func (j *journal) close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	if j.closing {
		j.mu.Unlock()
		return nil
	}
	j.closing = true
	last := j.appended
	j.mu.Unlock()

	err := j.wait(last)
	j.mu.Lock()
	if j.err == nil {
		j.err = ErrClosed
	}
	j.mu.Unlock()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open returns a simulator whose ledger is kept in the journal at path, creating it (mode 0600)
// if it does not exist and replaying it if it does. It refuses a file that group or others may
// access, and anything but a regular file. The caller must Close it.
//
// After Open the ledger, the idempotency records and the counters are what they were when the
// journal was last written.
func Open(path string) (*Simulator, error) {
	f, created, err := openJournalFile(path)
	if err != nil {
		return nil, err
	}
	s := New()
	if err := s.replay(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("simulator: journal %s: %w", path, err)
	}
	if created {
		// Make the new file's name durable too, not only its contents.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("simulator: journal %s: %w", path, err)
		}
	}
	s.j = newJournal(f)
	return s, nil
}

func openJournalFile(path string) (f *os.File, created bool, err error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("simulator: journal %s is not a regular file", path)
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		created = true
	} else if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	}
	if err != nil {
		return nil, false, fmt.Errorf("simulator: journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("simulator: journal: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, fmt.Errorf("simulator: journal %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		f.Close()
		return nil, false, fmt.Errorf("simulator: journal %s is accessible to group or others (mode %04o); it must be 0600", path, perm)
	}
	return f, created, nil
}

// replay rebuilds the ledger from f, cuts off a torn last line, and writes the header into a
// file that has none yet (new, or torn inside its first line).
func (s *Simulator) replay(f *os.File) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := bufio.NewReaderSize(f, 64<<10)
	var good int64 // offset just past the last complete line
	n := 0
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				// A line without its newline was being written when the process stopped; the call
				// that wrote it never returned, so it never happened.
				if err := f.Truncate(good); err != nil {
					return err
				}
				if err := f.Sync(); err != nil {
					return err
				}
			}
			break
		}
		if err != nil {
			return err
		}
		n++
		good += int64(len(line))
		if err := s.replayLine(n, line[:len(line)-1]); err != nil {
			return err
		}
	}
	if n > 0 {
		return nil
	}
	h, err := json.Marshal(header{Journal: journalName, Version: journalVersion, Created: time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	if _, err := f.Write(append(h, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

func (s *Simulator) replayLine(n int, line []byte) error {
	corrupt := func(err error) error { return fmt.Errorf("%w: line %d: %v", ErrCorrupt, n, err) }
	if n == 1 {
		var h header
		if err := strictUnmarshal(line, &h); err != nil {
			return corrupt(err)
		}
		if h.Journal != journalName || h.Version != journalVersion {
			return corrupt(fmt.Errorf("not a %s journal of version %d", journalName, journalVersion))
		}
		return nil
	}
	var e entry
	if err := strictUnmarshal(line, &e); err != nil {
		return corrupt(err)
	}
	if err := s.check(&e); err != nil {
		return corrupt(err)
	}
	s.apply(&e)
	return nil
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
