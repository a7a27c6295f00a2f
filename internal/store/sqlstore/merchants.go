package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// merchantQueries are the queries of store.MerchantTx.
type merchantQueries struct{ *conn }

func (t merchantQueries) InsertMerchant(m *store.Merchant) error {
	_, err := t.exec(`INSERT INTO merchants (id, name, secret_key_hash, secret_key_last4, publishable_key, hmac_secret_ct, settings, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, m.Name, m.SecretKeyHash, m.SecretKeyLast4, m.PublishableKey, m.HMACSecretCT, mustJSON(m.Settings), ts(m.Created))
	return err
}

const merchantCols = `id, name, secret_key_hash, secret_key_last4, publishable_key, hmac_secret_ct, settings, created`

func scanMerchant(r scanner) (*store.Merchant, error) {
	var m store.Merchant
	var settings string
	var created int64
	if err := r.Scan(&m.ID, &m.Name, &m.SecretKeyHash, &m.SecretKeyLast4, &m.PublishableKey, &m.HMACSecretCT, &settings, &created); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(settings), &m.Settings); err != nil {
		return nil, fmt.Errorf("store: merchant %s settings: %w", m.ID, err)
	}
	m.Created = fromTS(created)
	return &m, nil
}

func (t merchantQueries) GetMerchant(id string) (*store.Merchant, error) {
	return scanMerchant(t.rowForUpdate(`SELECT `+merchantCols+` FROM merchants WHERE id = ?`, id))
}

func (t merchantQueries) GetMerchantBySecretHash(hash []byte) (*store.Merchant, error) {
	return scanMerchant(t.row(`SELECT `+merchantCols+` FROM merchants WHERE secret_key_hash = ?`, hash))
}

func (t merchantQueries) GetMerchantByPublishableKey(pk string) (*store.Merchant, error) {
	return scanMerchant(t.row(`SELECT `+merchantCols+` FROM merchants WHERE publishable_key = ?`, pk))
}

func (t merchantQueries) UpdateMerchantSettings(id string, s store.Settings) error {
	res, err := t.exec(`UPDATE merchants SET settings = ? WHERE id = ?`, mustJSON(s), id)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t merchantQueries) ListMerchants(after string, limit int) ([]*store.Merchant, error) {
	rs, err := t.rows(`SELECT `+merchantCols+` FROM merchants WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	return collect(rs, err, scanMerchant)
}

func (t merchantQueries) CountMerchants() (int, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM merchants`).Scan(&n)
	return n, err
}

// ---- device keys

func (t merchantQueries) InsertDeviceKey(k *store.DeviceKey) error {
	_, err := t.exec(`INSERT INTO device_keys (id, merchant_id, name, key_hash, last4, created, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, k.ID, k.MerchantID, k.Name, k.KeyHash, k.Last4, ts(k.Created), nullTS(k.Revoked))
	return err
}

const deviceKeyCols = `id, merchant_id, name, key_hash, last4, created, revoked_at`

func scanDeviceKey(sc scanner) (*store.DeviceKey, error) {
	var k store.DeviceKey
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&k.ID, &k.MerchantID, &k.Name, &k.KeyHash, &k.Last4, &created, &revoked); err != nil {
		return nil, notFound(err)
	}
	k.Created, k.Revoked = fromTS(created), fromNullTS(revoked)
	return &k, nil
}

func (t merchantQueries) GetDeviceKeyByHash(hash []byte) (*store.DeviceKey, error) {
	return scanDeviceKey(t.row(`SELECT `+deviceKeyCols+` FROM device_keys WHERE key_hash = ?`, hash))
}

func (t merchantQueries) GetDeviceKey(merchantID, id string) (*store.DeviceKey, error) {
	return scanDeviceKey(t.rowForUpdate(`SELECT `+deviceKeyCols+` FROM device_keys WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t merchantQueries) ListDeviceKeys(merchantID string) ([]*store.DeviceKey, error) {
	rs, err := t.rows(`SELECT `+deviceKeyCols+` FROM device_keys WHERE merchant_id = ? ORDER BY created, id`, merchantID)
	return collect(rs, err, scanDeviceKey)
}

func (t merchantQueries) RevokeDeviceKey(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE device_keys SET revoked_at = ? WHERE merchant_id = ? AND id = ? AND revoked_at IS NULL`,
		ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}
