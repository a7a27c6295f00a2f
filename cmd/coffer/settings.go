package main

import (
	"fmt"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/config"
)

// Scopes say which commands read a setting (command.scope in commands.go).
const (
	forStore   config.Scope = 1 << iota // the commands that open the store: serve, merchant, keys
	forServe                            // serve alone
	forBackup                           // backup: where the store is, never a key
	forRestore                          // restore: the key to check the restored data against
)

// settings is every setting of Coffer, and the one place to add one. A row
// gives the flag name (also the config-file key), the environment variable,
// the default, the help line, the commands that read it, and the app.Config
// field its text goes to; the flag, the environment variable, the config
// file, every help text and `coffer config check` all follow from the row.
// A new setting is a field in app.Config and one row here, for instance:
//
//	{Name: "metrics-addr", Env: "COFFER_METRICS_ADDR", Usage: "…", Scope: forServe, Value: config.String(func(c *app.Config) *string { return &c.MetricsAddr })},
//
// Mark a secret Secret (or give it a Redact); names ending in "key" or
// containing secret, password or token are redacted anyway. A secret is
// NoFlag: a flag's value shows in every process listing.
var settings = []config.Setting[app.Config]{
	{Name: "addr", Env: "COFFER_ADDR", Default: "127.0.0.1:8080", Usage: "listen address (host:port)", Scope: forServe, Check: config.HostPort,
		Value: config.String(func(c *app.Config) *string { return &c.Addr })},
	{Name: "public-url", Env: "COFFER_PUBLIC_URL", Usage: "base URL card holders' browsers reach this server at (3-D Secure and checkout pages); default http://<addr>",
		Scope: forServe, Check: config.HTTPURL, Value: config.String(func(c *app.Config) *string { return &c.PublicURL })},
	{Name: "data", Env: "COFFER_DATA", Default: "./coffer-data", Usage: "data folder: the SQLite database and the development key file",
		Scope: forStore | forBackup, Value: config.String(func(c *app.Config) *string { return &c.DataDir })},
	{Name: "database-url", Env: "COFFER_DATABASE_URL", Usage: "PostgreSQL URL (postgres://user:password@host/db); SQLite in the data folder when empty",
		Scope: forStore | forBackup, Redact: config.RedactURL, Value: config.String(func(c *app.Config) *string { return &c.DatabaseURL })},
	{Name: "master-key", Env: "COFFER_MASTER_KEY", Usage: "the KEK: base64 of 32 random bytes, or 1:<b64>,2:<b64> for several versions",
		Scope: forStore | forRestore, Secret: true, NoFlag: true, Value: config.String(func(c *app.Config) *string { return &c.MasterKey })},
	{Name: "key-file", Env: "COFFER_KEY_FILE", Usage: "KEK file, never created when named (default: the development key file master.key in the data folder)",
		Scope: forStore | forRestore, Value: config.String(func(c *app.Config) *string { return &c.KeyFile })},
	{Name: "metrics-addr", Env: "COFFER_METRICS_ADDR", Usage: "Prometheus /metrics listen address (host:port), a listener apart from --addr; off when empty",
		Scope: forServe, Check: config.HostPort, Value: config.String(func(c *app.Config) *string { return &c.MetricsAddr })},
	{Name: "rate-limit", Env: "COFFER_RATE_LIMIT", Default: "0", Usage: "requests a second each API key may make of the native API on this instance (bursts of twice as many); 0 for no limit",
		Scope: forServe, Check: config.NonNegative, Value: config.Int(func(c *app.Config) *int { return &c.RateLimit })},
	{Name: "webhooks-allow-private", Env: "COFFER_WEBHOOKS_ALLOW_PRIVATE", Usage: "let webhooks and callbacks reach private and loopback addresses (default: true only in the development set-up, without a KEK)",
		Scope: forStore, Value: config.OptionalBool(func(c *app.Config) **bool { return &c.WebhooksAllowPrivate })},
	// tls-key names a file, yet its name ends in "key", so config check
	// hides it; left so on purpose (see config.secretName).
	{Name: "tls-cert", Env: "COFFER_TLS_CERT", Usage: "PEM certificate (chain) file: serve HTTPS with HTTP/2, TLS 1.2 at least; both files are read again on SIGHUP (with --tls-key)",
		Scope: forServe, Value: config.String(func(c *app.Config) *string { return &c.TLSCert })},
	{Name: "tls-key", Env: "COFFER_TLS_KEY", Usage: "PEM private key file of --tls-cert (both or neither)",
		Scope: forServe, Value: config.String(func(c *app.Config) *string { return &c.TLSKey })},
}

// checkTogether refuses settings that are each valid but do not work
// together, naming them and where each came from; it runs after Resolve,
// before the command touches anything. Half a TLS set-up must not start a
// plain HTTP server its operator believes is HTTPS.
func checkTogether(cfg *app.Config, res config.Resolution) error {
	if (cfg.TLSCert == "") == (cfg.TLSKey == "") {
		return nil
	}
	given, missing := "tls-cert", "tls-key"
	if cfg.TLSCert == "" {
		given, missing = missing, given
	}
	set := "--" + given + " is set"
	if from := origin(res, given); from != "--"+given {
		set += " (from " + from + ")"
	}
	return fmt.Errorf("--tls-cert and --tls-key go together: %s but --%s is not; give both or neither", set, missing)
}

// origin is where a resolved setting's value came from.
func origin(res config.Resolution, name string) string {
	for _, r := range res.Values {
		if r.Name == name {
			return r.From
		}
	}
	return "nowhere"
}
