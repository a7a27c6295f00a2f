package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// processorAccountQueries are the queries of store.ProcessorAccountTx.
type processorAccountQueries struct{ *conn }

const processorAccountCols = `id, merchant_id, type, name, mode, currencies, priority, base_url, credentials_ct, created, deleted_at`

func (t processorAccountQueries) InsertProcessorAccount(a *store.ProcessorAccount) error {
	cur, err := json.Marshal(a.Currencies)
	if err != nil {
		return err
	}
	if a.Currencies == nil {
		cur = []byte("[]")
	}
	_, err = t.exec(`INSERT INTO processor_accounts (`+processorAccountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.MerchantID, a.Type, a.Name, a.Mode, string(cur), a.Priority, a.BaseURL, a.CredentialsCT, ts(a.Created), nullTS(a.Deleted))
	return err
}

func scanProcessorAccount(sc scanner) (*store.ProcessorAccount, error) {
	var a store.ProcessorAccount
	var cur string
	var created int64
	var deleted sql.NullInt64
	if err := sc.Scan(&a.ID, &a.MerchantID, &a.Type, &a.Name, &a.Mode, &cur, &a.Priority, &a.BaseURL, &a.CredentialsCT, &created, &deleted); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(cur), &a.Currencies); err != nil {
		return nil, err
	}
	a.Created, a.Deleted = fromTS(created), fromNullTS(deleted)
	return &a, nil
}

func (t processorAccountQueries) GetProcessorAccount(merchantID, id string) (*store.ProcessorAccount, error) {
	return scanProcessorAccount(t.row(`SELECT `+processorAccountCols+` FROM processor_accounts WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t processorAccountQueries) ListProcessorAccounts(merchantID string) ([]*store.ProcessorAccount, error) {
	rs, err := t.rows(`SELECT `+processorAccountCols+` FROM processor_accounts WHERE merchant_id = ? AND deleted_at IS NULL
		ORDER BY priority, created, id`, merchantID)
	return collect(rs, err, scanProcessorAccount)
}

func (t processorAccountQueries) DeleteProcessorAccount(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE processor_accounts SET deleted_at = ? WHERE merchant_id = ? AND id = ? AND deleted_at IS NULL`,
		ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}
