package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

// TestContract runs the store contract; a name is a folder under one
// temporary folder, so opening a name again opens the same database file.
func TestContract(t *testing.T) {
	base := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestPragmas checks the settings durability and integrity rest on, on the
// store's own connections and in the file itself.
func TestPragmas(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Pragmas(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"writer.journal_mode": "wal", "writer.synchronous": "1", "writer.foreign_keys": "1", "writer.query_only": "0",
		"reader.journal_mode": "wal", "reader.synchronous": "2", "reader.foreign_keys": "1", "reader.query_only": "1",
		"writer.secure_delete": "1", "reader.secure_delete": "1",
	} {
		if got[k] != want {
			t.Errorf("PRAGMA %s = %q, want %q", k, got[k], want)
		}
	}
	if got["writer.busy_timeout"] == "0" {
		t.Error("writer busy_timeout is 0: a second process (the CLI) would fail instead of waiting")
	}

	// WAL is a property of the file: a plain connection sees it too.
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode of the file = %q, want wal", mode)
	}

	// The files hold card data: only the owner may read them.
	fi, err := os.Stat(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v, want no group or other access", perm)
	}
}
