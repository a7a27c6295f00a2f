package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/backup"
)

// backupCmd is `coffer backup --data DIR --out FILE`.
func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "COFFER_DATA", "./coffer-data"), "data folder holding the SQLite store (COFFER_DATA)")
	out := fs.String("out", "", "backup file to write (replaced atomically; never inside the data folder)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "coffer backup: --out is required\n"+usage)
		return usageError{errors.New("backup: --out is required")}
	}
	r, err := app.Backup(ctx, app.Config{DataDir: *data, Stdout: stdout, Stderr: stderr}, *out)
	if err != nil {
		return err
	}
	var files []string
	for _, f := range r.Manifest.Files {
		files = append(files, fmt.Sprintf("%s (%d bytes)", f.Name, f.Size))
	}
	fmt.Fprintf(stdout, "backup written to %s: %s\n", *out, strings.Join(files, ", "))
	printNeeds(stdout, r.Manifest)
	fmt.Fprintln(stdout, "the master key is not in the backup: keep it apart from the backup, as safe as the backup itself")
	if r.DevKeyFile != "" {
		fmt.Fprintf(stdout, "WARNING: this data is sealed under the DEVELOPMENT key file %s, which is not in the backup: "+
			"copy it somewhere safe separately, or the backup cannot be opened\n", r.DevKeyFile)
	}
	return nil
}

// restoreCmd is `coffer restore --data NEWDIR --from FILE [--key-file PATH]`.
func restoreCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := app.Config{Stdout: stdout, Stderr: stderr, MasterKey: getenv("COFFER_MASTER_KEY")}
	fs.StringVar(&cfg.DataDir, "data", "", "new data folder to restore into: absent or empty (required)")
	from := fs.String("from", "", "backup file written by `coffer backup` (required)")
	fs.StringVar(&cfg.KeyFile, "key-file", getenv("COFFER_KEY_FILE"), "KEK file to check the data against (or COFFER_MASTER_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.DataDir == "" || *from == "" {
		fmt.Fprintln(stderr, "coffer restore: --data and --from are required\n"+usage)
		return usageError{errors.New("restore: --data and --from are required")}
	}
	r, err := app.Restore(ctx, cfg, *from)
	if err != nil {
		if r != nil && r.Manifest != nil {
			printNeeds(stderr, r.Manifest)
		}
		return err
	}
	m := r.Manifest
	fmt.Fprintf(stdout, "restored %s into %s (backup of %s, coffer %s, schema version %d)\n",
		*from, cfg.DataDir, m.Created.Format("2006-01-02T15:04:05Z07:00"), m.CofferVersion, m.SchemaVersion)
	printNeeds(stdout, m)
	if r.KeyChecked != "" {
		fmt.Fprintf(stdout, "key check: passed (%s opens the data)\n", r.KeyChecked)
	} else {
		fmt.Fprintln(stdout, "key check: not done (no key given; set COFFER_MASTER_KEY or --key-file to check the key before restoring)")
	}
	return nil
}

// printNeeds says which master key versions a backup's data needs.
func printNeeds(w io.Writer, m *backup.Manifest) {
	var ids []string
	for _, k := range m.Keys {
		ids = append(ids, fmt.Sprintf("v%d %s", k.Version, k.CheckID))
	}
	if len(ids) == 0 {
		fmt.Fprintln(w, "needs no master key version yet (the store holds no key-check value)")
		return
	}
	fmt.Fprintf(w, "needs master key (KEK) version(s) %v; key-check ids: %s\n", m.Needs(), strings.Join(ids, ", "))
}
