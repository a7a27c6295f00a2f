package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/scratch"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

const journal = "simulator.journal"

// newStore makes a migrated, closed SQLite store in a new folder.
func newStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o700)
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return dir
}

// TestRoundTrip: a journal is taken up to its last complete line, the
// files come back byte for byte, and nothing but the database and the
// journal is taken from the folder.
func TestRoundTrip(t *testing.T) {
	data := newStore(t)
	lines := "{\"journal\":\"coffer-simulator\"}\n{\"op\":\"void\"}\n"
	os.WriteFile(filepath.Join(data, journal), []byte(lines+"{\"op\":\"tor"), 0o600)
	os.WriteFile(filepath.Join(data, "master.key"), []byte("SECRET-KEY-FILE"), 0o600)
	out := filepath.Join(t.TempDir(), "b.backup")
	m, err := Create(context.Background(), Options{DataDir: data, Out: out, Journals: []string{journal}, CofferVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 2 || m.Files[1].Name != journal || m.Files[1].Size != int64(len(lines)) || m.SchemaVersion == 0 {
		t.Fatalf("manifest %+v", m)
	}
	raw, _ := os.ReadFile(out)
	if bytes.Contains(raw, []byte("SECRET-KEY-FILE")) {
		t.Fatal("the backup holds the key file")
	}
	// Replacing a backup with a new one is allowed.
	if _, err := Create(context.Background(), Options{DataDir: data, Out: out, Journals: []string{journal}}); err != nil {
		t.Fatalf("replacing a backup: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(context.Background(), RestoreOptions{From: out, DataDir: dst, Journals: []string{journal}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, journal)); string(b) != lines {
		t.Errorf("restored journal %q, want %q", b, lines)
	}
	entries, _ := os.ReadDir(dst)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{sqlite.FileName, journal}) {
		t.Errorf("restored %v", names)
	}
	if err := integrity(context.Background(), filepath.Join(dst, sqlite.FileName)); err != nil {
		t.Error(err)
	}
}

// entry is one tar entry of a crafted archive.
type entry struct {
	name string
	body []byte
}

func craft(t *testing.T, m Manifest, entries ...entry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mb, _ := json.Marshal(m)
	for _, e := range append([]entry{{ManifestName, mb}}, entries...) {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.body)), Typeflag: tar.TypeReg})
		tw.Write(e.body)
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "crafted.backup")
	os.WriteFile(p, buf.Bytes(), 0o600)
	return p
}

func fileOf(name string, b []byte) File {
	h := sha256.Sum256(b)
	return File{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(h[:])}
}

