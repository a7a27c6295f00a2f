// Package backup writes and reads Coffer's backup of the embedded SQLite
// store: ONE file, an uncompressed tar whose first entry is manifest.json,
// followed by the database (coffer.db) and, when the data folder has one,
// the built-in test acquirer's journal.
//
// The database is a consistent snapshot taken online, while a server keeps
// writing: VACUUM INTO through a read-only connection, which copies what one
// read transaction sees. The journal is copied after the snapshot (so every
// authorization the database refers to is in it) and only up to its last
// complete line (a line being appended is a call that has not returned).
//
// Nothing else of the data folder is taken: never the development key file,
// and never any key. Card data in the database stays sealed under data keys
// that are themselves wrapped by the master key, so a backup is useless
// without that key, which the operator keeps elsewhere. The manifest records
// which key versions the data needs (with a short key-check id per version)
// so the right key can be found at restore time.
//
// The tar is uncompressed on purpose: sealed data does not compress, and
// the file stays inspectable with `tar tf` and greppable for leaks.
package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver VACUUM INTO and integrity_check run on

	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

// Format and FormatVersion identify a Coffer backup's manifest.
const (
	Format        = "coffer-backup"
	FormatVersion = 1
	// ManifestName is the tar entry that comes first.
	ManifestName = "manifest.json"
	// maxManifest bounds what restore reads before trusting the file.
	maxManifest = 1 << 20
)

// ErrNoDatabase means the data folder holds no SQLite database to back up.
var ErrNoDatabase = errors.New("no SQLite database")

// Manifest describes a backup: what it holds and what it needs.
type Manifest struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	Created       time.Time `json:"created"`
	CofferVersion string    `json:"coffer_version"`
	Store         string    `json:"store"`
	// SchemaVersion is the database's last migration.
	SchemaVersion int `json:"schema_version"`
	// Keys are the master key (KEK) versions the store recorded a key-check
	// value for, each with a short id of that value.
	Keys []KeyVersion `json:"kek_versions"`
	// InUse are the KEK versions data keys are wrapped under: the key ring
	// a restored server starts with must hold every one of them.
	InUse []uint32 `json:"kek_versions_in_use"`
	Files []File   `json:"files"`
}

// KeyVersion is one KEK version and the first bytes of its key-check value
// (an HMAC of a fixed label under the key: it identifies a key, it cannot
// open anything).
type KeyVersion struct {
	Version uint32 `json:"version"`
	CheckID string `json:"check_id"`
}

// File is one entry of the backup after the manifest.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Needs lists the KEK versions a key must hold to open the data: those data
// keys use, or, for a store that has none yet, those it has check values for.
func (m *Manifest) Needs() []uint32 {
	if len(m.InUse) > 0 {
		return m.InUse
	}
	var v []uint32
	for _, k := range m.Keys {
		v = append(v, k.Version)
	}
	return v
}

// CheckID is the short id of a key-check value the manifest records.
func CheckID(check []byte) string {
	if len(check) > 8 {
		check = check[:8]
	}
	return hex.EncodeToString(check)
}

// Options say what Create backs up and where.
type Options struct {
	DataDir string // holds sqlite.FileName
	Out     string // the backup file, replaced atomically
	// Journals are append-only line files of the data folder to include
	// when present (the simulator's journal), cut at their last newline.
	Journals      []string
	CofferVersion string
}

