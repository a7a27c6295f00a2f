package sqlstore

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// customerQueries are the queries of store.CustomerTx.
type customerQueries struct{ *conn }

func (t customerQueries) InsertCustomer(c *store.Customer) error {
	_, err := t.exec(`INSERT INTO customers (id, merchant_id, reference, name, email, phone, metadata, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.MerchantID, nullStr(c.Reference), c.Name, c.Email, c.Phone, metadataJSON(c.Metadata), ts(c.Created))
	return err
}

const customerCols = `id, merchant_id, reference, name, email, phone, metadata, created, deleted_at`

func scanCustomer(r scanner) (*store.Customer, error) {
	var c store.Customer
	var ref sql.NullString
	var md string
	var created int64
	var deleted sql.NullInt64
	if err := r.Scan(&c.ID, &c.MerchantID, &ref, &c.Name, &c.Email, &c.Phone, &md, &created, &deleted); err != nil {
		return nil, notFound(err)
	}
	c.Reference = ref.String
	if err := json.Unmarshal([]byte(md), &c.Metadata); err != nil {
		return nil, err
	}
	c.Created, c.Deleted = fromTS(created), fromNullTS(deleted)
	return &c, nil
}

func (t customerQueries) GetCustomer(merchantID, id string) (*store.Customer, error) {
	return scanCustomer(t.rowForUpdate(`SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND id = ? AND deleted_at IS NULL`, merchantID, id))
}

func (t customerQueries) GetCustomerByReference(merchantID, reference string) (*store.Customer, error) {
	return scanCustomer(t.rowForUpdate(`SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND reference = ? AND deleted_at IS NULL`, merchantID, reference))
}

func (t customerQueries) MarkCustomerDeleted(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE customers SET deleted_at = ?, name = '', email = '', phone = '', metadata = '{}'
		WHERE merchant_id = ? AND id = ? AND deleted_at IS NULL`, ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t customerQueries) ListCustomers(merchantID string, f store.CustomerFilter) ([]*store.Customer, bool, error) {
	cond, args := ` AND deleted_at IS NULL`, []any{}
	var or []string
	if f.Email != "" {
		or = append(or, `LOWER(email) = LOWER(?)`)
		args = append(args, f.Email)
	}
	if f.Reference != "" {
		or = append(or, `reference = ?`)
		args = append(args, f.Reference)
	}
	if len(or) > 0 {
		cond += ` AND (` + strings.Join(or, ` OR `) + `)`
	}
	return page(t.conn, "customers", customerCols, cond, args, merchantID, f.StartingAfter, f.Limit, scanCustomer)
}
