package sqlstore

// EventSeqs remembers the last event number of each merchant for the one
// writer of a database (the SQLite writer goroutine), so numbering an event
// need not read the merchant's MAX(seq) inside every insert: on the single
// writer that read, and the RETURNING row it made the insert return, were a
// large share of an event's cost.
//
// It may only ever be behind or forgotten, never ahead of what the database
// holds: numbers taken by the open transaction are pending until Commit, and
// the writer calls Forget whenever anything it numbered may have been rolled
// back (a failed write, a rolled-back savepoint, a failed COMMIT) or another
// connection may have written (PRAGMA data_version changed). A forgotten
// merchant is read from the table again. Not safe for concurrent use: it
// belongs to the goroutine that owns the write connection.
type EventSeqs struct {
	last    map[string]int64 // committed
	pending map[string]int64 // taken by the open transaction
}

// NewEventSeqs returns an empty memory.
func NewEventSeqs() *EventSeqs {
	return &EventSeqs{last: map[string]int64{}, pending: map[string]int64{}}
}

// next returns the number after the merchant's last one, if known.
func (e *EventSeqs) next(merchantID string) (int64, bool) {
	if n, ok := e.pending[merchantID]; ok {
		return n + 1, true
	}
	n, ok := e.last[merchantID]
	return n + 1, ok
}

func (e *EventSeqs) took(merchantID string, seq int64) { e.pending[merchantID] = seq }

// Commit keeps the open transaction's numbers: call it after its COMMIT succeeded.
func (e *EventSeqs) Commit() {
	for m, n := range e.pending {
		e.last[m] = n
	}
	clear(e.pending)
}

// Forget drops everything remembered, committed or pending.
func (e *EventSeqs) Forget() {
	clear(e.last)
	clear(e.pending)
}

// WithEventSeqs has t number events from seqs (see EventSeqs). Only the
// database's single writer may use it, on every one of its transactions.
func (t *Tx) WithEventSeqs(seqs *EventSeqs) *Tx {
	t.conn.seqs = seqs
	return t
}
