package sqlstore

import (
	"errors"

	"github.com/coffer-vault/coffer/internal/store"
)

// eventQueries are the queries of store.EventTx.
type eventQueries struct{ *conn }

func (t eventQueries) InsertEvent(e *store.Event) error {
	if t.d.EventSeqSequence {
		if err := t.row(`SELECT nextval('event_seq')`).Scan(&e.Seq); err != nil {
			return err
		}
		return t.insertEvent(e)
	}
	if t.seqs == nil {
		// One statement: the next number of the merchant's sequence is
		// taken in the insert itself.
		return t.row(`INSERT INTO events (id, merchant_id, seq, type, object_type, object_id, data, created)
			SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM events WHERE merchant_id = ? RETURNING seq`,
			e.ID, e.MerchantID, e.Type, e.ObjectType, e.ObjectID, string(e.Data), ts(e.Created), e.MerchantID).Scan(&e.Seq)
	}
	seq, known := t.seqs.next(e.MerchantID)
	if !known {
		if err := t.nextSeqFromTable(e); err != nil {
			return err
		}
	} else {
		e.Seq = seq
	}
	err := t.insertEvent(e)
	if known && errors.Is(err, store.ErrConflict) {
		// The memory was stale after all (it never should be): forget it
		// and number from the table, once.
		t.seqs.Forget()
		if err := t.nextSeqFromTable(e); err != nil {
			return err
		}
		err = t.insertEvent(e)
	}
	if err != nil {
		return err
	}
	t.seqs.took(e.MerchantID, e.Seq)
	return nil
}

// nextSeqFromTable numbers e after the merchant's last event in the table.
func (t eventQueries) nextSeqFromTable(e *store.Event) error {
	return t.row(`SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE merchant_id = ?`, e.MerchantID).Scan(&e.Seq)
}

func (t eventQueries) insertEvent(e *store.Event) error {
	_, err := t.exec(`INSERT INTO events (id, merchant_id, seq, type, object_type, object_id, data, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.Seq, e.Type, e.ObjectType, e.ObjectID, string(e.Data), ts(e.Created))
	return err
}

func (t eventQueries) ListEventsFor(merchantID, objectID string) ([]*store.Event, error) {
	rs, err := t.rows(`SELECT id, merchant_id, seq, type, object_type, object_id, data, created FROM events
		WHERE merchant_id = ? AND object_id = ? ORDER BY seq`, merchantID, objectID)
	return collect(rs, err, func(sc scanner) (*store.Event, error) {
		var e store.Event
		var data string
		var created int64
		if err := sc.Scan(&e.ID, &e.MerchantID, &e.Seq, &e.Type, &e.ObjectType, &e.ObjectID, &data, &created); err != nil {
			return nil, err
		}
		e.Data, e.Created = []byte(data), fromTS(created)
		return &e, nil
	})
}

// ---- events (the events API and live streams)

const eventCols = `id, merchant_id, seq, type, object_type, object_id, data, created`

func scanEvent(sc scanner) (*store.Event, error) {
	var e store.Event
	var data string
	var created int64
	if err := sc.Scan(&e.ID, &e.MerchantID, &e.Seq, &e.Type, &e.ObjectType, &e.ObjectID, &data, &created); err != nil {
		return nil, notFound(err)
	}
	e.Data, e.Created = []byte(data), fromTS(created)
	return &e, nil
}

func (t eventQueries) GetEvent(merchantID, id string) (*store.Event, error) {
	return scanEvent(t.row(`SELECT `+eventCols+` FROM events WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// ListEvents pages by seq, the merchant's own order of events: the cursor is
// the previous page's last event, and the next page starts below its seq.
func (t eventQueries) ListEvents(merchantID string, f store.EventFilter) ([]*store.Event, bool, error) {
	q := `SELECT ` + eventCols + ` FROM events WHERE merchant_id = ?`
	args := []any{merchantID}
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.ObjectID != "" {
		q += ` AND object_id = ?`
		args = append(args, f.ObjectID)
	}
	if f.StartingAfter != "" {
		var seq int64
		if err := t.row(`SELECT seq FROM events WHERE merchant_id = ? AND id = ?`, merchantID, f.StartingAfter).Scan(&seq); err != nil {
			return nil, false, notFound(err)
		}
		q += ` AND seq < ?`
		args = append(args, seq)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rs, err := t.rows(q, args...)
	out, err := collect(rs, err, scanEvent)
	if err != nil {
		return nil, false, err
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

func (t eventQueries) EventsAfter(merchantID, objectID string, afterSeq int64, limit int) ([]*store.Event, error) {
	rs, err := t.rows(`SELECT `+eventCols+` FROM events WHERE merchant_id = ? AND object_id = ? AND seq > ?
		ORDER BY seq LIMIT ?`, merchantID, objectID, afterSeq, limit)
	return collect(rs, err, scanEvent)
}
