package sqlstore

import (
	"database/sql"
	"time"
)

// PendingDeliveries counts the deliveries still pending and finds the
// oldest one's creation (zero when there is none): the webhook queue's
// gauges (event.PendingCounter). The WHERE repeats the partial index
// deliveries_due's predicate, so SQLite reads the pending rows alone.
func (t deliveryQueries) PendingDeliveries() (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := t.row(`SELECT COUNT(*), MIN(created) FROM deliveries WHERE status = 'pending'`).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, err
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, fromTS(oldest.Int64), nil
}
