package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/backup"
)

// backupCmd is `coffer backup --out FILE`; the data folder is the data
// setting, as for serve.
func backupCmd(fs *flag.FlagSet) runFunc {
	out := fs.String("out", "", "backup file to write (required; replaced atomically, never inside the data folder)")
	return func(ctx context.Context, inv *invocation) error {
		if *out == "" {
			return usageErrorf("backup: --out is required")
		}
		r, err := app.Backup(ctx, *inv.cfg, *out)
		if err != nil {
			return err
		}
		var files []string
		for _, f := range r.Manifest.Files {
			files = append(files, fmt.Sprintf("%s (%d bytes)", f.Name, f.Size))
		}
		w := inv.stdout
		fmt.Fprintf(w, "backup written to %s: %s\n", *out, strings.Join(files, ", "))
		printNeeds(w, r.Manifest)
		fmt.Fprintln(w, "the master key is not in the backup: keep it apart from the backup, as safe as the backup itself")
		if r.DevKeyFile != "" {
			fmt.Fprintf(w, "WARNING: this data is sealed under the DEVELOPMENT key file %s, which is not in the backup: "+
				"copy it somewhere safe separately, or the backup cannot be opened\n", r.DevKeyFile)
		}
		return nil
	}
}

// restoreCmd is `coffer restore --data NEWDIR --from FILE`. Its --data is
// its own flag, not the data setting: the folder restored into is named on
// purpose, never taken from COFFER_DATA or a config file meant for serve.
func restoreCmd(fs *flag.FlagSet) runFunc {
	data := fs.String("data", "", "new data folder to restore into, absent or empty (required; not read from COFFER_DATA or the config file)")
	from := fs.String("from", "", "backup file written by coffer backup (required)")
	return func(ctx context.Context, inv *invocation) error {
		switch {
		case *data == "":
			return usageErrorf("restore: --data is required (the new folder to restore into)")
		case *from == "":
			return usageErrorf("restore: --from is required (the backup file)")
		}
		inv.cfg.DataDir = *data
		r, err := app.Restore(ctx, *inv.cfg, *from)
		if err != nil {
			if r != nil && r.Manifest != nil {
				printNeeds(inv.stderr, r.Manifest)
			}
			return err
		}
		m, w := r.Manifest, inv.stdout
		fmt.Fprintf(w, "restored %s into %s (backup of %s, coffer %s, schema version %d)\n",
			*from, *data, m.Created.Format("2006-01-02T15:04:05Z07:00"), m.CofferVersion, m.SchemaVersion)
		printNeeds(w, m)
		if r.KeyChecked != "" {
			fmt.Fprintf(w, "key check: passed (%s opens the data)\n", r.KeyChecked)
		} else {
			fmt.Fprintln(w, "key check: not done (no key given; set COFFER_MASTER_KEY or --key-file to check the key before restoring)")
		}
		return nil
	}
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
