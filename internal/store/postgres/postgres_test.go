package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// TestContract runs the store contract; a name is one database, created by
// pgtest on first use and dropped when the subtest that asked for it ends.
func TestContract(t *testing.T) {
	var mu sync.Mutex
	dsns := map[string]string{}
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		mu.Lock()
		dsn, ok := dsns[name]
		mu.Unlock()
		if !ok {
			dsn = pgtest.DSN(t)
			mu.Lock()
			dsns[name] = dsn
			mu.Unlock()
		}
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Several processes starting on one new database at once must not race to
// create the schema: migrations run under an advisory lock.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 6
	errs := make([]error, n)
	stores := make([]*postgres.Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var versions, applied int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&applied, &versions); err != nil {
		t.Fatal(err)
	}
	if applied != versions || versions == 0 {
		t.Errorf("schema_migrations has %d rows for %d versions", applied, versions)
	}
}

// synchronous_commit is on in every Write even where the database's default
// says otherwise: durability must not hang on server configuration.
func TestSynchronousCommitForced(t *testing.T) {
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var db string
	if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` SET synchronous_commit = off`); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var inWrite, inRead string
	if err := postgres.Setting(t.Context(), s, "synchronous_commit", true, &inWrite); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Setting(t.Context(), s, "synchronous_commit", false, &inRead); err != nil {
		t.Fatal(err)
	}
	if inWrite != "on" || inRead != "on" {
		t.Errorf("synchronous_commit = %q in Write, %q in Read; want on (the database default is off)", inWrite, inRead)
	}
	// A connection that does not ask sees the database default: the
	// override above is what made the difference.
	other, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	var plain string
	if err := other.QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if plain != "off" {
		t.Errorf("plain connection: synchronous_commit = %q, want off (test setup)", plain)
	}
}

// A Write whose caller gives up while it waits for a connection returns
// promptly, without running fn.
func TestWriteWaitsForPoolWithCallerContext(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := make(chan struct{})
	var held sync.WaitGroup
	for range postgres.PoolSize {
		held.Add(1)
		go s.Read(context.Background(), func(store.Tx) error { held.Done(); <-release; return nil })
	}
	held.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	ran := false
	err = s.Write(ctx, func(store.Tx) error { ran = true; return nil })
	close(release)
	if err == nil || ran {
		t.Errorf("Write with every connection busy and a 100ms deadline: err %v, ran %v; want a deadline error and no run", err, ran)
	}
}
