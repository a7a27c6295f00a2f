package sqlstore

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/vault"
)

// dataKeyQueries are the queries of store.DataKeyTx.
type dataKeyQueries struct{ *conn }

func (t dataKeyQueries) InsertDataKey(dk vault.DataKey) error {
	_, err := t.exec(`INSERT INTO data_keys (id, merchant_id, purpose, kek_version, wrapped, created) VALUES (?, ?, ?, ?, ?, ?)`,
		dk.ID, dk.MerchantID, dk.Purpose, int64(dk.KEKVersion), dk.Wrapped, ts(dk.Created))
	return err
}

const dataKeyCols = `id, merchant_id, purpose, kek_version, wrapped, created`

func scanDataKey(sc scanner) (vault.DataKey, error) {
	var dk vault.DataKey
	var ver, created int64
	if err := sc.Scan(&dk.ID, &dk.MerchantID, &dk.Purpose, &ver, &dk.Wrapped, &created); err != nil {
		return dk, notFound(err)
	}
	dk.KEKVersion, dk.Created = uint32(ver), fromTS(created)
	return dk, nil
}

func (t dataKeyQueries) GetDataKey(id string) (vault.DataKey, error) {
	return scanDataKey(t.row(`SELECT `+dataKeyCols+` FROM data_keys WHERE id = ?`, id))
}

func (t dataKeyQueries) ActiveDataKey(merchantID, purpose string) (vault.DataKey, error) {
	return scanDataKey(t.row(`SELECT `+dataKeyCols+` FROM data_keys WHERE merchant_id = ? AND purpose = ?
		ORDER BY created DESC, id DESC LIMIT 1`, merchantID, purpose))
}

func (t dataKeyQueries) ListDataKeys(afterID string, limit int) ([]vault.DataKey, error) {
	rs, err := t.rows(`SELECT `+dataKeyCols+` FROM data_keys WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	return collect(rs, err, scanDataKey)
}

func (t dataKeyQueries) UpdateDataKeyWrap(id string, kekVersion uint32, wrapped []byte) error {
	res, err := t.exec(`UPDATE data_keys SET kek_version = ?, wrapped = ? WHERE id = ?`, int64(kekVersion), wrapped, id)
	if err != nil {
		return err
	}
	return affected(res)
}

// ---- key-encryption key checks

func (t dataKeyQueries) KEKChecks() (map[uint32][]byte, error) {
	rs, err := t.rows(`SELECT kek_version, check_value FROM kek_checks`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[uint32][]byte{}
	for rs.Next() {
		var v int64
		var b []byte
		if err := rs.Scan(&v, &b); err != nil {
			return nil, err
		}
		out[uint32(v)] = b
	}
	return out, rs.Err()
}

func (t dataKeyQueries) InsertKEKCheck(version uint32, value []byte, at time.Time) error {
	_, err := t.exec(`INSERT INTO kek_checks (kek_version, check_value, created) VALUES (?, ?, ?)`, int64(version), value, ts(at))
	return err
}

// KEKSample takes the lowest data key id of each KEK version, from the
// (kek_version, id) index.
func (t dataKeyQueries) KEKSample() ([]vault.DataKey, error) {
	rs, err := t.rows(`SELECT ` + dataKeyCols + ` FROM data_keys WHERE id IN (SELECT MIN(id) FROM data_keys GROUP BY kek_version) ORDER BY kek_version`)
	return collect(rs, err, scanDataKey)
}

// PeekKeys reads what a database remembers of its key-encryption keys —
// the key-check values and one data key per KEK version — inside q, a
// read-only transaction a backend opened without migrating: hasTable says
// which tables exist yet (a fresh or older database lacks some, and then
// has nothing to say about them).
func PeekKeys(ctx context.Context, q Querier, d *Dialect, hasTable func(name string) (bool, error)) (map[uint32][]byte, []vault.DataKey, error) {
	t := NewTx(ctx, q, d)
	var checks map[uint32][]byte
	var sample []vault.DataKey
	if ok, err := hasTable("kek_checks"); err != nil {
		return nil, nil, err
	} else if ok {
		if checks, err = t.KEKChecks(); err != nil {
			return nil, nil, err
		}
	}
	if ok, err := hasTable("data_keys"); err != nil {
		return nil, nil, err
	} else if ok {
		if sample, err = t.KEKSample(); err != nil {
			return nil, nil, err
		}
	}
	return checks, sample, nil
}
