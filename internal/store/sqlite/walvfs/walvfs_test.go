package walvfs

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "modernc.org/sqlite"
)

// open opens path through this VFS as the store's writer does (WAL,
// synchronous=NORMAL, no automatic checkpoints), one connection.
func open(t *testing.T, path string, pragmas ...string) *sql.DB {
	t.Helper()
	if err := Register(); err != nil {
		t.Fatal(err)
	}
	dsn := "file:" + path + "?vfs=" + Name + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)"
	for _, p := range pragmas {
		dsn += "&_pragma=" + p
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// plain opens path with SQLite's own VFS: what readers, the checkpointer and
// the next process see.
func plain(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// insertRows commits one transaction of n rows of size bytes each.
func insertRows(t *testing.T, db *sql.DB, from, n, size int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if _, err := tx.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, strings.Repeat(fmt.Sprint(i%10), size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// checkRows fails unless db holds exactly ids 0..n-1, each with its value.
func checkRows(t *testing.T, db *sql.DB, n, size int) {
	t.Helper()
	var count, bad int
	if err := db.QueryRow(`SELECT count(*), coalesce(sum(v <> substr(replace(hex(zeroblob(?)), '00', id % 10), 1, ?)), 0) FROM t`, size, size).Scan(&count, &bad); err != nil {
		t.Fatal(err)
	}
	if count != n || bad != 0 {
		t.Fatalf("rows: %d (want %d), %d with a wrong value", count, n, bad)
	}
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

// A commit of many pages reaches the file in one write, and a connection
// through SQLite's own VFS sees it as soon as Commit returns.
func TestCommitIsOneWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := open(t, path)
	exec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	reader := plain(t, path)
	for round := range 5 {
		before := ReadStats()
		insertRows(t, db, round*40, 40, 900) // ~10 pages of rows, plus the b-tree's
		after := ReadStats()
		if got := after.Flushes - before.Flushes; got != 1 {
			t.Fatalf("round %d: %d writes of gathered frames, want 1 (stats %+v → %+v)", round, got, before, after)
		}
		if frames := (after.Appends - before.Appends) / 2; frames < 8 {
			t.Fatalf("round %d: only %d frames gathered (stats %+v → %+v)", round, frames, before, after)
		}
		if after.Backstops != before.Backstops {
			t.Fatalf("round %d: the backstop had to write frames: the commit frame was not recognised", round)
		}
		var n int
		if err := reader.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != (round+1)*40 {
			t.Fatalf("round %d: a plain reader counts %d rows (%v), want %d", round, n, err, (round+1)*40)
		}
	}
	checkRows(t, reader, 200, 900)
}

// Readers through SQLite's own VFS, reading while the writer commits, only
// ever see whole commits; the WAL left behind opens without this VFS.
func TestReadersSeeWholeCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := open(t, path)
	exec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	reader := plain(t, path)
	const commits, per, size = 60, 25, 700
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var n, bad int
				err := reader.QueryRow(`SELECT count(*), coalesce(sum(length(v) <> ?), 0) FROM t`, size).Scan(&n, &bad)
				if err != nil || n%per != 0 || bad != 0 {
					errs <- fmt.Errorf("reader saw %d rows (%d torn), err %v", n, bad, err)
					return
				}
			}
		})
	}
	for c := range commits {
		insertRows(t, db, c*per, per, size)
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	db.Close()
	checkRows(t, plain(t, path), commits*per, size)
}

// A transaction larger than SQLite's page cache writes frames before its
// commit and rewrites some in place; one larger than the buffer and than one
// write(2) goes out in pieces. Both leave a WAL SQLite's own VFS reads whole.
func TestSpillsRewritesAndLargeCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := open(t, path, "cache_size(10)")
	exec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	before := ReadStats()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		if _, err := tx.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, strings.Repeat("x", 900)); err != nil {
			t.Fatal(err)
		}
	}
	// Touch the first pages again after they spilled: their frames are
	// rewritten in place.
	if _, err := tx.Exec(`UPDATE t SET v = substr(replace(hex(zeroblob(900)), '00', id % 10), 1, 900)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	insertRows(t, db, 400, 6000, 900) // ~1,500 pages: more than 4 MiB and than 128 KiB
	after := ReadStats()
	if after.Direct == before.Direct {
		t.Fatalf("no frame was rewritten in place (stats %+v → %+v): the test did not reach that path", before, after)
	}
	db.Close()
	checkRows(t, plain(t, path), 6400, 900)
}

// After a checkpoint copied every frame, the next commit restarts the WAL
// from its start; what follows must be appended again, and read whole.
func TestRestartAfterCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := open(t, path)
	exec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	other := plain(t, path)
	n := 0
	for round := range 4 {
		insertRows(t, db, n, 100, 900)
		n += 100
		var busy, logged, copied int
		if err := other.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logged, &copied); err != nil || busy != 0 {
			t.Fatalf("round %d: checkpoint busy=%d err=%v", round, busy, err)
		}
		insertRows(t, db, n, 30, 900)
		n += 30
		checkRows(t, other, n, 900)
	}
	db.Close()
	checkRows(t, plain(t, path), n, 900)
}
