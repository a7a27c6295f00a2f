package harness

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/coffer-vault/coffer/internal/store/sqlstore"
)

// OpenDB opens the server's database directly, as an attacker with the disk
// (or an operator) would. Queries use ? placeholders; see Rebind.
func (s *Server) OpenDB(t testing.TB) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if s.Cfg.DatabaseURL != "" {
		db, err = sql.Open("pgx", s.Cfg.DatabaseURL)
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "coffer.db")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Rebind turns ? placeholders into $n when the server is on PostgreSQL.
func (s *Server) Rebind(q string) string {
	if s.Cfg.DatabaseURL == "" {
		return q
	}
	return sqlstore.Rebind(q)
}

// CardCiphertext reads a token's stored ciphertext (nil when erased).
func (s *Server) CardCiphertext(t testing.TB, tokenID string) []byte {
	t.Helper()
	var ct []byte
	if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT card_ct FROM tokens WHERE id = ?`), tokenID).Scan(&ct); err != nil {
		t.Fatal(err)
	}
	return ct
}
