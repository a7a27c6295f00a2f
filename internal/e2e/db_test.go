package e2e

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-vault/coffer/internal/store/sqlstore"
	_ "modernc.org/sqlite"
)

// openDB opens the server's database directly, as an attacker with the disk
// (or an operator) would. Queries use ? placeholders; see rebind.
func openDB(t testing.TB, s *server) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if s.cfg.DatabaseURL != "" {
		db, err = sql.Open("pgx", s.cfg.DatabaseURL)
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "coffer.db")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rebind turns ? placeholders into $n for PostgreSQL.
func rebind(s *server, q string) string {
	if s.cfg.DatabaseURL == "" {
		return q
	}
	return sqlstore.Rebind(q)
}

// cardCiphertext reads a token's stored ciphertext (nil when erased).
func cardCiphertext(t testing.TB, s *server, tokenID string) []byte {
	t.Helper()
	var ct []byte
	if err := openDB(t, s).QueryRow(rebind(s, `SELECT card_ct FROM tokens WHERE id = ?`), tokenID).Scan(&ct); err != nil {
		t.Fatal(err)
	}
	return ct
}
