package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// apiKeyQueries are the queries of store.APIKeyTx.
type apiKeyQueries struct{ *conn }

// apiKeyCols reads the key's last use with it: one query per list.
const apiKeyCols = `id, merchant_id, kind, name, key_hash, secret_ct, last4, scopes, created, expires_at, revoked_at,
	(SELECT u.last_used FROM key_uses u WHERE u.key_hash = api_keys.key_hash) AS last_used`

func (t apiKeyQueries) InsertAPIKey(k *store.APIKey) error {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err := t.exec(`INSERT INTO api_keys (id, merchant_id, kind, name, key_hash, secret_ct, last4, scopes, created, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.MerchantID, k.Kind, k.Name, nullBytes(k.KeyHash), nullBytes(k.SecretCT),
		k.Last4, mustJSON(scopes), ts(k.Created), nullTS(k.Expires), nullTS(k.Revoked))
	return err
}

func scanAPIKey(sc scanner) (*store.APIKey, error) {
	var k store.APIKey
	var scopes string
	var created int64
	var expires, revoked, used sql.NullInt64
	if err := sc.Scan(&k.ID, &k.MerchantID, &k.Kind, &k.Name, &k.KeyHash, &k.SecretCT, &k.Last4, &scopes, &created,
		&expires, &revoked, &used); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, err
	}
	k.Created, k.Expires, k.Revoked, k.LastUsed = fromTS(created), fromNullTS(expires), fromNullTS(revoked), fromNullTS(used)
	return &k, nil
}

func (t apiKeyQueries) GetAPIKeyByHash(hash []byte) (*store.APIKey, error) {
	return scanAPIKey(t.row(`SELECT `+apiKeyCols+` FROM api_keys WHERE key_hash = ?`, hash))
}

func (t apiKeyQueries) GetAPIKey(merchantID, id string) (*store.APIKey, error) {
	return scanAPIKey(t.rowForUpdate(`SELECT `+apiKeyCols+` FROM api_keys WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t apiKeyQueries) ListAPIKeys(merchantID string, f store.APIKeyFilter) ([]*store.APIKey, bool, error) {
	return page(t.conn, "api_keys", apiKeyCols, ` AND kind = ?`, []any{f.Kind}, merchantID, f.StartingAfter, f.Limit, scanAPIKey)
}

func (t apiKeyQueries) ListRetiringKeys(merchantID string, now time.Time) ([]*store.APIKey, error) {
	rs, err := t.rows(`SELECT `+apiKeyCols+` FROM api_keys WHERE merchant_id = ? AND kind IN ('secret', 'publishable', 'hmac')
		AND revoked_at IS NULL AND expires_at > ? ORDER BY created, id`, merchantID, ts(now))
	return collect(rs, err, scanAPIKey)
}

func (t apiKeyQueries) RevokeAPIKey(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE api_keys SET revoked_at = ? WHERE merchant_id = ? AND id = ? AND revoked_at IS NULL`,
		ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t apiKeyQueries) ExpireAPIKey(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END
		WHERE merchant_id = ? AND id = ?`, ts(at), ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t apiKeyQueries) SetMerchantKeys(m *store.Merchant) error {
	res, err := t.exec(`UPDATE merchants SET secret_key_hash = ?, secret_key_last4 = ?, publishable_key = ?, hmac_secret_ct = ? WHERE id = ?`,
		m.SecretKeyHash, m.SecretKeyLast4, m.PublishableKey, m.HMACSecretCT, m.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t apiKeyQueries) RecordKeyUses(uses []store.KeyUse) error {
	for _, u := range uses {
		if _, err := t.exec(`INSERT INTO key_uses (key_hash, merchant_id, last_used) VALUES (?, ?, ?)
			ON CONFLICT (key_hash) DO UPDATE SET last_used = excluded.last_used
			WHERE key_uses.last_used < excluded.last_used AND key_uses.merchant_id = excluded.merchant_id`,
			u.Hash, u.MerchantID, ts(u.At)); err != nil {
			return err
		}
	}
	return nil
}

func (t apiKeyQueries) KeyLastUsed(merchantID string, hash []byte) (*time.Time, error) {
	var v int64
	err := t.row(`SELECT last_used FROM key_uses WHERE merchant_id = ? AND key_hash = ?`, merchantID, hash).Scan(&v)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	at := fromTS(v)
	return &at, nil
}

// nullBytes stores an absent byte string as NULL, which a UNIQUE column
// allows any number of times.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
