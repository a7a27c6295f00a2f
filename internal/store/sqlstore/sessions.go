package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// sessionQueries are the queries of store.SessionTx.
type sessionQueries struct{ *conn }

func (t sessionQueries) InsertSession(s *store.Session) error {
	_, err := t.exec(`INSERT INTO sessions (id, merchant_id, mode, status, amount, currency, customer_id, save_card,
		show_saved_cards, capture_method, order_id, description, success_url, failure_url, expired_url, cancel_url,
		callback_url, client_secret_hash, key_id, payment_id, token_id, attempts, failure, metadata,
		confirming_until, expires_at, created, updated, callback_format, forward_urls, three_d_secure)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.MerchantID, s.Mode, s.Status, s.Amount, s.Currency, s.CustomerID, s.SaveCard,
		s.ShowSavedCards, s.CaptureMethod, s.OrderID, s.Description, s.SuccessURL, s.FailureURL, s.ExpiredURL, s.CancelURL,
		s.CallbackURL, s.ClientSecretHash, s.KeyID, s.PaymentID, s.TokenID, s.Attempts, nullJSON(s.Failure), metadataJSON(s.Metadata),
		ts(s.ConfirmingUntil), ts(s.ExpiresAt), ts(s.Created), ts(s.Updated), s.CallbackFormat, mustJSON(orNoURLs(s.ForwardURLs)),
		s.ThreeDSecure)
	return err
}

func orNoURLs(u []string) []string {
	if u == nil {
		return []string{}
	}
	return u
}

const sessionCols = `id, merchant_id, mode, status, amount, currency, customer_id, save_card,
	show_saved_cards, capture_method, order_id, description, success_url, failure_url, expired_url, cancel_url,
	callback_url, client_secret_hash, key_id, payment_id, token_id, attempts, failure, metadata,
	confirming_until, expires_at, created, updated, callback_format, forward_urls, three_d_secure`

func scanSession(sc scanner) (*store.Session, error) {
	var s store.Session
	var failure sql.NullString
	var md, fwd string
	var confirming, expires, created, updated int64
	if err := sc.Scan(&s.ID, &s.MerchantID, &s.Mode, &s.Status, &s.Amount, &s.Currency, &s.CustomerID, &s.SaveCard,
		&s.ShowSavedCards, &s.CaptureMethod, &s.OrderID, &s.Description, &s.SuccessURL, &s.FailureURL, &s.ExpiredURL, &s.CancelURL,
		&s.CallbackURL, &s.ClientSecretHash, &s.KeyID, &s.PaymentID, &s.TokenID, &s.Attempts, &failure, &md,
		&confirming, &expires, &created, &updated, &s.CallbackFormat, &fwd, &s.ThreeDSecure); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(fwd), &s.ForwardURLs); err != nil {
		return nil, err
	}
	if len(s.ForwardURLs) == 0 {
		s.ForwardURLs = nil
	}
	var err error
	if s.Failure, err = fromNullJSON[store.Failure](failure); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(md), &s.Metadata); err != nil {
		return nil, err
	}
	s.ConfirmingUntil, s.ExpiresAt, s.Created, s.Updated = fromTS(confirming), fromTS(expires), fromTS(created), fromTS(updated)
	return &s, nil
}

func (t sessionQueries) GetSession(merchantID, id string) (*store.Session, error) {
	return scanSession(t.rowForUpdate(`SELECT `+sessionCols+` FROM sessions WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t sessionQueries) GetSessionByID(id string) (*store.Session, error) {
	return scanSession(t.rowForUpdate(`SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
}

// UpdateSession writes what a session's life changes; what it was created
// for (mode, amount, options, URLs, client secret) is fixed at insert.
func (t sessionQueries) UpdateSession(s *store.Session) error {
	res, err := t.exec(`UPDATE sessions SET status = ?, customer_id = ?, payment_id = ?, token_id = ?, attempts = ?,
		failure = ?, confirming_until = ?, key_id = ?, metadata = ?, updated = ?, expires_at = ?
		WHERE merchant_id = ? AND id = ?`,
		s.Status, s.CustomerID, s.PaymentID, s.TokenID, s.Attempts,
		nullJSON(s.Failure), ts(s.ConfirmingUntil), s.KeyID, metadataJSON(s.Metadata), ts(s.Updated), ts(s.ExpiresAt),
		s.MerchantID, s.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// SweepableSessions spells out the partial index's predicate, literals and
// all: SQLite uses a partial index only when the query repeats its WHERE.
func (t sessionQueries) SweepableSessions(before time.Time, limit int) ([]*store.Session, error) {
	rs, err := t.rows(`SELECT `+sessionCols+` FROM sessions
		WHERE status IN ('open', 'requires_action') AND expires_at < ? ORDER BY expires_at, id LIMIT ?`, ts(before), limit)
	return collect(rs, err, scanSession)
}

// ---- session keys

func (t sessionQueries) InsertSessionKey(k *store.SessionKey) error {
	_, err := t.exec(`INSERT INTO session_keys (id, merchant_id, private_ct, public, created) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.MerchantID, k.PrivateCT, k.Public, ts(k.Created))
	return err
}

const sessionKeyCols = `id, merchant_id, private_ct, public, created`

func scanSessionKey(r *sql.Row) (*store.SessionKey, error) {
	var k store.SessionKey
	var created int64
	if err := r.Scan(&k.ID, &k.MerchantID, &k.PrivateCT, &k.Public, &created); err != nil {
		return nil, notFound(err)
	}
	k.Created = fromTS(created)
	return &k, nil
}

func (t sessionQueries) CurrentSessionKey(merchantID string, createdSince time.Time) (*store.SessionKey, error) {
	return scanSessionKey(t.row(`SELECT `+sessionKeyCols+` FROM session_keys WHERE merchant_id = ? AND created >= ?
		ORDER BY created DESC, id DESC LIMIT 1`, merchantID, ts(createdSince)))
}

func (t sessionQueries) GetSessionKey(merchantID, id string) (*store.SessionKey, error) {
	return scanSessionKey(t.row(`SELECT `+sessionKeyCols+` FROM session_keys WHERE merchant_id = ? AND id = ?`, merchantID, id))
}
