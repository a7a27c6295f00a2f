package postgres

import "database/sql"

// PoolStats reports the connection pool's statistics for the server's
// metrics (metrics.PoolStatser): one pool, serving reads and writes.
func (s *Store) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"postgres": s.db.Stats()}
}
