package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/bench"
	"github.com/coffer-vault/coffer/internal/config"
)

// command is one coffer command. The dispatch and every help text come
// from the commands table, so a command cannot be run without being listed.
type command struct {
	name    string // "merchant create"; a two-word name makes "merchant" a group
	args    string // what the synopsis shows after the name
	summary string
	scope   config.Scope // the settings it reads (settings.go); 0 for none
	// setup declares the command's own flags on fs and returns what runs
	// it once every flag and setting is parsed. The runner checks its own
	// flags before it touches the disk.
	setup func(fs *flag.FlagSet) runFunc
}

type runFunc func(ctx context.Context, inv *invocation) error

// invocation is a command's parsed configuration.
type invocation struct {
	cfg            *app.Config
	res            config.Resolution
	stdout, stderr io.Writer
}

// commands is filled in init: the help it drives refers to it.
var commands []*command

func init() {
	commands = []*command{
		{name: "serve", summary: "run the API server; the development set-up (SQLite, no key configured) makes a key file and a merchant and prints its keys",
			scope: forStore | forServe, setup: noFlags(func(ctx context.Context, inv *invocation) error { return app.Serve(ctx, *inv.cfg) })},
		{name: "merchant create", args: "--name NAME", summary: "add a merchant and print its keys (shown only this once)", scope: forStore, setup: merchantCreate},
		{name: "merchant update", args: "--id mer_…", summary: "change a merchant's settings (only the flags given)", scope: forStore, setup: merchantUpdate},
		{name: "merchant list", summary: "list the merchants, each key shown only as its prefix and last four characters", scope: forStore, setup: merchantList},
		{name: "merchant roll-key", args: "--merchant mer_… --type secret|publishable|hmac", scope: forStore, setup: merchantRollKey,
			summary: "replace a merchant's key and print the new one (shown only this once); the key replaced keeps working for --expires-in"},
		{name: "user create", args: "--merchant mer_… --email EMAIL --password-stdin", scope: forStore, setup: userCreate,
			summary: "add a dashboard user to a merchant; the password is read from stdin and kept only as an argon2id hash"},
		{name: "keys rotate", summary: "add a KEK version to the key file and rewrap every data key under it; safe while servers run", scope: forStore, setup: noFlags(keysRotate)},
		{name: "keys rewrap", summary: "rewrap every data key under the current KEK (after adding a version to COFFER_MASTER_KEY)", scope: forStore, setup: noFlags(keysRewrap)},
		{name: "bench", summary: "load-test a server, or an embedded one on a temporary folder; scenarios: " + strings.Join(bench.Scenarios, ", "), setup: benchCmd},
		{name: "backup", args: "--out FILE", summary: "copy the SQLite store, consistent, while servers run on it; never a key (PostgreSQL: pg_dump)",
			scope: forBackup, setup: backupCmd},
		{name: "restore", args: "--data NEWDIR --from FILE", summary: "unpack a backup into a new data folder, checking its integrity and, given a key, that the key opens the data",
			scope: forRestore, setup: restoreCmd},
		{name: "config check", summary: "print the effective settings and where each came from, secrets redacted", scope: forStore | forServe, setup: noFlags(configCheck)},
		{name: "version", summary: "print the version", setup: noFlags(func(_ context.Context, inv *invocation) error {
			fmt.Fprintln(inv.stdout, "coffer", app.Version)
			return nil
		})},
	}
}

// noFlags is the setup of a command without flags of its own.
func noFlags(run runFunc) func(*flag.FlagSet) runFunc {
	return func(*flag.FlagSet) runFunc { return run }
}

// find is the command of that name, or nil.
func find(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// subcommands are the commands of a group ("merchant": create, update, list, roll-key).
func subcommands(group string) []*command {
	var out []*command
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			out = append(out, c)
		}
	}
	return out
}

func keysRotate(ctx context.Context, inv *invocation) error {
	v, n, err := app.RotateKeys(ctx, *inv.cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.stdout, "KEK version %d is now current; rewrapped %d data keys\n", v, n)
	return nil
}

func keysRewrap(ctx context.Context, inv *invocation) error {
	n, err := app.Rewrap(ctx, *inv.cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.stdout, "rewrapped %d data keys\n", n)
	return nil
}

// configCheck prints the effective settings as config-file lines, each
// with where its value came from; secrets are redacted, so the output is
// safe to paste but not to use as a config file as it is.
func configCheck(_ context.Context, inv *invocation) error {
	w := inv.stdout
	fmt.Fprintln(w, "# effective settings (flag > environment variable > config file > default); secrets redacted")
	if inv.res.File != "" {
		fmt.Fprintf(w, "# config file: %s (from %s)\n", inv.res.File, inv.res.FileFrom)
	} else {
		fmt.Fprintf(w, "# config file: none (--config or %s)\n", config.ConfigEnv)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range inv.res.Values {
		from := r.From
		if r.Source == config.FromDefault && r.Value == "" {
			from = "default (not set)"
		}
		fmt.Fprintf(tw, "%s = %s\t# %s\n", r.Name, r.Shown(), from)
	}
	return tw.Flush()
}
