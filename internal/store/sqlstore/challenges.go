package sqlstore

import (
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// challengeQueries are the queries of store.ChallengeTx.
type challengeQueries struct{ *conn }

func (t challengeQueries) InsertChallenge(c *store.Challenge) error {
	_, err := t.exec(`INSERT INTO challenges (id, merchant_id, object_type, object_id, status, attempts, amount, currency,
		brand, mask, transaction_id, version, return_url, verify, secret_ct, expires_at, created, updated, fingerprint)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.MerchantID, c.ObjectType, c.ObjectID, c.Status, c.Attempts, c.Amount, c.Currency,
		c.Brand, c.Mask, c.TransactionID, c.Version, c.ReturnURL, c.Verify, c.SecretCT, ts(c.ExpiresAt), ts(c.Created), ts(c.Updated),
		c.Fingerprint)
	return err
}

const challengeCols = `id, merchant_id, object_type, object_id, status, attempts, amount, currency,
	brand, mask, transaction_id, version, return_url, verify, secret_ct, expires_at, created, updated, fingerprint`

func scanChallenge(sc scanner) (*store.Challenge, error) {
	var c store.Challenge
	var expires, created, updated int64
	if err := sc.Scan(&c.ID, &c.MerchantID, &c.ObjectType, &c.ObjectID, &c.Status, &c.Attempts, &c.Amount, &c.Currency,
		&c.Brand, &c.Mask, &c.TransactionID, &c.Version, &c.ReturnURL, &c.Verify, &c.SecretCT, &expires, &created, &updated,
		&c.Fingerprint); err != nil {
		return nil, notFound(err)
	}
	c.ExpiresAt, c.Created, c.Updated = fromTS(expires), fromTS(created), fromTS(updated)
	return &c, nil
}

func (t challengeQueries) GetChallenge(id string) (*store.Challenge, error) {
	return scanChallenge(t.rowForUpdate(`SELECT `+challengeCols+` FROM challenges WHERE id = ?`, id))
}

// UpdateChallenge writes what a challenge's life changes; what it was issued
// for (object, amount, card, return URL) is fixed at insert. The merchant
// scopes the update as it does every other, though the id alone finds it.
func (t challengeQueries) UpdateChallenge(c *store.Challenge) error {
	res, err := t.exec(`UPDATE challenges SET status = ?, attempts = ?, transaction_id = ?, version = ?, secret_ct = ?,
		expires_at = ?, updated = ? WHERE merchant_id = ? AND id = ?`,
		c.Status, c.Attempts, c.TransactionID, c.Version, c.SecretCT, ts(c.ExpiresAt), ts(c.Updated), c.MerchantID, c.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// SweepableChallenges spells out the partial index's predicate, literals and
// all: SQLite uses a partial index only when the query repeats its WHERE.
func (t challengeQueries) SweepableChallenges(before time.Time, limit int) ([]*store.Challenge, error) {
	rs, err := t.rows(`SELECT `+challengeCols+` FROM challenges
		WHERE (status = 'pending' OR secret_ct IS NOT NULL) AND expires_at < ? ORDER BY expires_at, id LIMIT ?`, ts(before), limit)
	return collect(rs, err, scanChallenge)
}

// ---- 3-D Secure guesses per card

func (t challengeQueries) GetCardAuthFailures(merchantID, fingerprint string) (*store.CardAuthFailures, error) {
	f := store.CardAuthFailures{MerchantID: merchantID, Fingerprint: fingerprint}
	// The count is read to be raised: two wrong answers for one card are
	// counted one after the other, even for a card with no row yet.
	if err := t.lockName("card_auth_failures:" + merchantID + ":" + fingerprint); err != nil {
		return nil, err
	}
	var last int64
	if err := t.row(`SELECT failures, last_failure FROM card_auth_failures WHERE merchant_id = ? AND fingerprint = ?`,
		merchantID, fingerprint).Scan(&f.Failures, &last); err != nil {
		return nil, notFound(err)
	}
	f.LastFailure = fromTS(last)
	return &f, nil
}

func (t challengeQueries) PutCardAuthFailures(f *store.CardAuthFailures) error {
	_, err := t.exec(`INSERT INTO card_auth_failures (merchant_id, fingerprint, failures, last_failure) VALUES (?, ?, ?, ?)
		ON CONFLICT (merchant_id, fingerprint) DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure`,
		f.MerchantID, f.Fingerprint, f.Failures, ts(f.LastFailure))
	return err
}
