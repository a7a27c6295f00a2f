package sqlstore

import (
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// instanceQueries are the queries of store.InstanceTx.
type instanceQueries struct{ *conn }

func (t instanceQueries) BeatInstance(i *store.Instance) error {
	_, err := t.exec(`INSERT INTO instances (id, started, beat) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET beat = excluded.beat`, i.ID, ts(i.Started), ts(i.Beat))
	return err
}

func (t instanceQueries) GetInstance(id string) (*store.Instance, error) {
	var i store.Instance
	var started, beat int64
	if err := t.row(`SELECT id, started, beat FROM instances WHERE id = ?`, id).Scan(&i.ID, &started, &beat); err != nil {
		return nil, notFound(err)
	}
	i.Started, i.Beat = fromTS(started), fromTS(beat)
	return &i, nil
}

func (t instanceQueries) DeleteInstance(id string) error {
	_, err := t.exec(`DELETE FROM instances WHERE id = ?`, id)
	return err
}

func (t instanceQueries) DeleteInstancesBefore(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM instances WHERE beat < ?`, ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
