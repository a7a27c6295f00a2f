package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coffer-vault/coffer/internal/backup"
	"github.com/coffer-vault/coffer/internal/keys"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/vault"
)

// BackupResult is what `coffer backup` reports.
type BackupResult struct {
	Manifest *backup.Manifest
	// DevKeyFile is the development key file the data is sealed under, when
	// the folder has one: it is not in the backup and must be kept apart.
	DevKeyFile string
}

// Backup writes a backup of the SQLite store in c.DataDir to out while a
// server may be running on it. It needs no key: it copies sealed data and
// never reads or includes a key.
func Backup(ctx context.Context, c Config, out string) (*BackupResult, error) {
	if c.DatabaseURL != "" {
		return nil, errors.New("backup: database-url names a PostgreSQL store; back it up with pg_dump (see docs/production.md): " +
			"coffer backup copies the embedded SQLite store only")
	}
	if c.DataDir == "" {
		return nil, errors.New("no data folder: set --data or COFFER_DATA")
	}
	m, err := backup.Create(ctx, backup.Options{DataDir: c.DataDir, Out: out, Journals: []string{SimulatorJournal}, CofferVersion: Version})
	if err != nil {
		return nil, err
	}
	r := &BackupResult{Manifest: m}
	if dev := filepath.Join(c.DataDir, DevKeyFile); fileExists(dev) {
		r.DevKeyFile = dev
	}
	return r, nil
}

// RestoreResult is what `coffer restore` reports.
type RestoreResult struct {
	Manifest *backup.Manifest
	// KeyChecked names the key the restored data was checked against
	// ("COFFER_MASTER_KEY", a key file); empty when no key was given.
	KeyChecked string
}

// Restore unpacks the backup at from into the new data folder c.DataDir.
// When a key is configured (c.MasterKey or c.KeyFile) the restore goes
// ahead only if that key opens the data; without one it restores and says
// which key versions the data needs.
func Restore(ctx context.Context, c Config, from string) (*RestoreResult, error) {
	res := &RestoreResult{}
	var kp *keys.Provider
	if c.MasterKey != "" || c.KeyFile != "" {
		// Never the development key file: a restore creates no key.
		src, err := keySource(&c, false)
		if err != nil {
			return nil, err
		}
		if kp, err = src.provider(); err != nil {
			return nil, err
		}
	}
	verify := func(ctx context.Context, dir string, m *backup.Manifest) error {
		if err := checkJournal(dir); err != nil {
			return err
		}
		if kp == nil {
			return nil
		}
		checks, sample, _, err := sqlite.PeekKeys(ctx, dir)
		if err != nil {
			return err
		}
		if err := vault.VerifyRing(kp.Ring(), checks, sample); err != nil {
			return fmt.Errorf("nothing restored: %w (the backup needs KEK version(s) %v)", keyError(kp, err), m.Needs())
		}
		res.KeyChecked = kp.String()
		return nil
	}
	m, err := backup.Restore(ctx, backup.RestoreOptions{From: from, DataDir: c.DataDir, Journals: []string{SimulatorJournal}, Verify: verify})
	res.Manifest = m
	return res, err
}

// checkJournal reads a restored simulator journal of an older version, if
// any, so a damaged one is found now rather than when a server starts on it
// and imports it into the store.
func checkJournal(dir string) error {
	if err := simulator.CheckJournal(filepath.Join(dir, SimulatorJournal)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
