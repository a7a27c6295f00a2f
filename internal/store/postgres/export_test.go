package postgres

import (
	"context"
	"database/sql"
)

// Setting reads a run-time setting inside a Write (write=true) or a Read
// transaction, begun as those begin theirs.
func Setting(ctx context.Context, s *Store, name string, write bool, v *string) error {
	var tx *sql.Tx
	var err error
	if write {
		tx, err = s.db.BeginTx(ctx, writeOptions)
	} else {
		tx, err = s.db.BeginTx(ctx, readOptions)
	}
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return tx.QueryRowContext(ctx, `SELECT current_setting($1)`, name).Scan(v)
}
