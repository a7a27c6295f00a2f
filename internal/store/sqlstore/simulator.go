package sqlstore

import (
	"database/sql"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// simulatorQueries are the queries of store.SimulatorTx.
type simulatorQueries struct{ *conn }

const simAuthCols = `id, merchant_id, reference, amount, currency, auth_code, avs_result, cvc_result,
	decline_code, decline_reason, decline_message, state, capture_id, captured, refunded, created, updated`

func scanSimAuthorization(sc scanner) (*store.SimAuthorization, error) {
	var a store.SimAuthorization
	var ref, capture sql.NullString
	var d store.SimDecline
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.MerchantID, &ref, &a.Amount, &a.Currency, &a.AuthCode, &a.AVSResult, &a.CVCResult,
		&d.Code, &d.DeclineCode, &d.Message, &a.State, &capture, &a.Captured, &a.Refunded, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	a.Reference, a.CaptureID = ref.String, capture.String
	if d.Code != "" {
		a.Decline = &d
	}
	a.Created, a.Updated = fromTS(created), fromTS(updated)
	return &a, nil
}

func (t simulatorQueries) GetSimAuthorization(id string) (*store.SimAuthorization, error) {
	return scanSimAuthorization(t.rowForUpdate(`SELECT `+simAuthCols+` FROM sim_authorizations WHERE id = ?`, id))
}

func (t simulatorQueries) GetSimAuthorizationByReference(merchantID, reference string) (*store.SimAuthorization, error) {
	if reference == "" {
		return nil, store.ErrNotFound
	}
	// An authorization is looked up by its reference to be made if it is
	// not there yet: concurrent callers of one reference take turns, so the
	// second finds the first's row instead of colliding with its insert.
	if err := t.lockName("simulator:" + merchantID + ":" + reference); err != nil {
		return nil, err
	}
	return scanSimAuthorization(t.rowForUpdate(`SELECT `+simAuthCols+` FROM sim_authorizations WHERE merchant_id = ? AND reference = ?`,
		merchantID, reference))
}

func (t simulatorQueries) GetSimAuthorizationByCapture(captureID string) (*store.SimAuthorization, error) {
	return scanSimAuthorization(t.rowForUpdate(`SELECT `+simAuthCols+` FROM sim_authorizations WHERE capture_id = ?`, captureID))
}

func (t simulatorQueries) InsertSimAuthorization(a *store.SimAuthorization) error {
	var d store.SimDecline
	if a.Decline != nil {
		d = *a.Decline
	}
	_, err := t.exec(`INSERT INTO sim_authorizations (`+simAuthCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.MerchantID, nullStr(a.Reference), a.Amount, a.Currency, a.AuthCode, a.AVSResult, a.CVCResult,
		d.Code, d.DeclineCode, d.Message, a.State, nullStr(a.CaptureID), a.Captured, a.Refunded, ts(a.Created), ts(a.Updated))
	return err
}

func (t simulatorQueries) UpdateSimAuthorization(a *store.SimAuthorization) error {
	res, err := t.exec(`UPDATE sim_authorizations SET state = ?, capture_id = ?, captured = ?, refunded = ?, updated = ? WHERE id = ?`,
		a.State, nullStr(a.CaptureID), a.Captured, a.Refunded, ts(a.Updated), a.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t simulatorQueries) GetSimRefund(captureID, reference string) (*store.SimRefund, error) {
	if reference == "" {
		return nil, store.ErrNotFound
	}
	var r store.SimRefund
	var ref sql.NullString
	var created int64
	err := t.row(`SELECT id, authorization_id, capture_id, reference, amount, created FROM sim_refunds WHERE capture_id = ? AND reference = ?`,
		captureID, reference).Scan(&r.ID, &r.AuthorizationID, &r.CaptureID, &ref, &r.Amount, &created)
	if err != nil {
		return nil, notFound(err)
	}
	r.Reference, r.Created = ref.String, fromTS(created)
	return &r, nil
}

func (t simulatorQueries) InsertSimRefund(r *store.SimRefund) error {
	_, err := t.exec(`INSERT INTO sim_refunds (id, authorization_id, capture_id, reference, amount, created) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.AuthorizationID, r.CaptureID, nullStr(r.Reference), r.Amount, ts(r.Created))
	return err
}

func (t simulatorQueries) SimulatorCounts() (store.SimCounts, error) {
	var c store.SimCounts
	err := t.row(`SELECT COUNT(*), COUNT(capture_id), COALESCE(SUM(CASE WHEN state = 'voided' THEN 1 ELSE 0 END), 0),
		(SELECT COUNT(*) FROM sim_refunds) FROM sim_authorizations`).Scan(&c.Authorizations, &c.Captures, &c.Voids, &c.Refunds)
	return c, err
}

func (t simulatorQueries) CountSimAuthorizations(merchantID, reference string) (int, error) {
	var n int
	q, args := `SELECT COUNT(*) FROM sim_authorizations WHERE merchant_id = ? AND reference = ?`, []any{merchantID, reference}
	if reference == "" {
		q, args = `SELECT COUNT(*) FROM sim_authorizations WHERE merchant_id = ? AND reference IS NULL`, args[:1]
	}
	err := t.row(q, args...).Scan(&n)
	return n, err
}

func (t simulatorQueries) SimJournalImported(digest string) (bool, error) {
	// Asked before importing: two instances starting on one journal take
	// turns, and the second finds the first's import.
	if err := t.lockName("simulator-journal:" + digest); err != nil {
		return false, err
	}
	var n int
	err := t.row(`SELECT COUNT(*) FROM sim_journal_imports WHERE digest = ?`, digest).Scan(&n)
	return n > 0, err
}

func (t simulatorQueries) InsertSimJournalImport(digest string, at time.Time) error {
	_, err := t.exec(`INSERT INTO sim_journal_imports (digest, imported) VALUES (?, ?)`, digest, ts(at))
	return err
}