// TestRestoreRefusesCrafted: names outside the expected set, entries the
// manifest does not list, repeated or missing entries, wrong digests and
// other format versions are refused, and no folder is left behind.
func TestRestoreRefusesCrafted(t *testing.T) {
	db := []byte("not really a database")
	base := Manifest{Format: Format, Version: FormatVersion, Store: "sqlite"}
	with := func(files ...File) Manifest { m := base; m.Files = files; return m }
	cases := map[string]struct {
		m       Manifest
		entries []entry
		want    string
	}{
		"escaping name":   {with(fileOf(sqlite.FileName, db), fileOf("../evil", db)), []entry{{sqlite.FileName, db}, {"../evil", db}}, "unexpected file"},
		"key file listed": {with(fileOf(sqlite.FileName, db), fileOf("master.key", db)), []entry{{sqlite.FileName, db}, {"master.key", db}}, "unexpected file"},
		"unlisted entry":  {with(fileOf(sqlite.FileName, db)), []entry{{sqlite.FileName, db}, {journal, db}}, "unexpected or repeated"},
		"repeated entry":  {with(fileOf(sqlite.FileName, db)), []entry{{sqlite.FileName, db}, {sqlite.FileName, db}}, "unexpected or repeated"},
		"missing entry":   {with(fileOf(sqlite.FileName, db), fileOf(journal, db)), []entry{{sqlite.FileName, db}}, "missing"},
		"no database":     {with(fileOf(journal, db)), []entry{{journal, db}}, "no database"},
		"wrong digest":    {with(fileOf(sqlite.FileName, []byte("other"))), []entry{{sqlite.FileName, db}}, "damaged"},
		"not sqlite":      {with(fileOf(sqlite.FileName, db)), []entry{{sqlite.FileName, db}}, "integrity"},
		"newer format":    {func() Manifest { m := with(fileOf(sqlite.FileName, db)); m.Version = 2; return m }(), []entry{{sqlite.FileName, db}}, "format version 2"},
		"other store":     {func() Manifest { m := with(fileOf(sqlite.FileName, db)); m.Store = "postgres"; return m }(), []entry{{sqlite.FileName, db}}, "postgres"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			from := craft(t, c.m, c.entries...)
			parent := t.TempDir()
			dst := filepath.Join(parent, "restored")
			_, err := Restore(context.Background(), RestoreOptions{From: from, DataDir: dst, Journals: []string{journal}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestCreateRefuses: no database, an output inside the data folder, and an
// existing file that is not a backup.
func TestCreateRefuses(t *testing.T) {
	data := newStore(t)
	ctx := context.Background()
	if _, err := Create(ctx, Options{DataDir: t.TempDir(), Out: filepath.Join(t.TempDir(), "x")}); err == nil || !strings.Contains(err.Error(), "no SQLite database") {
		t.Errorf("no database: %v", err)
	}
	if _, err := Create(ctx, Options{DataDir: data, Out: filepath.Join(data, "sub", "..", "x.backup")}); err == nil || !strings.Contains(err.Error(), "inside the data folder") {
		t.Errorf("inside the data folder: %v", err)
	}
	other := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(other, []byte("keep"), 0o600)
	if _, err := Create(ctx, Options{DataDir: data, Out: other}); err == nil || !strings.Contains(err.Error(), "not a Coffer backup") {
		t.Errorf("over another file: %v", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "keep" {
		t.Error("another file was replaced")
	}
}

// TestRestoreTarget: an existing empty folder is used; a non-empty one or a
// file is refused.
func TestRestoreTarget(t *testing.T) {
	data := newStore(t)
	out := filepath.Join(t.TempDir(), "b.backup")
	if _, err := Create(context.Background(), Options{DataDir: data, Out: out}); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if _, err := Restore(context.Background(), RestoreOptions{From: out, DataDir: empty}); err != nil {
		t.Fatalf("into an empty folder: %v", err)
	}
	if _, err := Restore(context.Background(), RestoreOptions{From: out, DataDir: empty}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("into a non-empty folder: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Restore(context.Background(), RestoreOptions{From: out, DataDir: f}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("onto a file: %v", err)
	}
}

// FuzzExtract feeds arbitrary bytes to restore's reader of the backup
// file: an error or the files the manifest lists, never a panic, and
// nothing written outside the folder it was given.
func FuzzExtract(f *testing.F) {
	f.Add([]byte("not a tar"))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mb, _ := json.Marshal(Manifest{Format: Format, Version: FormatVersion, Store: "sqlite",
		Files: []File{fileOf(sqlite.FileName, []byte("x")), fileOf(journal, []byte("{}\n"))}})
	for _, e := range []entry{{ManifestName, mb}, {sqlite.FileName, []byte("x")}, {journal, []byte("{}\n")}} {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.body)), Typeflag: tar.TypeReg})
		tw.Write(e.body)
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		// In memory when there is room: extract syncs what it writes.
		parent, err := scratch.MkdirTemp("coffer-fuzz-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(parent)
		from := filepath.Join(parent, "in.backup")
		os.WriteFile(from, b, 0o600)
		dir := filepath.Join(parent, "out")
		os.Mkdir(dir, 0o700)
		m, err := extract(from, dir, []string{journal})
		if m == nil && err == nil {
			t.Fatal("no manifest and no error")
		}
		if left, _ := os.ReadDir(parent); len(left) != 2 {
			t.Fatalf("%d entries beside the target folder", len(left))
		}
		got, _ := os.ReadDir(dir)
		if err == nil && len(got) != len(m.Files) {
			t.Fatalf("extracted %d files, the manifest lists %d", len(got), len(m.Files))
		}
	})
}

// TestSnapshotWhileOpen backs up a store that is open and has just
// committed: the commit is still only in the WAL (the store checkpoints
// every 200 ms), and the backup must hold it all the same.
func TestSnapshotWhileOpen(t *testing.T) {
	ctx := context.Background()
	data := newStore(t)
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := filepath.Join(t.TempDir(), "b.backup")
	for v := uint32(1); v <= 3; v++ {
		check := []byte(fmt.Sprintf("check-value-%d", v))
		if err := st.Write(ctx, func(tx store.Tx) error { return tx.InsertKEKCheck(v, check, time.Now()) }); err != nil {
			t.Fatal(err)
		}
		m, err := Create(ctx, Options{DataDir: data, Out: out})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Keys) != int(v) || m.Keys[v-1] != (KeyVersion{Version: v, CheckID: CheckID(check)}) {
			t.Fatalf("after committing KEK check %d the backup lists %+v", v, m.Keys)
		}
	}
}
