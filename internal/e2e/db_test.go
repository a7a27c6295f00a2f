package e2e

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// openDB opens the server's SQLite database directly, as an attacker with
// the disk (or an operator) would.
func openDB(t testing.TB, s *server) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "coffer.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// cardCiphertext reads a token's stored ciphertext (nil when erased).
func cardCiphertext(t testing.TB, s *server, tokenID string) []byte {
	t.Helper()
	var ct []byte
	if err := openDB(t, s).QueryRow(`SELECT card_ct FROM tokens WHERE id = ?`, tokenID).Scan(&ct); err != nil {
		t.Fatal(err)
	}
	return ct
}
