package sqlstore

import (
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// idempotencyQueries are the queries of store.IdempotencyTx.
type idempotencyQueries struct{ *conn }

func (t idempotencyQueries) GetIdempotency(merchantID, key string) (*store.Idempotency, error) {
	// A key is read to be claimed, and may have no row yet: concurrent
	// claims of one key take turns, so the second finds the first's row
	// instead of colliding with its insert.
	if err := t.lockName("idempotency:" + merchantID + ":" + key); err != nil {
		return nil, err
	}
	var r store.Idempotency
	var created, locked int64
	err := t.rowForUpdate(`SELECT merchant_id, idem_key, request_hash, state, status_code, response, created, locked_until, owner
		FROM idempotency_keys WHERE merchant_id = ? AND idem_key = ?`, merchantID, key).
		Scan(&r.MerchantID, &r.Key, &r.RequestHash, &r.State, &r.StatusCode, &r.Response, &created, &locked, &r.Owner)
	if err != nil {
		return nil, notFound(err)
	}
	r.Created, r.LockedUntil = fromTS(created), fromTS(locked)
	return &r, nil
}

func (t idempotencyQueries) InsertIdempotency(r *store.Idempotency) error {
	_, err := t.exec(`INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, status_code, response, created, locked_until, owner)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.MerchantID, r.Key, r.RequestHash, r.State, r.StatusCode, r.Response, ts(r.Created), ts(r.LockedUntil), r.Owner)
	return err
}

func (t idempotencyQueries) UpdateIdempotency(r *store.Idempotency) error {
	res, err := t.exec(`UPDATE idempotency_keys SET state = ?, status_code = ?, response = ?, locked_until = ?, owner = ?
		WHERE merchant_id = ? AND idem_key = ?`, r.State, r.StatusCode, r.Response, ts(r.LockedUntil), r.Owner, r.MerchantID, r.Key)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t idempotencyQueries) DeleteIdempotency(merchantID, key string) error {
	_, err := t.exec(`DELETE FROM idempotency_keys WHERE merchant_id = ? AND idem_key = ?`, merchantID, key)
	return err
}

func (t idempotencyQueries) DeleteIdempotencyBefore(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM idempotency_keys WHERE created < ?`, ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t idempotencyQueries) EndIdempotencyLeases() (int, error) {
	res, err := t.exec(`UPDATE idempotency_keys SET locked_until = 0 WHERE state = 'started' AND locked_until > 0`)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
