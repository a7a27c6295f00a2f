package sqlstore

import "github.com/coffer-vault/coffer/internal/store"

// auditQueries are the queries of store.AuditTx.
type auditQueries struct{ *conn }

func (t auditQueries) InsertAudit(a *store.Audit) error {
	_, err := t.exec(`INSERT INTO audit_log (id, merchant_id, action, object_id, purpose, request_id, actor, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.MerchantID, a.Action, a.ObjectID, a.Purpose, a.RequestID, a.Actor, ts(a.Created))
	return err
}

func (t auditQueries) ListAudit(merchantID, objectID string) ([]*store.Audit, error) {
	rs, err := t.rows(`SELECT id, merchant_id, action, object_id, purpose, request_id, actor, created FROM audit_log
		WHERE merchant_id = ? AND object_id = ? ORDER BY created, id`, merchantID, objectID)
	return collect(rs, err, func(sc scanner) (*store.Audit, error) {
		var a store.Audit
		var created int64
		if err := sc.Scan(&a.ID, &a.MerchantID, &a.Action, &a.ObjectID, &a.Purpose, &a.RequestID, &a.Actor, &created); err != nil {
			return nil, err
		}
		a.Created = fromTS(created)
		return &a, nil
	})
}