// Create writes a backup of the store in o.DataDir to o.Out: into a
// temporary file beside it, synced, then renamed, so o.Out is either the
// previous file or a complete new one. An existing o.Out is replaced only if
// it is itself a Coffer backup.
func Create(ctx context.Context, o Options) (*Manifest, error) {
	db := filepath.Join(o.DataDir, sqlite.FileName)
	if fi, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (a PostgreSQL deployment is backed up with pg_dump: see docs/production.md)", ErrNoDatabase, o.DataDir)
	} else if err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", db)
	}
	if err := checkOut(o.DataDir, o.Out); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(o.Out), ".coffer-backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(work)
	snap := filepath.Join(work, sqlite.FileName)
	if err := snapshot(ctx, db, snap); err != nil {
		return nil, err
	}
	if err := integrity(ctx, snap); err != nil {
		return nil, fmt.Errorf("backup: the snapshot failed its integrity check: %w", err)
	}
	m, err := describe(ctx, work)
	if err != nil {
		return nil, err
	}
	m.CofferVersion = o.CofferVersion
	names := []string{sqlite.FileName}
	for _, j := range o.Journals {
		ok, err := copyLines(filepath.Join(o.DataDir, j), filepath.Join(work, j))
		if err != nil {
			return nil, fmt.Errorf("backup: %s: %w", j, err)
		}
		if ok {
			names = append(names, j)
		}
	}
	for _, n := range names {
		f, err := hashFile(filepath.Join(work, n))
		if err != nil {
			return nil, err
		}
		f.Name = n
		m.Files = append(m.Files, f)
	}
	if err := writeArchive(o.Out, work, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkOut refuses an output inside the data folder (a backup beside the
// data is lost with it, and a wrong --out could name the database itself)
// and an existing file that is not a Coffer backup.
func checkOut(dataDir, out string) error {
	if out == "" {
		return errors.New("backup: no output file")
	}
	absData, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if d, err := filepath.EvalSymlinks(absData); err == nil {
		absData = d
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(absOut)); err == nil {
		absOut = filepath.Join(d, filepath.Base(absOut))
	}
	if rel, err := filepath.Rel(absData, absOut); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("backup: the output %s is inside the data folder %s; write it elsewhere", out, dataDir)
	}
	if fi, err := os.Lstat(out); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("backup: %s exists and is not a regular file", out)
		}
		if _, err := ReadManifest(out); err != nil {
			return fmt.Errorf("backup: %s exists and is not a Coffer backup; refusing to replace it", out)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// snapshot copies the database at src to dst with VACUUM INTO, through a
// read-only connection: one read transaction, so a consistent state however
// many commits happen meanwhile, and no lock a writer waits on.
func snapshot(ctx context.Context, src, dst string) error {
	// SQLite creates the target with the default mode; an empty file made
	// here first keeps it private from the start.
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	db, err := sql.Open("sqlite", "file:"+src+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("backup: copying %s: %w", src, err)
	}
	// VACUUM INTO does not sync what it wrote.
	return syncFile(dst)
}

// openReadOnly opens a database file nobody else writes (a snapshot, a
// restored copy) without creating anything beside it.
func openReadOnly(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// integrity runs PRAGMA integrity_check on the database file at path.
func integrity(ctx context.Context, path string) error {
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity_check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// describe builds the manifest of the snapshot in dir: its schema version
// and the key versions it needs.
func describe(ctx context.Context, dir string) (*Manifest, error) {
	m := &Manifest{Format: Format, Version: FormatVersion, Created: time.Now().UTC().Truncate(time.Second), Store: "sqlite"}
	db, err := openReadOnly(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		return nil, err
	}
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&m.SchemaVersion)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("backup: schema version: %w", err)
	}
	checks, sample, _, err := sqlite.PeekKeys(ctx, dir)
	if err != nil {
		return nil, err
	}
	for v, c := range checks {
		m.Keys = append(m.Keys, KeyVersion{Version: v, CheckID: CheckID(c)})
	}
	slices.SortFunc(m.Keys, func(a, b KeyVersion) int { return int(a.Version) - int(b.Version) })
	for _, dk := range sample {
		if !slices.Contains(m.InUse, dk.KEKVersion) {
			m.InUse = append(m.InUse, dk.KEKVersion)
		}
	}
	slices.Sort(m.InUse)
	return m, nil
}

// copyLines copies src to dst up to and including its last newline; false
// when src does not exist.
func copyLines(src, dst string) (bool, error) {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, errors.New("not a regular file")
	}
	n, err := lastNewline(in, fi.Size())
	if err != nil {
		return false, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(out, io.NewSectionReader(in, 0, n)); err != nil {
		out.Close()
		return false, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return false, err
	}
	return true, out.Close()
}

// lastNewline is the length of f's first size bytes cut just after their
// last '\n' (0 when there is none).
func lastNewline(f io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

func hashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeArchive writes the manifest and m.Files (read from dir) as a tar to
// a temporary file beside out, syncs it and renames it over out.
func writeArchive(out, dir string, m *Manifest) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".coffer-backup-*.tmp")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	mb = append(mb, '\n')
	if err := writeEntry(tw, ManifestName, int64(len(mb)), m.Created, bytes.NewReader(mb)); err != nil {
		return err
	}
	for _, f := range m.Files {
		in, err := os.Open(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		err = writeEntry(tw, f.Name, f.Size, m.Created, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done = true
	return syncDir(filepath.Dir(out))
}

func writeEntry(tw *tar.Writer, name string, size int64, mod time.Time, r io.Reader) error {
	h := &tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: mod, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	if n, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	} else if n != size {
		return fmt.Errorf("backup: %s changed while being written (%d bytes, want %d)", name, n, size)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
