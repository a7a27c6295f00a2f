package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Pragmas reports the settings that make the store durable and safe, as the
// store's own connections see them: keys are "writer.<pragma>" (the write
// connection) and "reader.<pragma>" (a connection of the read pool), values as
// SQLite prints them (journal_mode "wal"; synchronous 2 = FULL; booleans 0/1).
// It is for tests and diagnostics; it briefly borrows the write connection.
func (s *Store) Pragmas(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range []struct {
		name string
		db   *sql.DB
	}{{"writer", s.w}, {"reader", s.r}} {
		conn, err := p.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("sqlite: pragmas: %w", err)
		}
		for _, pragma := range []string{"journal_mode", "synchronous", "foreign_keys", "busy_timeout", "secure_delete", "query_only", "wal_autocheckpoint"} {
			var v string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&v); err != nil {
				conn.Close()
				return nil, fmt.Errorf("sqlite: pragma %s: %w", pragma, err)
			}
			out[p.name+"."+pragma] = v
		}
		conn.Close()
	}
	return out, nil
}
