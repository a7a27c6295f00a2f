package simulator

import "sync"

// verificationsKept bounds how many verifications one generation holds:
// the simulator keeps the current generation and the one before, so this
// process remembers between verificationsKept and twice as many of its
// latest verifications, whatever its uptime (a million tokenizations must
// not hold a million records).
const verificationsKept = 50_000

// verifications is this process's memory of the verifications it made,
// in two generations. A verification is voided when it is made, so what is
// remembered serves only replays of a reference and telling a capture or
// void of a verification id apart from an unknown id; one older than both
// generations is verified afresh, as after a restart, and its id is then
// unknown. The counters keep counting dropped generations.
type verifications struct {
	mu       sync.Mutex
	cur, old *verifyBook
	retired  Stats // counters of the generations already dropped
	kept     int
}

func newVerifications(kept int) *verifications {
	return &verifications{cur: newVerifyBook(), old: newVerifyBook(), kept: kept}
}

// generations returns the current and the previous generation, starting a
// new one first when the current is full.
func (v *verifications) generations() (cur, old *verifyBook) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur.counts().Authorizations >= int64(v.kept) {
		add(&v.retired, v.old.counts())
		v.old, v.cur = v.cur, newVerifyBook()
	}
	return v.cur, v.old
}

func add(to *Stats, s Stats) {
	to.Authorizations += s.Authorizations
	to.Captures += s.Captures
	to.Voids += s.Voids
	to.Refunds += s.Refunds
	to.Verifications += s.Verifications
}

// record returns the verification already made for fresh's reference in
// either generation, or records fresh in the current one.
func (v *verifications) record(fresh *AuthRecord) (*AuthRecord, error) {
	cur, old := v.generations()
	if prev, err := old.AuthByReference(fresh.Merchant, fresh.Reference); err == nil {
		return prev, nil
	}
	a, _, err := findOrInsert(cur, fresh)
	return a, err
}

// approved reports whether id is an approved verification still remembered.
func (v *verifications) approved(id string) bool {
	cur, old := v.generations()
	for _, b := range [...]*verifyBook{cur, old} {
		if _, err := approved(b, id); err == nil {
			return true
		}
	}
	return false
}

func (v *verifications) counts() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.retired
	add(&s, v.old.counts())
	add(&s, v.cur.counts())
	return s
}

func (v *verifications) countReference(merchant, reference string) int {
	cur, old := v.generations()
	return cur.countReference(merchant, reference) + old.countReference(merchant, reference)
}
