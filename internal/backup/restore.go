package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

// RestoreOptions say what Restore reads and where it puts it.
type RestoreOptions struct {
	From    string // the backup file
	DataDir string // the new data folder: absent or empty
	// Journals are the names a backup may hold besides the database.
	Journals []string
	// Verify, when set, checks the restored files in dir (not yet in place)
	// against what the operator has, e.g. that the master key opens them; an
	// error abandons the restore.
	Verify func(ctx context.Context, dir string, m *Manifest) error
}

// Restore unpacks a backup into a new data folder. Everything is written
// into a temporary folder beside it, checked (sizes and digests against the
// manifest, PRAGMA integrity_check, o.Verify), and only then renamed into
// place: a failed restore leaves no data folder behind.
func Restore(ctx context.Context, o RestoreOptions) (*Manifest, error) {
	if o.DataDir == "" || o.From == "" {
		return nil, errors.New("restore: a backup file and a new data folder are required")
	}
	dir := filepath.Clean(o.DataDir)
	exists, err := checkTarget(dir)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	staging, err := os.MkdirTemp(parent, ".coffer-restore-")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	placed := false
	defer func() {
		if !placed {
			os.RemoveAll(staging)
		}
	}()
	m, err := extract(o.From, staging, o.Journals)
	if err != nil {
		return nil, err
	}
	if err := integrity(ctx, filepath.Join(staging, sqlite.FileName)); err != nil {
		return m, fmt.Errorf("restore: the database in %s failed its integrity check: %w", o.From, err)
	}
	if o.Verify != nil {
		if err := o.Verify(ctx, staging, m); err != nil {
			return m, err
		}
	}
	if exists {
		// Empty (checked above); rename does not replace a directory.
		if err := os.Remove(dir); err != nil {
			return m, fmt.Errorf("restore: %s: %w", dir, err)
		}
	}
	if err := os.Rename(staging, dir); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	placed = true
	return m, syncDir(parent)
}

// checkTarget accepts a folder that does not exist or is empty.
func checkTarget(dir string) (exists bool, err error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("restore: %s exists and is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("restore: %s is not empty; restore into a new or empty folder", dir)
	}
	return true, nil
}

// ReadManifest reads and checks the manifest at the start of a backup file.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readManifest(tar.NewReader(f), path)
}

func readManifest(tr *tar.Reader, path string) (*Manifest, error) {
	notBackup := fmt.Errorf("%s is not a Coffer backup", path)
	h, err := tr.Next()
	if err != nil || h.Name != ManifestName || h.Typeflag != tar.TypeReg || h.Size > maxManifest {
		return nil, notBackup
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, maxManifest)).Decode(&m); err != nil || m.Format != Format {
		return nil, notBackup
	}
	if m.Version != FormatVersion {
		return nil, fmt.Errorf("%s is a Coffer backup of format version %d; this coffer reads version %d", path, m.Version, FormatVersion)
	}
	if m.Store != "sqlite" {
		return nil, fmt.Errorf("%s holds a %q store; this coffer restores sqlite backups", path, m.Store)
	}
	return &m, nil
}

// extract writes the files of the backup at from into dir, checking each
// against the manifest: a known name, once, with its size and digest.
func extract(from, dir string, journals []string) (*Manifest, error) {
	f, err := os.Open(from)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	m, err := readManifest(tr, from)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	allowed := append([]string{sqlite.FileName}, journals...)
	want := map[string]File{}
	for _, e := range m.Files {
		if !slices.Contains(allowed, e.Name) {
			return m, fmt.Errorf("restore: %s lists an unexpected file %q", from, e.Name)
		}
		want[e.Name] = e
	}
	if _, ok := want[sqlite.FileName]; !ok {
		return m, fmt.Errorf("restore: %s holds no database", from)
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return m, fmt.Errorf("restore: %s is damaged: %w", from, err)
		}
		e, ok := want[h.Name]
		if !ok || h.Typeflag != tar.TypeReg {
			return m, fmt.Errorf("restore: %s holds an unexpected or repeated entry %q", from, h.Name)
		}
		delete(want, h.Name)
		if err := extractFile(tr, filepath.Join(dir, e.Name), e); err != nil {
			return m, fmt.Errorf("restore: %s: %s: %w", from, e.Name, err)
		}
	}
	if len(want) > 0 {
		return m, fmt.Errorf("restore: %s is incomplete: %s missing", from, strings.Join(slices.Sorted(maps.Keys(want)), ", "))
	}
	return m, syncDir(dir)
}

func extractFile(r io.Reader, path string, e File) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, e.Size+1))
	if err != nil {
		return err
	}
	if n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return errors.New("does not match the manifest (size or SHA-256): the backup is damaged")
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}
